package store

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// waiter returns the channel closed at the next change of partition k.
func (s *Store) waiter(k partitionKey) chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	ch := s.waiters[k]
	if ch == nil {
		ch = make(chan struct{})
		s.waiters[k] = ch
	}
	return ch
}

func (s *Store) wake(k partitionKey) {
	s.waitMu.Lock()
	ch := s.waiters[k]
	delete(s.waiters, k)
	s.waitMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// wakeAll wakes every waiter. Called by Close, it also wakes the watcher if
// it sleeps on the shared page, so that it sees the store closed and ends.
func (s *Store) wakeAll() {
	s.waitMu.Lock()
	ws := s.waiters
	s.waiters = map[partitionKey]chan struct{}{}
	s.waitMu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
	if s.closed.Load() && s.watching.Load() && s.pg.b != nil {
		// This wakes the watchers of other processes too; they find
		// nothing new and sleep again.
		s.pg.wake()
	}
}

// Wait blocks until partition of topic holds a record at offset or later (its
// high watermark passes offset), ctx ends, or the store closes. A commit in
// this process is seen at once. Commits of other processes it follows itself
// for waitSpin, looking at the shared page and yielding in turn; then it
// sleeps, and the watcher, which runs while anyone sleeps in Wait, wakes it:
// within microseconds on Linux, where the watcher sleeps on the shared page's
// counter and the committer wakes it, within about a millisecond elsewhere,
// where it polls.
func (s *Store) Wait(ctx context.Context, topic string, partition int32, offset int64) error {
	var spinning time.Time // when the wait began to spin; zero before
	for {
		if err := s.usable(); err != nil && s.closed.Load() {
			return err
		}
		if err := s.readable(); err != nil {
			return err
		}
		k, err := s.key(topic, partition)
		if err != nil {
			return err
		}
		ch := s.waiter(k)
		if s.closed.Load() {
			// Close may have woken every waiter just before this one
			// registered: it set closed first, so this sees it.
			return ErrClosed
		}
		s.mu.RLock()
		var hwm int64
		if t := s.st.topics[k.topic]; t != nil {
			hwm = t.partitions[k.partition].hwm
		}
		s.mu.RUnlock()
		if hwm > offset {
			return nil
		}
		if spinning.IsZero() {
			spinning = time.Now()
		}
		if time.Since(spinning) < waitSpin {
			// The next look (readable) applies what another process
			// committed meanwhile, on this goroutine: no wake of the
			// watcher, no hop from it to here.
			if ctx.Err() != nil {
				return ctx.Err()
			}
			runtime.Gosched()
			vfs.Yield()
			continue
		}
		if err := s.sleep(ctx, ch); err != nil {
			return err
		}
	}
}

// sleep blocks until ch closes or ctx ends, with the watcher running.
func (s *Store) sleep(ctx context.Context, ch chan struct{}) error {
	s.watchers.Add(1)
	defer s.watchers.Add(-1)
	// At every sleep, so that a wait outlives a watcher that failed. It
	// starts after ch was registered and the high watermark read, and looks
	// at the counter before it sleeps: a commit in between is not missed.
	s.startWatch()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startWatch starts the goroutine that watches the shared page for commits
// of other processes, unless it runs already. It runs while anyone sleeps in
// Wait.
func (s *Store) startWatch() {
	if s.watching.Load() || !s.watching.CompareAndSwap(false, true) {
		return
	}
	go s.watch()
}

// waitSpin is how long Wait follows commits itself before it sleeps. Waking
// a sleeper costs the committer a futex wake and the sleeper tens of
// microseconds on a virtual machine (its thread, then the watcher's hop to
// the waiting goroutine); a consumer that keeps up with a stream, or hands
// each record on and gets the next after a round trip (some 40 to 60 µs
// between two processes on a 2-core VM), finds the next commit within the
// spin instead. The cost is bounded: waitSpin of CPU time each time a Wait
// goes to sleep, nothing while it sleeps.
const waitSpin = 200 * time.Microsecond

// How the watcher waits for the counter to move: on Linux, a futex wait of
// at most watchSleep, so that a wake lost to a process that died between
// bumping the counter and waking, or one from a process of an older spool
// that does not wake, costs at most that. Elsewhere, and when the futex wait
// fails, sleeps that grow to a millisecond.
const watchSleep = 100 * time.Millisecond

// watchTest holds what tests change about the watcher; the rest of the
// package leaves it zero.
var watchTest struct {
	poll  atomic.Bool                  // poll even where the futex wait works
	sleep atomic.Int64                 // a futex wait's timeout instead of watchSleep
	ended atomic.Pointer[func(*Store)] // called as a watcher goroutine ends
}

// watch is the watcher goroutine. It ends when nobody sleeps in Wait or the
// store closes; asleep, it sees that only when it wakes, after watchSleep at
// most, or at once at Close, which wakes it.
func (s *Store) watch() {
	if s.enter() == nil {
		defer s.leave()
	} else {
		s.watching.Store(false)
		return
	}
	for {
		ok := s.watchLoop()
		s.watching.Store(false)
		// A Wait that came as the loop ended found a watcher running and
		// started none: go on for it.
		if !ok || s.watchers.Load() == 0 || s.closed.Load() || !s.watching.CompareAndSwap(false, true) {
			break
		}
	}
	if f := watchTest.ended.Load(); f != nil {
		(*f)(s)
	}
}

// watchLoop follows the commits of other processes while anyone sleeps in
// Wait. It returns false when following them failed.
func (s *Store) watchLoop() bool {
	idle := 0
	futex := vfs.CanWaitWord && !watchTest.poll.Load()
	for s.watchers.Load() > 0 && !s.closed.Load() {
		seen := s.seen.Load()
		if s.pg.load(wordCounter) != seen {
			if err := s.refresh(); err != nil {
				s.opts.Logger.Warn("spool: following another process's commits failed", "file", s.path, "err", err)
				s.wakeAll()
				return false
			}
			idle = 0
			// The waiters just woken wait to run on this goroutine's P,
			// and would wait long if this goroutine slept in the futex
			// holding it: let them run first.
			runtime.Gosched()
			continue
		}
		idle++
		if !futex || !s.pg.sleep(seen, sleepTimeout()) {
			futex = false // the futex wait failed (a sandbox that refuses it?): poll
			time.Sleep(min(time.Duration(idle)*10*time.Microsecond, time.Millisecond))
		}
	}
	return true
}

func sleepTimeout() time.Duration {
	if d := watchTest.sleep.Load(); d != 0 {
		return time.Duration(d)
	}
	return watchSleep
}
