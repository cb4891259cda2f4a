package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// request is one commit waiting for the writer: plan emits the operations of
// its journal record (and writes its data through the batchWriter), after
// checking everything it can; an error before the first operation rejects the
// request alone.
type request struct {
	plan       func(w *batchWriter) error
	estimate   int // an upper bound of the encoded size of the operations plan emits
	durability Durability
	done       chan error
}

// maxUnsyncedBytes bounds the bytes written since the last sync, whatever
// the durability: recovery reads back everything written after the last
// sync, so this bounds the time an open after a crash takes.
const maxUnsyncedBytes = 64 << 20

// Group commit limits: how many requests, and how many bytes of them, share
// one write and one sync.
const (
	maxGroupRequests = 4096
	maxGroupBytes    = 64 << 20
)

// submit hands r to the writer and waits for its outcome. ctx bounds only the
// wait for room in the queue: once queued, a commit runs to its end.
func (s *Store) submit(ctx context.Context, r *request) error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.reqs == nil {
		return ErrReadOnly
	}
	if max := s.maxRecordOps(); r.estimate > max {
		return fmt.Errorf("%w: about %d bytes of journal, the limit is %d", ErrTxnTooLarge, r.estimate, max)
	}
	r.done = make(chan error, 1)
	select {
	case s.reqs <- r:
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.stopped:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// maxRecordOps is the most operations one journal record may carry: it must
// fit in one journal extent with room for the record that continues the chain.
func (s *Store) maxRecordOps() int {
	return int(s.extentSize-format.ExtentHeaderSize) - format.RecordSize(0) - continueReserve
}

func (s *Store) writeLoop() {
	defer close(s.stopped)
	syncTick := time.NewTicker(s.opts.SyncInterval)
	defer syncTick.Stop()
	retention := time.NewTicker(s.opts.RetentionCheck)
	defer retention.Stop()
	for {
		select {
		case r := <-s.reqs:
			s.commitGroup(s.gather(r))
		case <-syncTick.C:
			if err := s.syncIfBehind(); err != nil {
				s.fail(err)
			}
		case <-retention.C:
			if r := s.retentionRequest(); r != nil {
				s.commitGroup([]*request{r})
			}
		case <-s.stop:
			s.drain()
			return
		}
	}
}

// gather collects the requests already queued behind first, up to the group
// limits.
func (s *Store) gather(first *request) []*request {
	group := []*request{first}
	bytes := first.estimate
	for len(group) < maxGroupRequests && bytes < maxGroupBytes {
		select {
		case r := <-s.reqs:
			group = append(group, r)
			bytes += r.estimate
		default:
			return group
		}
	}
	return group
}

// drain commits what was queued before Close, then leaves the journal
// checkpointed and synced.
func (s *Store) drain() {
queued:
	for {
		select {
		case r := <-s.reqs:
			s.commitGroup(s.gather(r))
		default:
			break queued
		}
	}
	// Not after a failure: the state may be ahead of what reached the file,
	// and a checkpoint would make it durable (usable reports ErrClosed
	// before a failure, so it cannot tell).
	if s.failed.Load() == nil {
		if err := s.withWriterLock(func() error {
			if s.ckptLen > 0 {
				if err := s.checkpoint(); err != nil {
					return err
				}
			}
			return s.syncIfBehind()
		}); err != nil {
			s.fail(err)
		}
	}
	err := ErrClosed
	s.failed.CompareAndSwap(nil, &err)
}

// withWriterLock runs fn holding the file's writer lock and catchMu, after
// applying whatever other processes wrote.
func (s *Store) withWriterLock(fn func() error) error {
	if err := s.f.Lock(lockWriter, 1, vfs.Exclusive, true); err != nil {
		return err
	}
	defer s.f.Unlock(lockWriter, 1)
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	if err := s.follow(math.MaxUint64); err != nil {
		return err
	}
	if err := s.adoptCheckpoint(); err != nil {
		return err
	}
	return fn()
}

// commitGroup writes the records of a group of requests with one write and at
// most one sync, then publishes them and completes every request.
func (s *Store) commitGroup(group []*request) {
	errs := make([]error, len(group))
	var err, ckptErr error
	if p := s.failed.Load(); p != nil {
		err = *p
	} else {
		err = s.withWriterLock(func() error {
			w := s.newBatchWriter()
			durable := false
			for i, r := range group {
				if errs[i] = w.record(r.estimate, r.plan); errs[i] != nil && w.broken != nil {
					return w.broken
				}
				durable = durable || s.durability(r.durability) == DurabilitySync
			}
			if err := w.flush(); err != nil {
				return err
			}
			if durable {
				if err := s.syncIfBehind(); err != nil {
					return err
				}
			}
			if w.lastLSN != 0 {
				s.publish(w.touched, w.lastLSN)
			}
			if s.ckptLen >= s.checkpointBytes() || s.unsynced >= maxUnsyncedBytes {
				// The group is published and, as it asked, durable: a
				// failure from here on fails the store, not the group.
				ckptErr = s.checkpoint()
			}
			return nil
		})
	}
	if err != nil {
		err = s.fail(err)
	}
	if ckptErr != nil {
		s.fail(ckptErr)
	}
	for i, r := range group {
		if err != nil {
			errs[i] = err
		}
		r.done <- errs[i]
	}
}

func (s *Store) durability(d Durability) Durability {
	if d == DurabilityDefault {
		return s.opts.Durability
	}
	return d
}

func (s *Store) checkpointBytes() int64 {
	if s.opts.CheckpointBytes > 0 {
		return s.opts.CheckpointBytes
	}
	return int64(s.meta.ExtentSize) - format.ExtentHeaderSize - continueReserve
}

// syncIfBehind syncs the file if a record written is not yet known durable,
// and makes the extents freed by durable records allocatable.
func (s *Store) syncIfBehind() error {
	written := s.flushed
	if s.synced.Load() >= written {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.unsynced = 0
	s.synced.Store(written)
	s.pg.raise(wordSynced, written)
	s.mu.Lock()
	s.st.settle(written)
	s.mu.Unlock()
	return nil
}

// publish makes the records up to lsn visible: readers in this process see
// the touched partitions' new high watermarks, other processes a new visible
// LSN in the shared page.
func (s *Store) publish(touched []partitionKey, lsn uint64) {
	s.publishPartitions(touched)
	s.pg.published(lsn)
	s.seen.Store(s.pg.load(wordCounter))
}

// publishPartitions raises the high watermarks of the touched partitions to
// their log ends and wakes their waiters.
func (s *Store) publishPartitions(touched []partitionKey) {
	s.mu.Lock()
	for _, k := range touched {
		if t := s.st.topics[k.topic]; t != nil && k.partition < uint32(len(t.partitions)) {
			t.partitions[k.partition].publish()
		}
	}
	s.mu.Unlock()
	for _, k := range touched {
		s.wake(k)
	}
}
