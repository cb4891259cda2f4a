package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFile uses F_FULLFSYNC: fsync on macOS only hands the data to the
// drive, which may keep it in a volatile cache.
func syncFile(f *os.File) error {
	return withFD(f, func(fd int) error {
		err := retryEINTR(func() error {
			_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
			return err
		})
		if err == unix.ENOTSUP || err == unix.EINVAL {
			// Some file systems (e.g. FAT, some external drives) lack
			// F_FULLFSYNC; fsync is the best they offer.
			return retryEINTR(func() error { return unix.Fsync(fd) })
		}
		return err
	})
}
