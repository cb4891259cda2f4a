package vfs

import (
	"errors"
	"slices"
	"sync"
)

// lockTable holds the byte-range locks of one file for every File of this
// process, where the OS does not keep two Files of one process apart: always
// for Mem, and on macOS in front of classic POSIX locks, which belong to the
// process rather than to the open file.
//
// With a sysLocker, the table also keeps the OS lock of the process equal to
// the strongest lock any of its Files holds on each byte, so that other
// processes see the union.
type lockTable struct {
	mu      sync.Mutex
	cond    sync.Cond
	waiters int
	held    map[any]spans
	pending []*pendingLock

	sys     sysLocker
	sysHeld spans // what the OS holds for this process
}

// pendingLock is a lock a File is asking the OS for. Until the OS answers it
// keeps other Files of this process out of the range as if it were granted,
// and keeps the OS lock from being lowered under it.
type pendingLock struct {
	owner any
	span
}

// sysLocker carries a lockTable's locks to the OS, where other processes see
// them.
type sysLocker interface {
	// acquire takes mode on [off, end) for the whole process. It runs
	// without the table's mutex, because with wait it blocks until other
	// processes unlock.
	acquire(off, end int64, mode LockMode, wait bool) error
	// lower weakens the process's lock on [off, end) to mode, or drops it
	// for noLock. It never waits.
	lower(off, end int64, mode LockMode) error
}

func newLockTable(sys sysLocker) *lockTable {
	t := &lockTable{held: map[any]spans{}, sys: sys}
	t.cond.L = &t.mu
	return t
}

// lock takes mode on [off, end) for owner, converting whatever owner holds
// there.
func (t *lockTable) lock(owner any, off, end int64, mode LockMode, wait bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.conflicts(owner, off, end, mode) {
		if !wait {
			return ErrLocked
		}
		t.waiters++
		t.cond.Wait()
		t.waiters--
	}
	if t.sys != nil {
		p := &pendingLock{owner, span{off, end, mode}}
		t.pending = append(t.pending, p)
		t.mu.Unlock()
		err := t.sys.acquire(off, end, mode, wait)
		t.mu.Lock()
		t.pending = slices.DeleteFunc(t.pending, func(q *pendingLock) bool { return q == p })
		if err == nil {
			t.sysHeld = t.sysHeld.set(off, end, mode)
			t.held[owner] = t.held[owner].set(off, end, mode)
		}
		// On failure, locks other Files dropped while this one was pending
		// may still be held by the OS on its behalf.
		if lowerErr := t.lowerSys(off, end); lowerErr != nil {
			err = errors.Join(err, lowerErr)
		}
		t.wake()
		return err
	}
	t.held[owner] = t.held[owner].set(off, end, mode)
	t.wake() // a conversion to Shared may admit readers
	return nil
}

// unlock drops owner's locks on [off, end).
func (t *lockTable) unlock(owner any, off, end int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.held[owner].set(off, end, noLock); len(s) > 0 {
		t.held[owner] = s
	} else {
		delete(t.held, owner)
	}
	err := t.lowerSys(off, end)
	t.wake()
	return err
}

// release drops every lock owner holds.
func (t *lockTable) release(owner any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.held[owner]
	delete(t.held, owner)
	var errs []error
	for _, sp := range s {
		errs = append(errs, t.lowerSys(sp.off, sp.end))
	}
	t.wake()
	return errors.Join(errs...)
}

func (t *lockTable) wake() {
	if t.waiters > 0 {
		t.cond.Broadcast()
	}
}

// conflicts reports whether a File other than owner holds or is acquiring a
// lock on [off, end) that mode cannot share.
func (t *lockTable) conflicts(owner any, off, end int64, mode LockMode) bool {
	clash := func(sp span) bool {
		return sp.overlaps(off, end) && (mode == Exclusive || sp.mode == Exclusive)
	}
	for o, s := range t.held {
		if o != owner && slices.ContainsFunc(s, clash) {
			return true
		}
	}
	for _, p := range t.pending {
		if p.owner != owner && clash(p.span) {
			return true
		}
	}
	return false
}

// strongest returns the strongest mode any File holds or is acquiring at x.
func (t *lockTable) strongest(x int64) LockMode {
	m := noLock
	for _, s := range t.held {
		m = max(m, s.modeAt(x))
	}
	for _, p := range t.pending {
		if p.off <= x && x < p.end {
			m = max(m, p.mode)
		}
	}
	return m
}

// lowerSys brings the OS lock on [off, end) down to what the Files still
// need. It only ever lowers: raising is acquire's job, because only acquire
// may wait for other processes.
func (t *lockTable) lowerSys(off, end int64) error {
	if t.sys == nil {
		return nil
	}
	var errs []error
	for _, cur := range slices.Clone(t.sysHeld) {
		if !cur.overlaps(off, end) {
			continue
		}
		cuts := t.cuts(max(cur.off, off), min(cur.end, end))
		for i := 1; i < len(cuts); i++ {
			a, b := cuts[i-1], cuts[i]
			want := t.strongest(a)
			if want >= cur.mode {
				continue
			}
			if err := t.sys.lower(a, b, want); err != nil {
				errs = append(errs, err)
				continue
			}
			t.sysHeld = t.sysHeld.set(a, b, want)
		}
	}
	return errors.Join(errs...)
}

// cuts splits [a, b) at every edge of a held or pending lock, so that the
// strongest mode is constant between neighbours.
func (t *lockTable) cuts(a, b int64) []int64 {
	pts := []int64{a, b}
	add := func(sp span) {
		for _, x := range [2]int64{sp.off, sp.end} {
			if a < x && x < b {
				pts = append(pts, x)
			}
		}
	}
	for _, s := range t.held {
		for _, sp := range s {
			add(sp)
		}
	}
	for _, p := range t.pending {
		add(p.span)
	}
	slices.Sort(pts)
	return slices.Compact(pts)
}
