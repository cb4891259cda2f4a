package vfs

import (
	"errors"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// fakeSys stands in for classic POSIX locks: one process's locks (proc) and
// another process's (other), so that the lockTable logic behind macOS runs
// on every OS.
type fakeSys struct {
	t     tb
	mu    sync.Mutex
	proc  spans
	other spans
	// A waiting acquire that other blocks says so on blocked, then returns
	// what it receives from gate (nil: other let go).
	blocked chan struct{}
	gate    chan error
}

func newFakeSys(t tb) *fakeSys {
	return &fakeSys{t: t, blocked: make(chan struct{}), gate: make(chan error)}
}

func (s *fakeSys) clashes(off, end int64, mode LockMode) bool {
	for _, sp := range s.other {
		if sp.overlaps(off, end) && (mode == Exclusive || sp.mode == Exclusive) {
			return true
		}
	}
	return false
}

func (s *fakeSys) acquire(off, end int64, mode LockMode, wait bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clashes(off, end, mode) {
		if !wait {
			return ErrLocked
		}
		s.mu.Unlock()
		s.blocked <- struct{}{}
		err := <-s.gate
		s.mu.Lock()
		if err != nil {
			return err
		}
	}
	s.proc = s.proc.set(off, end, mode)
	return nil
}

func (s *fakeSys) lower(off, end int64, mode LockMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for x := off; x < end; x++ {
		if s.proc.modeAt(x) < mode {
			s.t.Errorf("lower(%d, %d, %d) raises byte %d from %d", off, end, mode, x, s.proc.modeAt(x))
		}
	}
	s.proc = s.proc.set(off, end, mode)
	return nil
}

// checkUnion checks that, with no request under way, the OS holds exactly
// the strongest lock of any owner on each byte below width.
func checkUnion(t tb, lt *lockTable, s *fakeSys, width int64) {
	t.Helper()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for x := range width {
		if want, got := lt.strongest(x), s.proc.modeAt(x); want != got {
			t.Fatalf("byte %d: OS holds %d, Files hold %d", x, got, want)
		}
	}
}

func TestLockTableSysUnion(t *testing.T) {
	s := newFakeSys(t)
	lt := newLockTable(s)
	a, b := "a", "b"
	must(t, lt.lock(a, 0, 10, Shared, false))
	must(t, lt.lock(b, 5, 15, Shared, false))
	checkUnion(t, lt, s, 20)
	must(t, lt.unlock(a, 0, 10))
	checkUnion(t, lt, s, 20)
	must(t, lt.lock(b, 5, 15, Exclusive, false))
	wantErr(t, lt.lock(a, 14, 16, Shared, false), ErrLocked)
	checkUnion(t, lt, s, 20)
	must(t, lt.lock(b, 0, 20, Shared, false))
	must(t, lt.lock(a, 3, 4, Shared, false))
	checkUnion(t, lt, s, 20)
	must(t, lt.release(b))
	checkUnion(t, lt, s, 20)
	must(t, lt.release(a))
	if len(s.proc) != 0 {
		t.Errorf("OS still holds %v", s.proc)
	}
}

func TestLockTableSysOtherProcess(t *testing.T) {
	s := newFakeSys(t)
	lt := newLockTable(s)
	s.other = spans{{20, 30, Exclusive}}
	wantErr(t, lt.lock("a", 25, 26, Shared, false), ErrLocked)
	checkUnion(t, lt, s, 40)

	// a waits for the other process; b may not slip in meanwhile.
	done := make(chan error, 1)
	go func() { done <- lt.lock("a", 20, 30, Exclusive, true) }()
	<-s.blocked
	wantErr(t, lt.lock("b", 29, 31, Shared, false), ErrLocked)
	s.mu.Lock()
	s.other = nil
	s.mu.Unlock()
	s.gate <- nil
	must(t, <-done)
	checkUnion(t, lt, s, 40)
}

// TestLockTableSysFailedWait covers a request that fails after another File
// dropped a lock it overlapped: the OS must not keep that lock for nobody.
func TestLockTableSysFailedWait(t *testing.T) {
	s := newFakeSys(t)
	lt := newLockTable(s)
	must(t, lt.lock("b", 0, 10, Shared, false))
	s.other = spans{{5, 15, Exclusive}}
	done := make(chan error, 1)
	go func() { done <- lt.lock("a", 0, 15, Shared, true) }()
	<-s.blocked
	must(t, lt.unlock("b", 0, 10)) // a's pending read keeps [0, 10) locked
	s.mu.Lock()
	if got := s.proc.modeAt(0); got != Shared {
		t.Errorf("OS lowered a pending range to %d", got)
	}
	s.mu.Unlock()
	errDeadlock := errors.New("deadlock")
	s.gate <- errDeadlock
	wantErr(t, <-done, errDeadlock)
	checkUnion(t, lt, s, 20)
}

// TestLockTableModel runs random non-waiting requests from three owners
// against a byte-by-byte model, with another process locking in between.
func TestLockTableModel(t *testing.T) {
	const owners, width = 3, 12
	rapid.Check(t, func(rt *rapid.T) {
		s := newFakeSys(rt)
		lt := newLockTable(s)
		var model [owners][width]LockMode
		for o := range model {
			for x := range model[o] {
				model[o][x] = noLock
			}
		}
		genRange := func(rt *rapid.T) (int64, int64) {
			off := rapid.Int64Range(0, width-1).Draw(rt, "off")
			return off, rapid.Int64Range(off+1, width).Draw(rt, "end")
		}
		rt.Repeat(map[string]func(*rapid.T){
			"lock": func(rt *rapid.T) {
				o := rapid.IntRange(0, owners-1).Draw(rt, "owner")
				off, end := genRange(rt)
				mode := rapid.SampledFrom([]LockMode{Shared, Exclusive}).Draw(rt, "mode")
				want := error(nil)
				for x := off; x < end; x++ {
					for p := range owners {
						if p != o && model[p][x] != noLock && (mode == Exclusive || model[p][x] == Exclusive) {
							want = ErrLocked
						}
					}
				}
				if s.clashes(off, end, mode) {
					want = ErrLocked
				}
				if got := lt.lock(o, off, end, mode, false); got != want {
					rt.Fatalf("lock(%d, [%d, %d), %d) = %v, want %v", o, off, end, mode, got, want)
				}
				if want == nil {
					for x := off; x < end; x++ {
						model[o][x] = mode
					}
				}
			},
			"unlock": func(rt *rapid.T) {
				o := rapid.IntRange(0, owners-1).Draw(rt, "owner")
				off, end := genRange(rt)
				must(rt, lt.unlock(o, off, end))
				for x := off; x < end; x++ {
					model[o][x] = noLock
				}
			},
			"close": func(rt *rapid.T) {
				o := rapid.IntRange(0, owners-1).Draw(rt, "owner")
				must(rt, lt.release(o))
				for x := range width {
					model[o][x] = noLock
				}
			},
			"other process": func(rt *rapid.T) {
				// The other process can only lock what this one leaves it.
				off, end := genRange(rt)
				mode := rapid.SampledFrom([]LockMode{noLock, Shared, Exclusive}).Draw(rt, "mode")
				for x := off; x < end; x++ {
					if held := s.proc.modeAt(x); held == Exclusive || held == Shared && mode == Exclusive {
						rt.Skip("other process would conflict")
					}
				}
				s.other = s.other.set(off, end, mode)
			},
			"": func(rt *rapid.T) {
				checkUnion(rt, lt, s, width)
				for o := range owners {
					for x := range int64(width) {
						if got := lt.held[o].modeAt(x); got != model[o][x] {
							rt.Fatalf("owner %d byte %d: table %d, model %d", o, x, got, model[o][x])
						}
					}
				}
			},
		})
	})
}
