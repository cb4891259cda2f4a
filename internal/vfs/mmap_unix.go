//go:build unix

package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a region mapped by mmap, page aligned at its start.
type mapping []byte

// mapFile maps [off, off+n) of f shared and writable. mmap wants a page
// aligned offset, so the region starts at the page holding off, and only the
// asked-for bytes are handed out; the page size is 16 KiB on Apple silicon,
// so even 4 KiB aligned offsets need this.
func mapFile(f *os.File, off, n int64) (mapping, []byte, error) {
	skip := off % int64(os.Getpagesize())
	var m []byte
	err := withFD(f, func(fd int) (err error) {
		m, err = unix.Mmap(fd, off-skip, int(skip+n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return m, m[skip : skip+n : skip+n], nil
}

func (m mapping) unmap() error { return unix.Munmap(m) }
