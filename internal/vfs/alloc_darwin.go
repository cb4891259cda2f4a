package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocate reserves space past the physical end of the file with
// F_PREALLOCATE, contiguous if the volume can, and then grows the size,
// which F_PREALLOCATE leaves alone. Space inside the current size is taken
// as already allocated.
func allocate(f *os.File, off, n int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	grow := off + n - st.Size()
	if grow <= 0 {
		return nil
	}
	err = withFD(f, func(fd int) error {
		var err error
		for _, flags := range []uint32{unix.F_ALLOCATECONTIG | unix.F_ALLOCATEALL, unix.F_ALLOCATEALL} {
			fst := unix.Fstore_t{Flags: flags, Posmode: unix.F_PEOFPOSMODE, Length: grow}
			if err = unix.FcntlFstore(uintptr(fd), unix.F_PREALLOCATE, &fst); err == nil {
				break
			}
		}
		return err
	})
	if err == unix.ENOTSUP {
		return growWithZeros(f, off, n)
	}
	if err != nil {
		return err
	}
	return f.Truncate(off + n)
}
