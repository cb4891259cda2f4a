//go:build unix

package vfs

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// fcntlLock applies a record lock of type typ (F_RDLCK, F_WRLCK or F_UNLCK)
// to [LockBase+off, LockBase+end) with cmd, which selects OFD or classic
// POSIX locks and whether to wait.
func fcntlLock(f *os.File, cmd int, typ int16, off, end int64) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: LockBase + off, Len: end - off}
	err := withFD(f, func(fd int) error {
		return retryEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmd, &lk) })
	})
	if err == unix.EAGAIN || err == unix.EACCES {
		return ErrLocked
	}
	return err
}

func fcntlType(mode LockMode) int16 {
	switch mode {
	case Shared:
		return unix.F_RDLCK
	case Exclusive:
		return unix.F_WRLCK
	}
	return unix.F_UNLCK
}
