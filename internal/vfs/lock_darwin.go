package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

func (f *osFile) lock(off, n int64, mode LockMode, wait bool) error {
	return f.lk.in.locks.lock(f, off, off+n, mode, wait)
}

func (f *osFile) unlock(off, n int64) error {
	return f.lk.in.locks.unlock(f, off, off+n)
}

// posixLocks holds the process's classic POSIX locks on an inode through its
// shared descriptor.
type posixLocks struct{ f *os.File }

func (p posixLocks) acquire(off, end int64, mode LockMode, wait bool) error {
	cmd := unix.F_SETLK
	if wait {
		cmd = unix.F_SETLKW
	}
	return fcntlLock(p.f, cmd, fcntlType(mode), off, end)
}

func (p posixLocks) lower(off, end int64, mode LockMode) error {
	return fcntlLock(p.f, unix.F_SETLK, fcntlType(mode), off, end)
}
