//go:build unix

package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// withFD runs fn on f's descriptor. Unlike f.Fd, it keeps the descriptor
// from being closed, and its number reused, while fn runs.
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}

// retryEINTR repeats fn while a signal interrupts it. The Go runtime signals
// its threads routinely, and a lock wait or an allocation can be cut short.
func retryEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
