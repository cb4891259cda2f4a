package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocate uses fallocate with mode 0, which reserves the blocks and grows
// the size.
func allocate(f *os.File, off, n int64) error {
	err := withFD(f, func(fd int) error {
		return retryEINTR(func() error { return unix.Fallocate(fd, 0, off, n) })
	})
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return growWithZeros(f, off, n)
	}
	return err
}
