package vfs

import (
	"errors"
	"math"
)

// noLock ranks below Shared and Exclusive, so the strongest lock on a byte
// is the largest mode covering it.
const noLock LockMode = -1

var errLockRange = errors.New("vfs: lock range must have off >= 0, n > 0 and end inside the lock space")

// checkRange rejects a lock range the OSes would read differently (n == 0
// means "to the end of the file" to fcntl) or that would overflow past
// LockBase.
func checkRange(off, n int64) error {
	if off < 0 || n <= 0 || off > math.MaxInt64-LockBase-n {
		return errLockRange
	}
	return nil
}

// checkLock is checkRange for a lock request, which also needs a known mode.
func checkLock(off, n int64, mode LockMode) error {
	if mode != Shared && mode != Exclusive {
		return errors.New("vfs: unknown lock mode")
	}
	return checkRange(off, n)
}

// span is the locked range [off, end) held in mode.
type span struct {
	off, end int64
	mode     LockMode
}

func (s span) overlaps(off, end int64) bool { return s.off < end && off < s.end }

// spans is a sorted list of disjoint spans: the locks of one owner.
type spans []span

// set gives [off, end) the mode, replacing whatever the owner held there;
// noLock removes the range. Like POSIX locks, this splits spans that reach
// outside the range.
func (s spans) set(off, end int64, mode LockMode) spans {
	var out, after spans
	for _, sp := range s {
		if sp.off < off {
			out = append(out, span{sp.off, min(sp.end, off), sp.mode})
		}
		if sp.end > end {
			after = append(after, span{max(sp.off, end), sp.end, sp.mode})
		}
	}
	if mode != noLock {
		out = append(out, span{off, end, mode})
	}
	return append(out, after...)
}

// modeAt returns the mode held at byte x, or noLock.
func (s spans) modeAt(x int64) LockMode {
	for _, sp := range s {
		if sp.off <= x && x < sp.end {
			return sp.mode
		}
	}
	return noLock
}
