package vfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// networkFS names the file systems, by statfs magic, whose locks, mappings or
// syncs cannot be trusted to coordinate processes or reach the medium.
// FUSE is among them: it is how sshfs, GlusterFS and most network mounts
// reach Linux, and nothing tells the local ones apart.
var networkFS = map[uint32]string{
	unix.NFS_SUPER_MAGIC:  "nfs",
	unix.SMB_SUPER_MAGIC:  "smb",
	unix.SMB2_SUPER_MAGIC: "smb2",
	unix.CIFS_SUPER_MAGIC: "cifs",
	unix.V9FS_MAGIC:       "9p",
	unix.FUSE_SUPER_MAGIC: "fuse",
	unix.CEPH_SUPER_MAGIC: "ceph",
	unix.AFS_SUPER_MAGIC:  "afs",
	unix.AFS_FS_MAGIC:     "kafs",
	unix.CODA_SUPER_MAGIC: "coda",
	unix.NCP_SUPER_MAGIC:  "ncp",
	0x0BD00BD0:            "lustre",
	0x20030528:            "orangefs",
}

func checkNetworkFS(f *os.File, path string) error {
	var st unix.Statfs_t
	if err := withFD(f, func(fd int) error { return unix.Fstatfs(fd, &st) }); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	// Type is 32 bits wide on some architectures and sign extended on
	// others; the magics are 32 bits.
	magic := uint32(st.Type)
	if name, ok := networkFS[magic]; ok {
		return fmt.Errorf("%w: %s is on %s (%#x)", ErrNetworkFS, path, name, magic)
	}
	return nil
}
