package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFile uses fdatasync, which skips only metadata not needed to read the
// data back, such as times; a size change is still written.
func syncFile(f *os.File) error {
	return withFD(f, func(fd int) error {
		return retryEINTR(func() error { return unix.Fdatasync(fd) })
	})
}
