package spool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// Handler handles one record for Workers. Returning nil acknowledges the
// record; records produced with tx are appended in the same commit as the
// acknowledgement. Returning an error leaves the record unacknowledged and
// stops Workers.Run, which returns the error: the record is delivered again
// when the group next runs. ctx is cancelled when the record's partition
// is taken from this member before the handler is done (the partition
// moved and RebalanceTimeout passed, or the group removed the member); the
// record is then delivered to the partition's new owner, and what the
// handler returns does not count.
//
// r and its fields are the handler's to keep.
type Handler func(ctx context.Context, r *Record, tx *Tx) error

// Ordering says which records a Workers pool handles one after another.
type Ordering int

const (
	// PerPartition handles the records of a partition one at a time, in
	// offset order: Kafka's consumer order.
	PerPartition Ordering = iota
	// PerKey handles the records of a key in a partition in offset order,
	// and records of different keys at once.
	PerKey
	// Unordered handles any records at once.
	Unordered
)

// Delivery is what a Workers pool promises about a record whose handler
// may not finish (a crash, a kill, a partition that moves).
type Delivery int

const (
	// AtLeastOnce acknowledges a record when its handler returns nil, and
	// commits the acknowledgements every CommitInterval and whenever a
	// partition moves: after a crash the records acknowledged since the
	// last commit are delivered again. Their Tx output was not committed
	// either (it commits with the acknowledgement), so it is produced once
	// all the same. The default.
	AtLeastOnce Delivery = iota
	// AtMostOnce commits a record's acknowledgement before its handler
	// runs: a record is never delivered twice, and one whose handler did
	// not finish is never delivered again. Tx output is committed after
	// the handler returns, on its own.
	AtMostOnce
	// ExactlyOnce commits acknowledgements with their Tx output without
	// waiting for an interval: as soon as a handler returns, the next
	// commit carries its record with every acknowledgement since the last
	// (the partitions' commits share one sync), and the worker goes on to
	// its next record meanwhile. After a crash no record whose
	// acknowledgement was committed is delivered again, its output is in
	// the file exactly once, and the few records not yet committed are
	// delivered again with no output in the file. For effects outside the
	// file, keep the position in the same database transaction as the
	// effect: see OffsetStore.
	ExactlyOnce
)

// OffsetStore is where a Workers pool whose handlers write to another
// database keeps its positions: in that database, in the same transaction
// as the effect, so that both commit or neither does. Handlers save
// r.Offset+1 for r's group, topic and partition; Position reads it back
// when the member takes the partition. It needs Ordering PerPartition.
//
// A handler that outlives its partition's move (past RebalanceTimeout, or
// in a process stopped past its SessionTimeout) could commit after the new
// owner read the position. To fence it, save Tx.Generation with the
// position and make the save fail when the stored generation is higher.
type OffsetStore interface {
	// Position returns the offset at which the group resumes a partition,
	// and whether one was saved.
	Position(ctx context.Context, group string, tp TopicPartition) (offset int64, ok bool, err error)
}

// WorkersOptions configure Workers.
type WorkersOptions struct {
	// ConsumerOptions configure the pool's group member: Group (needed),
	// Assignor, InstanceID, the timeouts, Durability, MaxPollBytes, Reset
	// and the rebalance callbacks. The auto-commit options do not apply:
	// the pool commits acknowledgements.
	ConsumerOptions
	// Topics are the topics the pool consumes.
	Topics []string
	// Pattern, when set, adds every topic whose whole name matches it (Go's
	// RE2 syntax), now and as topics are created, as
	// Consumer.SubscribePattern does.
	Pattern string
	// Workers is the number of goroutines that run the handler:
	// GOMAXPROCS when zero.
	Workers int
	// Ordering is PerPartition unless set.
	Ordering Ordering
	// Delivery is AtLeastOnce unless set.
	Delivery Delivery
	// MaxInFlight bounds the records handed to workers and not finished:
	// 1000 when zero. The pool stops reading at the bound; the poll that
	// reaches it may pass it, by up to MaxPollBytes of records.
	MaxInFlight int
	// CommitInterval is how often AtLeastOnce commits acknowledgements:
	// 100ms when zero.
	CommitInterval time.Duration
	// OffsetStore, when set, gives the position of each partition the
	// member takes, instead of the group's committed offset.
	OffsetStore OffsetStore
}

// Workers is a group member that feeds a pool of goroutines: it reads the
// partitions its group gives it, hands each record to a worker, and
// commits each record's acknowledgement on its own, so that after a crash
// or a hand-over no acknowledged record is delivered again and none that
// was not is skipped. Run it with Run.
type Workers struct {
	db      *DB
	opts    WorkersOptions
	handler Handler
	c       *Consumer
	base    context.Context // handlers' contexts derive from it

	mu        sync.Mutex
	space     sync.Cond // broadcast when inflight drops
	inflight  int
	lanes     map[laneKey]*lane
	unordered uint64
	acks      map[TopicPartition]*partitionAcks
	failed    error         // the first handler or commit error
	kick      chan struct{} // asks the committer for a commit now (ExactlyOnce)

	ready   []*lane   // lanes with records for a worker, in turn
	work    sync.Cond // signalled when ready gets a lane, broadcast at the end
	stopped bool      // set when the coordinator is done: workers exit when ready is empty
}

// NewWorkers returns a pool of workers for handler; Run starts it.
func (db *DB) NewWorkers(opts WorkersOptions, handler Handler) (*Workers, error) {
	if opts.Group == "" {
		return nil, ErrNoGroup
	}
	if err := store.ValidGroup(opts.Group); err != nil {
		return nil, err
	}
	if len(opts.Topics) == 0 && opts.Pattern == "" {
		return nil, errors.New("spool: Workers need at least one topic, or a pattern")
	}
	for _, t := range opts.Topics {
		if err := store.ValidTopicName(t); err != nil {
			return nil, err
		}
	}
	if opts.Pattern != "" {
		if _, err := compilePattern(opts.Pattern); err != nil {
			return nil, err
		}
	}
	if handler == nil {
		return nil, errors.New("spool: Workers need a handler")
	}
	if opts.OffsetStore != nil && opts.Ordering != PerPartition {
		return nil, errors.New("spool: an OffsetStore needs Ordering PerPartition: its position is the offset after the last record handled")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1000
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = 100 * time.Millisecond
	}
	opts.ConsumerOptions = opts.ConsumerOptions.withDefaults()
	w := &Workers{db: db, opts: opts, handler: handler, lanes: map[laneKey]*lane{},
		acks: map[TopicPartition]*partitionAcks{}, kick: make(chan struct{}, 1)}
	w.space.L = &w.mu
	w.work.L = &w.mu
	return w, nil
}

// Run joins the group and handles records until ctx ends or a handler
// fails. Then it stops reading, waits up to RebalanceTimeout for the
// records with workers, commits their acknowledgements and leaves the
// group, whose other members take its partitions at once. It returns nil
// when ctx ended, or the handler's error.
func (w *Workers) Run(ctx context.Context) error {
	copts := w.opts.ConsumerOptions
	copts.DisableAutoCommit = true
	user := copts
	copts.OnAssigned = func(tps []TopicPartition) { w.assigned(tps, user.OnAssigned) }
	copts.OnLost = func(tps []TopicPartition) { w.lost(tps, user.OnLost) }
	c, err := w.db.NewConsumer(&copts)
	if err != nil {
		return err
	}
	c.finalOffsets = w.finalOffsets
	w.c = c
	w.base = context.WithoutCancel(ctx)
	subscription := slices.Clone(w.opts.Topics)
	if w.opts.Pattern != "" {
		subscription = append(subscription, patternMark+w.opts.Pattern)
	}
	if err := c.subscribe(ctx, subscription); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for range w.opts.Workers {
		wg.Go(func() {
			l, j, ok := w.take(nil)
			for ok {
				w.handle(runCtx, stop, j)
				l, j, ok = w.take(l)
			}
		})
	}
	if w.opts.Delivery != AtMostOnce {
		wg.Go(func() { w.committer(runCtx) })
	}
	w.coordinate(runCtx)
	stop()
	// Closing the consumer hands every partition over: it waits for the
	// records with workers and commits their acknowledgements.
	closeErr := c.Close()
	w.mu.Lock()
	w.stopped = true
	w.work.Broadcast()
	w.mu.Unlock()
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.failed
	}
	if closeErr != nil && !errors.Is(closeErr, ErrUnknownMember) {
		return closeErr
	}
	return nil
}

// coordinate reads records and hands them to the workers until ctx ends.
func (w *Workers) coordinate(ctx context.Context) {
	for ctx.Err() == nil {
		w.mu.Lock()
		for w.inflight >= w.opts.MaxInFlight && ctx.Err() == nil && w.failed == nil {
			w.waitSpace(ctx)
		}
		failed := w.failed != nil
		w.mu.Unlock()
		if ctx.Err() != nil || failed {
			return
		}
		f, err := w.c.Poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.fail(err)
			}
			return
		}
		var jobs []job
		for r := range f.Records() {
			tp := TopicPartition{r.Topic, r.Partition}
			w.mu.Lock()
			a := w.acks[tp]
			w.mu.Unlock()
			if a == nil {
				continue // not this member's any more
			}
			jobs = append(jobs, job{r: r.Clone(), a: a})
		}
		if err := f.Err(); err != nil {
			w.fail(err)
			return
		}
		if w.opts.Delivery == AtMostOnce && !w.ackBefore(ctx, jobs) {
			return
		}
		for _, j := range jobs {
			j.a.deliver(j.r.Offset)
		}
		w.dispatch(jobs)
	}
}

// waitSpace waits for the in-flight count to drop or ctx to end; w.mu is
// held.
func (w *Workers) waitSpace(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.space.Broadcast()
		w.mu.Unlock()
	})
	w.space.Wait()
	stop()
}

// ackBefore commits, for AtMostOnce, the acknowledgements of records before
// any handler sees them.
func (w *Workers) ackBefore(ctx context.Context, jobs []job) bool {
	seqs := map[*partitionAcks]uint64{}
	for _, j := range jobs {
		j.a.deliver(j.r.Offset)
		if seq, ok := j.a.ack(j.r.Offset, nil); ok {
			seqs[j.a] = seq
		}
	}
	for a, seq := range seqs {
		if err := w.flush(ctx, a, seq); err != nil && !fenced(err) {
			w.fail(err)
			return false
		}
	}
	return true
}

// handle runs the handler for j and acknowledges its record.
func (w *Workers) handle(ctx context.Context, stop context.CancelFunc, j job) {
	a := j.a
	tx := &Tx{db: w.db, pool: true, generation: a.generation}
	err := w.handler(a.ctx, j.r, tx)
	if a.ctx.Err() != nil {
		// The partition went before the handler was done: its new owner
		// delivers the record again.
		a.abandon()
		return
	}
	if err != nil {
		a.abandon()
		w.fail(fmt.Errorf("spool: handler of %s/%d at offset %d: %w", j.r.Topic, j.r.Partition, j.r.Offset, err))
		stop()
		return
	}
	if w.opts.Delivery == AtMostOnce {
		a.abandon() // acknowledged before the handler ran
		if len(tx.records) > 0 {
			if _, err := w.db.s.Commit(ctx, &store.Txn{Appends: w.db.encodeOutputs(tx.records), Built: true, Durability: store.Durability(w.opts.Durability)}); err != nil {
				w.fail(err)
				stop()
			}
		}
		return
	}
	if _, ok := a.ack(j.r.Offset, tx.records); ok && w.opts.Delivery == ExactlyOnce {
		select {
		case w.kick <- struct{}{}:
		default: // a commit is due already
		}
	}
}

// fenced reports whether err says that the partition is no longer this
// member's: the acknowledgement is not committed, and the record goes to
// the new owner.
func fenced(err error) bool {
	return errors.Is(err, ErrNotOwner) || errors.Is(err, ErrUnknownMember)
}

func (w *Workers) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
	w.space.Broadcast()
}

// committer commits the acknowledgements of every partition, each
// CommitInterval for AtLeastOnce, whenever a handler finished for
// ExactlyOnce. The partitions' commits go to the store at once, which
// writes them with one sync.
func (w *Workers) committer(ctx context.Context) {
	var tick <-chan time.Time
	if w.opts.Delivery == AtLeastOnce {
		t := time.NewTicker(w.opts.CommitInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-w.kick:
		}
		w.mu.Lock()
		all := make([]*partitionAcks, 0, len(w.acks))
		for _, a := range w.acks {
			all = append(all, a)
		}
		w.mu.Unlock()
		var wg sync.WaitGroup
		for _, a := range all {
			if seq, ok := a.pending(); ok {
				wg.Go(func() {
					if err := w.flush(ctx, a, seq); err != nil && !fenced(err) && ctx.Err() == nil {
						w.fail(err)
					}
				})
			}
		}
		wg.Wait()
	}
}

// assigned starts tracking partitions the member took, from their
// committed offsets and acknowledgements, or from the OffsetStore.
func (w *Workers) assigned(tps []TopicPartition, user func([]TopicPartition)) {
	for _, tp := range tps {
		position, acked, err := w.start(tp)
		if err != nil {
			w.fail(err)
			continue
		}
		a := newPartitionAcks(w.base, tp, position, acked)
		a.generation = w.c.member.generationOf(tp)
		w.mu.Lock()
		w.acks[tp] = a
		w.mu.Unlock()
	}
	if user != nil {
		user(tps)
	}
}

// start returns where the member begins a partition it took.
func (w *Workers) start(tp TopicPartition) (int64, []store.OffsetRange, error) {
	if os := w.opts.OffsetStore; os != nil {
		off, ok, err := os.Position(w.base, w.opts.Group, tp)
		if err != nil {
			return 0, nil, fmt.Errorf("spool: offset store, %s/%d: %w", tp.Topic, tp.Partition, err)
		}
		if ok {
			if err := w.c.Seek(tp.Topic, tp.Partition, At(off)); err != nil {
				return 0, nil, err
			}
			// Seek clamps an offset out of the log; the tracker starts
			// where reading does.
			position, err := w.c.Position(tp.Topic, tp.Partition)
			return position, nil, err
		}
	}
	return w.c.startOf(tp)
}

// lost forgets partitions the group gave to others already.
func (w *Workers) lost(tps []TopicPartition, user func([]TopicPartition)) {
	for _, tp := range tps {
		w.forget(tp)
	}
	if user != nil {
		user(tps)
	}
}

// forget stops tracking tp: queued records are dropped, handlers still
// running have their contexts cancelled and their acknowledgements ignored.
func (w *Workers) forget(tp TopicPartition) *partitionAcks {
	w.mu.Lock()
	a := w.acks[tp]
	delete(w.acks, tp)
	w.mu.Unlock()
	if a == nil {
		return nil
	}
	w.dropQueued(tp)
	a.mu.Lock()
	a.gone = true
	a.mu.Unlock()
	a.cancel()
	return a
}

// finalOffsets hands partitions over: it drops their queued records, waits
// up to RebalanceTimeout for those with workers, commits every
// acknowledgement with its output, and returns the partitions' committed
// form to go with their release.
func (w *Workers) finalOffsets(ctx context.Context, tps []TopicPartition) []store.Offset {
	var all []*partitionAcks
	for _, tp := range tps {
		w.dropQueued(tp)
		w.mu.Lock()
		if a := w.acks[tp]; a != nil {
			all = append(all, a)
		}
		w.mu.Unlock()
	}
	wait, cancel := context.WithTimeout(ctx, w.opts.RebalanceTimeout)
	for _, a := range all {
		a.waitIdle(wait)
	}
	cancel()
	var offsets []store.Offset
	for _, a := range all {
		w.forget(a.tp)
		seq, _ := a.pending()
		// A handover that the end of Run cuts short commits nothing, which
		// is no failure: the records go again to the partition's next
		// owner, with their outputs.
		if err := w.flush(ctx, a, seq); err != nil && !fenced(err) && ctx.Err() == nil {
			w.fail(err)
		}
		a.mu.Lock()
		next, acked, _ := a.state()
		a.mu.Unlock()
		if w.opts.OffsetStore != nil {
			continue // the position is the OffsetStore's
		}
		offsets = append(offsets, store.Offset{Group: w.opts.Group, Topic: a.tp.Topic, Partition: a.tp.Partition,
			Offset: next, LeaderEpoch: -1, Acked: acked, Member: w.c.memberID()})
	}
	slices.SortFunc(offsets, func(a, b store.Offset) int {
		return compareTPs(TopicPartition{a.Topic, a.Partition}, TopicPartition{b.Topic, b.Partition})
	})
	return offsets
}

func (o Ordering) String() string {
	switch o {
	case PerPartition:
		return "PerPartition"
	case PerKey:
		return "PerKey"
	case Unordered:
		return "Unordered"
	}
	return fmt.Sprintf("Ordering(%d)", int(o))
}

func (d Delivery) String() string {
	switch d {
	case AtLeastOnce:
		return "AtLeastOnce"
	case AtMostOnce:
		return "AtMostOnce"
	case ExactlyOnce:
		return "ExactlyOnce"
	}
	return fmt.Sprintf("Delivery(%d)", int(d))
}
