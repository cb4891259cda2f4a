package bench

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FSType names the file system dir is on. A benchmark on tmpfs or ramfs
// measures memory, not a disk.
func FSType(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	switch uint32(st.Type) {
	case unix.TMPFS_MAGIC:
		return "tmpfs", nil
	case unix.RAMFS_MAGIC:
		return "ramfs", nil
	case unix.EXT4_SUPER_MAGIC:
		return "ext4", nil // ext2 and ext3 share the number
	case unix.XFS_SUPER_MAGIC:
		return "xfs", nil
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs", nil
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs", nil
	case unix.F2FS_SUPER_MAGIC:
		return "f2fs", nil
	}
	return fmt.Sprintf("0x%x", st.Type), nil
}
