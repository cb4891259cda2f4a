package store

import (
	"context"
	"runtime"
	"time"
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

func (s *Store) wakeAll() {
	s.waitMu.Lock()
	ws := s.waiters
	s.waiters = map[partitionKey]chan struct{}{}
	s.waitMu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

// Wait blocks until partition of topic holds a record at offset or later (its
// high watermark passes offset), ctx ends, or the store closes. A commit in
// this process wakes it at once; one in another process within about a
// millisecond, by the watcher that polls the shared page while anyone waits.
func (s *Store) Wait(ctx context.Context, topic string, partition int32, offset int64) error {
	s.watchers.Add(1)
	defer s.watchers.Add(-1)
	s.startWatch()
	for {
		if err := s.usable(); err != nil && s.closed.Load() {
			return err
		}
		if err := s.refresh(); err != nil {
			return err
		}
		k, err := s.key(topic, partition)
		if err != nil {
			return err
		}
		ch := s.waiter(k)
		s.mu.RLock()
		var hwm int64
		if t := s.st.topics[k.topic]; t != nil {
			hwm = t.partitions[k.partition].hwm
		}
		s.mu.RUnlock()
		if hwm > offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startWatch starts the goroutine that watches the shared page for commits
// of other processes, unless it runs already. It runs while anyone waits.
func (s *Store) startWatch() {
	if !s.watching.CompareAndSwap(false, true) {
		return
	}
	go s.watch()
}

// watch polls the shared page's commit counter: a short spin first, for the
// latency of a busy stream, then sleeps that grow to a millisecond, for the
// cost of an idle one.
func (s *Store) watch() {
	defer s.watching.Store(false)
	idle := 0
	for s.watchers.Load() > 0 && !s.closed.Load() {
		if s.pg.load(wordCounter) != s.seen.Load() {
			if err := s.refresh(); err != nil {
				s.opts.Logger.Warn("spool: following another process's commits failed", "file", s.path, "err", err)
				s.wakeAll()
				return
			}
			idle = 0
			continue
		}
		idle++
		switch {
		case idle < 200:
			runtime.Gosched()
		default:
			time.Sleep(min(time.Duration(idle-199)*10*time.Microsecond, time.Millisecond))
		}
	}
}
