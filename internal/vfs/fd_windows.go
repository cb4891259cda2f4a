package vfs

import (
	"os"

	"golang.org/x/sys/windows"
)

// withHandle runs fn on f's handle, keeping it from being closed while fn
// runs.
func withHandle(f *os.File, fn func(h windows.Handle) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(h uintptr) { fnErr = fn(windows.Handle(h)) }); err != nil {
		return err
	}
	return fnErr
}
