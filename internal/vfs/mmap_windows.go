package vfs

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapping is the address of a mapped view.
type mapping uintptr

// allocGranularity is the alignment Windows demands of a view's file offset:
// 64 KiB on every version and architecture.
const allocGranularity = 64 << 10

// mapFile maps [off, off+n) of f shared and writable. The view starts at the
// allocation granule holding off, and only the asked-for bytes are handed
// out.
func mapFile(f *os.File, off, n int64) (mapping, []byte, error) {
	skip := off % allocGranularity
	base := off - skip
	var addr uintptr
	err := withHandle(f, func(h windows.Handle) error {
		// Size 0 sizes the section to the file, which Map has checked
		// covers the range.
		sec, err := windows.CreateFileMapping(h, nil, windows.PAGE_READWRITE, 0, 0, nil)
		if err != nil {
			return err
		}
		// The view holds the section open, so its handle can go now.
		defer windows.CloseHandle(sec)
		addr, err = windows.MapViewOfFile(sec, windows.FILE_MAP_WRITE, uint32(base>>32), uint32(base), uintptr(skip+n))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	// unsafe.Add from nil makes the view's address a pointer without the
	// uintptr conversion vet rightly distrusts; the view is outside the Go
	// heap, so nothing moves it.
	b := unsafe.Slice((*byte)(unsafe.Add(nil, addr)), skip+n)
	return mapping(addr), b[skip : skip+n : skip+n], nil
}

func (m mapping) unmap() error { return windows.UnmapViewOfFile(uintptr(m)) }
