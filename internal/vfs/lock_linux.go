package vfs

import "golang.org/x/sys/unix"

// fileLocks is empty on Linux: open-file-description locks are kept by the
// kernel with the open file, and go away when it is closed.
type fileLocks struct{}

func (f *osFile) lock(off, n int64, mode LockMode, wait bool) error {
	cmd := unix.F_OFD_SETLK
	if wait {
		cmd = unix.F_OFD_SETLKW
	}
	return fcntlLock(f.f, cmd, fcntlType(mode), off, off+n)
}

func (f *osFile) unlock(off, n int64) error {
	return fcntlLock(f.f, unix.F_OFD_SETLK, unix.F_UNLCK, off, off+n)
}

// closeFile closes the descriptor, which releases the File's locks.
func (f *osFile) closeFile() error { return f.f.Close() }
