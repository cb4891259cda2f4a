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
	carried    int // an upper bound of the batch bytes its record may carry
	durability Durability
	// complete receives the outcome, on the syncer goroutine (or the
	// writer's, for a group with nothing to sync landed at once); it must
	// not block.
	complete func(error)
}

// closeCheckpointBytes is the journal since the last checkpoint above which
// Close checkpoints.
const closeCheckpointBytes = 256 << 10

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
	done := make(chan error, 1)
	r.complete = func(err error) { done <- err }
	if err := s.enqueue(ctx, r); err != nil {
		return err
	}
	return <-done
}

// enqueue hands r to the writer, which will complete it exactly once. It
// holds submitMu shared so that Close, which takes it exclusively before
// stopping the writer, cannot stop it between the checks and the send: every
// request queued is drained and completed.
func (s *Store) enqueue(ctx context.Context, r *request) error {
	s.submitMu.RLock()
	defer s.submitMu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.reqs == nil {
		return ErrReadOnly
	}
	if max := s.maxRecordOps(); r.estimate > max {
		return fmt.Errorf("%w: about %d bytes of journal, the limit is %d", ErrTxnTooLarge, r.estimate, max)
	}
	select {
	case s.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxRecordOps is the most operations one journal record may carry: it must
// fit in one journal extent with room for the record that continues the chain.
func (s *Store) maxRecordOps() int {
	return int(s.extentSize-format.ExtentHeaderSize) - format.RecordSize(0) - continueReserve
}

// writeLoop is the writer goroutine. It writes groups of commits and hands
// each to the syncer goroutine, which makes it durable if it asked, publishes
// it and completes its requests: the next group is written while the last
// one syncs, so a commit that arrives during a sync shares the next one
// rather than waiting for it to start.
func (s *Store) writeLoop() {
	defer close(s.stopped)
	synced := make(chan struct{})
	go s.syncLoop(synced)
	flushes := make(chan bool, 1)
	writebacks := make(chan struct{}, 1)
	flushed := make(chan struct{})
	go s.flushLoop(flushes, writebacks, flushed)
	syncTick := time.NewTicker(s.opts.SyncInterval)
	defer syncTick.Stop()
	retention := time.NewTicker(s.opts.RetentionCheck)
	defer retention.Stop()
	for {
		if s.lockHeld && len(s.reqs) == 0 {
			if err := s.releaseWriter(); err != nil {
				s.fail(err)
			}
		}
		select {
		case r := <-s.reqs:
			s.commitGroup(s.gather(r))
			if s.flushDue() {
				offer(flushes, true)
			} else if s.writebackDue() {
				offer(writebacks, struct{}{})
			}
		case <-syncTick.C:
			if s.synced.Load() < s.flushed.Load() {
				offer(flushes, false)
			}
		case <-retention.C:
			if r := s.retentionRequest(); r != nil {
				s.commitGroup([]*request{r})
			}
		case <-s.stop:
			s.drain()
			if err := s.releaseWriter(); err != nil {
				s.fail(err)
			}
			close(s.flights)
			<-synced
			close(flushes)
			<-flushed
			s.finish()
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

// drain commits what was queued before Close.
func (s *Store) drain() {
	for {
		select {
		case r := <-s.reqs:
			s.commitGroup(s.gather(r))
		default:
			return
		}
	}
}

// finish leaves the journal checkpointed and synced, once every group is
// published, and puts the store in the closed state.
func (s *Store) finish() {
	if s.failed.Load() == nil {
		if err := s.withWriterLock(func() error {
			// Opening replays a short journal in moments: a checkpoint at
			// every close would cost two syncs and a journal extent. But
			// batches carried in the journal since the last checkpoint
			// may be missing from their extents, whose copies no sync has
			// covered: an open would have to compare them with the
			// journal's, and a read-only open refuse the file if one
			// differs, even a damaged copy's that Check should report.
			// The checkpoint syncs the whole file first.
			if s.ckptLen >= min(s.checkpointBytes(), closeCheckpointBytes) || s.carriedSince.Load() {
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
// applying whatever other processes wrote. It keeps the lock while the
// syncer has journal records to write (see releaseWriter).
func (s *Store) withWriterLock(fn func() error) error {
	if !s.lockHeld {
		if err := s.f.Lock(lockWriter, 1, vfs.Exclusive, true); err != nil {
			return err
		}
		s.lockHeld, s.heldGroups = true, 0
	}
	err := func() error {
		s.catchMu.Lock()
		defer s.catchMu.Unlock()
		if err := s.follow(math.MaxUint64); err != nil {
			return err
		}
		if err := s.adoptCheckpoint(); err != nil {
			return err
		}
		return fn()
	}()
	s.heldGroups++
	if s.journalPending.Load() == 0 || s.heldGroups >= maxHeldGroups || err != nil {
		if rerr := s.releaseWriter(); err == nil {
			err = rerr
		}
	}
	return err
}

// maxHeldGroups bounds the groups the writer writes without releasing the
// writer lock, so that other processes get their turn.
const maxHeldGroups = 64

// releaseWriter releases the file's writer lock once the syncer has written
// the journal records it was handed.
func (s *Store) releaseWriter() error {
	if !s.lockHeld {
		return nil
	}
	err := s.awaitJournal()
	s.f.Unlock(lockWriter, 1)
	s.lockHeld = false
	return err
}

// flight is a group of commits written to the file, on its way through the
// syncer: made durable if any of them asked, then published and completed.
type flight struct {
	reqs    []*request
	errs    []error
	pubs    []pub
	lastLSN uint64 // zero: the group wrote no record
	durable bool
	// journal is the group's records, for the syncer to write durably
	// (the group carries its data); nil if the writer wrote them.
	journal *journalWrite
	done    chan struct{} // closed once landed, if not nil: a barrier
	// With a checkpoint due after the group, the syncer closes published
	// once the group is published and waits for hold before completing
	// its requests, so that they return after the checkpoint, as before
	// pipelining.
	published, hold chan struct{}
}

// pub is a partition's high watermark and published bytes after a group;
// extent format.NoExtent publishes no bytes, only wakes the waiters (a moved
// log start).
type pub struct {
	key    partitionKey
	next   int64
	extent uint32
	size   uint32
}

// commitGroup writes the records of a group of requests with one write and
// hands them to the syncer. It checkpoints when the journal has grown enough.
func (s *Store) commitGroup(group []*request) {
	f := &flight{reqs: group, errs: make([]error, len(group))}
	checkpoint := false
	var err error
	if p := s.failed.Load(); p != nil {
		err = *p
	} else {
		durable := false
		for _, r := range group {
			durable = durable || s.durability(r.durability) == DurabilitySync
		}
		s.zeroData = durable
		err = s.withWriterLock(func() error {
			w := s.newBatchWriter()
			// Carrying the batches in the journal lets the group sync its
			// journal bytes alone, which leaves nothing to chance only if
			// everything written before is durable first.
			w.carry = durable && s.durableBefore()
			for i, r := range group {
				if f.errs[i] = w.record(r.estimate, r.carried, r.plan); f.errs[i] != nil && w.broken != nil {
					return w.broken
				}
			}
			if err := w.flush(); err != nil {
				return err
			}
			if f.journal = w.journal; f.journal != nil {
				s.journalPending.Add(1)
			}
			if f.durable = durable && f.journal == nil; f.durable {
				s.syncAhead = w.lastLSN
			}
			f.pubs, f.lastLSN = w.pubs(), w.lastLSN
			checkpoint = s.ckptLen >= s.checkpointBytes()
			return nil
		})
	}
	if err != nil {
		err = s.fail(err)
		for i := range f.errs {
			f.errs[i] = err
		}
	}
	if checkpoint {
		f.published, f.hold = make(chan struct{}), make(chan struct{})
	}
	if !f.durable && !checkpoint && s.landing.Load() == 0 && len(s.reqs) == 0 {
		// Nothing to sync, nothing ahead of it at the syncer and nothing
		// behind it in the queue: the hop to the syncer would only add a
		// goroutine wake to every commit's latency.
		s.land(f, s.writeJournals([]*flight{f}))
		return
	}
	s.send(f)
	if checkpoint {
		// The checkpoint publishes records of its own: the groups before
		// it, this one last, must be published first.
		<-f.published
		if s.failed.Load() == nil {
			if err := s.withWriterLock(s.checkpoint); err != nil {
				s.fail(err)
			}
		}
		close(f.hold)
	}
}

// writeJournals writes the journal records of the flights that carry their
// data durably, after the headers of the data extents they allocated: every
// record before them is durable already (the syncer lands groups in order,
// and a group carries only when what was written before will be durable
// first, durableBefore).
func (s *Store) writeJournals(fs []*flight) error {
	var js []*journalWrite
	for _, f := range fs {
		if f.journal != nil {
			js = append(js, f.journal)
		}
	}
	n := len(js)
	if n == 0 {
		return nil
	}
	buf, runs := js[0].bytes, js[0].writes
	if n > 1 {
		// Consecutive groups' records continue each other in the journal:
		// one buffer, so that each range is one write.
		buf, runs = nil, nil
		for _, j := range js {
			for _, x := range j.writes {
				start := len(buf)
				buf = append(buf, j.bytes[x.start:x.end]...)
				runs = appendWrite(runs, x.off, start, len(buf))
			}
		}
	}
	last := js[n-1].lastLSN
	defer s.journalPending.Add(int32(-n))
	if p := s.failed.Load(); p != nil {
		return *p
	}
	for _, j := range js {
		if err := s.writeDurably(j.headers, j.hwrites); err != nil {
			return err
		}
	}
	if err := s.writeDurably(buf, runs); err != nil {
		return err
	}
	s.wrote(last)
	s.raiseSynced(last)
	return nil
}

// writeDurably writes each range of buf with its own durable write.
func (s *Store) writeDurably(buf []byte, runs []pendingWrite) error {
	for _, x := range runs {
		if _, err := s.f.WriteAtSync(buf[x.start:x.end], x.off); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

// awaitJournal waits until the syncer has written the journal records it
// was handed: the writer's own journal writes and its writer lock's release
// come after them.
func (s *Store) awaitJournal() error {
	if s.journalPending.Load() == 0 {
		return nil
	}
	b := &flight{done: make(chan struct{})}
	s.send(b)
	<-b.done
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// landSync does the syncing flight f asks of the syncer.
func (s *Store) landSync(f *flight) error {
	if p := s.failed.Load(); p != nil {
		return *p // a group written after a failed one is in doubt too
	}
	if f.durable {
		if err := s.syncIfBehind(); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

// send hands f to the syncer.
func (s *Store) send(f *flight) {
	s.landing.Add(1)
	s.flights <- f
}

// flushLoop is the flusher goroutine: it syncs the file when the interval
// sync is due (false) or when flushDue (true), apart from the syncer, so
// that the groups that need no sync are not held up behind one, and starts
// the writeback of what was written when writebackDue. It closes done when
// flushes is closed.
func (s *Store) flushLoop(flushes <-chan bool, writebacks <-chan struct{}, done chan struct{}) {
	defer close(done)
	for {
		select {
		case all, ok := <-flushes:
			if !ok {
				return
			}
			sync := s.syncIfBehind
			if all {
				sync = s.syncAll
			}
			if s.failed.Load() == nil {
				if err := sync(); err != nil {
					s.fail(err)
				}
			}
		case <-writebacks:
			// Only a hint: an I/O error it meets, the next sync reports.
			_ = s.f.StartWriteback()
		}
	}
}

// writebackStep is how many bytes written since the last sync or writeback
// start the next writeback. Left to the system's own writeback, the extents'
// copies of carried batches and the data of asynchronous commits pile up
// dirty until a sync of the whole file must write them all at once; the
// durable writes of synchronous commits, queued behind that, took up to 10-
// 20 ms instead of about 0.1 (measured on the CI machine, spool bench -w
// produce-100B-sync-64p-inflight), which is the tail of their latency.
const writebackStep = 1 << 20

// writebackDue reports whether writebackStep more bytes were written since
// the last sync or writeback; on the writer.
func (s *Store) writebackDue() bool {
	u := s.unsynced.Load()
	if u < s.writtenBack {
		s.writtenBack = 0 // a sync since
	}
	if u-s.writtenBack < writebackStep {
		return false
	}
	s.writtenBack = u
	return true
}

// offer sends v on ch unless ch is full: the flusher's requests wait one
// at a time, and one pending does for the next (a sync of the whole file
// (true) or of the records not yet durable (false), a writeback).
func offer[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// flushDue reports whether the whole file should be synced, even if every
// record is durable (a group that carried its data leaves the extents'
// copies dirty): recovery after a power loss reads back what was written
// since the last sync, so that must stay bounded, and a checkpoint soon
// syncs the whole file holding the writer lock, which had better find
// little to write by then.
func (s *Store) flushDue() bool {
	u := s.unsynced.Load()
	return u >= maxUnsyncedBytes || u >= allocStep && s.ckptLen >= s.checkpointBytes()*3/4
}

// syncLoop is the syncer goroutine: it lands flights in order and closes done
// when the writer has closed s.flights. It takes the groups that carry their
// data together when several wait, so that their journal records share one
// durable write.
func (s *Store) syncLoop(done chan struct{}) {
	defer close(done)
	var next *flight
	for open := true; open || next != nil; {
		f := next
		if f == nil {
			if f, open = <-s.flights; !open {
				return
			}
		}
		next = nil
		batch := []*flight{f}
		for f.journal != nil && next == nil && open {
			select {
			case g, ok := <-s.flights:
				switch {
				case !ok:
					open = false
				case g.journal != nil:
					batch = append(batch, g)
				default:
					next = g
				}
				continue
			default:
			}
			break
		}
		s.landAll(batch)
	}
}

// landAll lands flights in order, the journal records of those that carry
// their data written first, with one durable write per range.
func (s *Store) landAll(fs []*flight) {
	err := s.writeJournals(fs)
	for _, f := range fs {
		s.land(f, err)
		s.landing.Add(-1)
	}
}

// land makes flight f durable if it must be, publishes it and completes its
// requests.
func (s *Store) land(f *flight, journalErr error) {
	if f.done != nil {
		defer close(f.done)
	}
	err := journalErr
	if err == nil {
		err = s.landSync(f)
	}
	if err == nil && f.lastLSN != 0 {
		s.publish(f.pubs, f.lastLSN)
	}
	if f.published != nil {
		close(f.published)
		<-f.hold
	}
	for i, r := range f.reqs {
		if err != nil {
			f.errs[i] = err
		}
		r.complete(f.errs[i])
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

// durableBefore reports whether every record any process wrote will be
// durable before the journal records of the next group are written: known
// durable already, or to be synced by a group ahead of it at the syncer,
// which lands groups in order (a sync covers the whole file, whoever wrote
// to it). A group that carries its data after a record that is lost would
// be lost with it, acknowledged: recovery stops at the first record
// missing. Without the second case, each group that cannot carry (one that
// allocates an extent, say) would stop the groups planned while it syncs
// from carrying, and those the groups after them, for as long as syncs
// overlap.
func (s *Store) durableBefore() bool {
	if s.pg.b == nil {
		return false
	}
	flushed, written := s.flushed.Load(), s.pg.load(wordWritten)
	return s.syncAhead >= max(flushed, written) || s.synced.Load() >= flushed && s.pg.load(wordSynced) >= written
}

// syncIfBehind syncs the file if a record written is not yet known durable,
// and makes the extents freed by durable records allocatable. The writer and
// the syncer may both call it.
func (s *Store) syncIfBehind() error {
	written := s.flushed.Load()
	if s.synced.Load() >= written {
		return nil
	}
	return s.syncThrough(written)
}

// syncAll syncs the whole file, whatever is known durable.
func (s *Store) syncAll() error { return s.syncThrough(s.flushed.Load()) }

// syncThrough syncs the file, which makes every record up to written, the
// last one written before, durable.
func (s *Store) syncThrough(written uint64) error {
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.unsynced.Store(0)
	s.raiseSynced(written)
	return nil
}

// raiseSynced records that every record up to lsn is durable.
func (s *Store) raiseSynced(lsn uint64) {
	for {
		old := s.synced.Load()
		if old >= lsn || s.synced.CompareAndSwap(old, lsn) {
			break
		}
	}
	s.pg.raise(wordSynced, lsn)
	s.mu.Lock()
	s.st.settle(s.synced.Load())
	s.mu.Unlock()
}

// publish makes the records up to lsn visible: readers in this process see
// the new high watermarks, other processes a new visible LSN in the shared
// page.
func (s *Store) publish(pubs []pub, lsn uint64) {
	s.publishPartitions(pubs)
	// This process has seen its own commit, but not one another process
	// published meanwhile (the writer lock is not held here): seen moves
	// only when nothing came between.
	c := s.pg.published(lsn)
	s.seen.CompareAndSwap(c-1, c)
}

// publishPartitions raises high watermarks and published extent sizes to
// what pubs say, never lowering them, and wakes the partitions' waiters.
// pubs come from the group or the records being published, not from the
// state, which may already hold the next group.
func (s *Store) publishPartitions(pubs []pub) {
	s.mu.Lock()
	for _, pb := range pubs {
		t := s.st.topics[pb.key.topic]
		if t == nil || pb.key.partition >= uint32(len(t.partitions)) {
			continue
		}
		p := t.partitions[pb.key.partition]
		p.hwm = max(p.hwm, pb.next)
		for i := range p.segments {
			if pb.extent == format.NoExtent {
				break
			}
			sg := &p.segments[i]
			if sg.extent == pb.extent {
				sg.visible = max(sg.visible, pb.size)
				break
			}
			sg.visible = sg.size // a segment before the last one written is complete
		}
	}
	s.mu.Unlock()
	for _, pb := range pubs {
		s.wake(pb.key)
	}
}
