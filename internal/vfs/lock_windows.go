package vfs

import (
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/windows"
)

// fileLocks remembers the ranges a File has locked. Windows cannot convert a
// lock in place, unlocks only a range exactly as it was locked, and releases
// a closed handle's locks only when it gets round to it, so the File does
// all three itself.
type fileLocks struct {
	mu   sync.Mutex
	held map[lockRange]LockMode
}

type lockRange struct{ off, n int64 }

var errSplitUnlock = errors.New("vfs: on Windows a lock must be unlocked over exactly the range it was locked")

func (f *osFile) lock(off, n int64, mode LockMode, wait bool) error {
	r := lockRange{off, n}
	f.lk.mu.Lock()
	held, ok := f.lk.held[r]
	f.lk.mu.Unlock()
	switch {
	case ok && held == mode:
		return nil
	case ok && mode == Shared:
		// A handle holding a range exclusively may add a shared lock on
		// it, and the next unlock drops the exclusive one: a downgrade
		// with no moment unlocked.
		if err := lockFileEx(f.f, off, n, Shared, false); err != nil {
			return err
		}
		if err := unlockFileEx(f.f, off, n); err != nil {
			return err
		}
	case ok:
		// An exclusive lock may not overlap any lock, even the same
		// handle's, so an upgrade must let go first. If the exclusive
		// lock is refused, the shared one is taken back, which fails only
		// if another File took the range exclusively in between.
		if err := unlockFileEx(f.f, off, n); err != nil {
			return err
		}
		if err := lockFileEx(f.f, off, n, Exclusive, wait); err != nil {
			if lockFileEx(f.f, off, n, Shared, false) != nil {
				f.setHeld(r, noLock)
			}
			return err
		}
	default:
		if err := lockFileEx(f.f, off, n, mode, wait); err != nil {
			return err
		}
	}
	f.setHeld(r, mode)
	return nil
}

func (f *osFile) unlock(off, n int64) error {
	r := lockRange{off, n}
	f.lk.mu.Lock()
	_, held := f.lk.held[r]
	split := false
	for h := range f.lk.held {
		split = split || !held && h.off < off+n && off < h.off+h.n
	}
	f.lk.mu.Unlock()
	if split {
		return errSplitUnlock
	}
	if !held {
		return nil
	}
	if err := unlockFileEx(f.f, off, n); err != nil {
		return err
	}
	f.setHeld(r, noLock)
	return nil
}

func (f *osFile) setHeld(r lockRange, mode LockMode) {
	f.lk.mu.Lock()
	defer f.lk.mu.Unlock()
	if mode == noLock {
		delete(f.lk.held, r)
		return
	}
	if f.lk.held == nil {
		f.lk.held = map[lockRange]LockMode{}
	}
	f.lk.held[r] = mode
}

// closeFile unlocks every range before closing the handle, so that other
// Files need not wait for Windows to notice the close.
func (f *osFile) closeFile() error {
	f.lk.mu.Lock()
	held := f.lk.held
	f.lk.held = nil
	f.lk.mu.Unlock()
	var errs []error
	for r := range held {
		errs = append(errs, unlockFileEx(f.f, r.off, r.n))
	}
	errs = append(errs, f.f.Close())
	return errors.Join(errs...)
}

func lockFileEx(f *os.File, off, n int64, mode LockMode, wait bool) error {
	var flags uint32
	if mode == Exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	err := withHandle(f, func(h windows.Handle) error {
		ol := lockOverlapped(off)
		return windows.LockFileEx(h, flags, 0, uint32(n), uint32(n>>32), &ol)
	})
	if err == windows.ERROR_LOCK_VIOLATION {
		return ErrLocked
	}
	return err
}

func unlockFileEx(f *os.File, off, n int64) error {
	return withHandle(f, func(h windows.Handle) error {
		ol := lockOverlapped(off)
		return windows.UnlockFileEx(h, 0, uint32(n), uint32(n>>32), &ol)
	})
}

// lockOverlapped carries the start of a lock range, which LockFileEx takes
// in the Overlapped structure.
func lockOverlapped(off int64) windows.Overlapped {
	start := uint64(LockBase + off)
	return windows.Overlapped{Offset: uint32(start), OffsetHigh: uint32(start >> 32)}
}
