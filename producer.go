package spool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// ProducerOptions configure a Producer. A nil *ProducerOptions means the
// defaults, which are those of Kafka's producer where Kafka has one.
type ProducerOptions struct {
	// Partitioner chooses each record's partition: DefaultPartitioner when
	// zero.
	Partitioner Partitioner
	// Compression compresses each batch: NoCompression when zero.
	Compression Compression
	// Linger is how long a batch waits for more records before it is
	// written. Zero (Kafka's linger.ms=0) writes at once when nothing is
	// being written, and otherwise gathers the records that arrive while
	// the last commit completes: batches grow with the load by themselves.
	Linger time.Duration
	// BatchBytes bounds a batch: 1 MiB when zero, and never more than the
	// topic's max.message.bytes.
	BatchBytes int
	// MaxBufferedBytes bounds the records produced and not yet
	// acknowledged; Produce blocks while they would exceed it. 64 MiB when
	// zero.
	MaxBufferedBytes int
	// Durability is the durability of the producer's commits:
	// the DB's when zero.
	Durability Durability
	// DisableIdempotence sends batches without a producer id and sequence
	// numbers. Idempotence is on by default, as in Kafka since 3.0: a batch
	// retried after an error whose outcome was unknown is written once.
	DisableIdempotence bool
	// AutoCreateTopics creates a topic that does not exist on its first
	// record, with AutoCreatePartitions partitions (1 when zero), instead
	// of failing the record with ErrUnknownTopic.
	AutoCreateTopics     bool
	AutoCreatePartitions int
	// DeliveryTimeout bounds the retries of a batch whose commit failed
	// with an error that may pass (Kafka's delivery.timeout.ms): 2 minutes
	// when zero.
	DeliveryTimeout time.Duration
}

func (o ProducerOptions) withDefaults() ProducerOptions {
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = 64 << 20
	}
	if o.AutoCreatePartitions <= 0 {
		o.AutoCreatePartitions = 1
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 2 * time.Minute
	}
	return o
}

// Producer sends records to the topics of a DB. It gathers them into one
// batch per partition and commits the batches of all partitions together, one
// commit at a time: while a commit is being written and synced, the next
// batches fill. Records are acknowledged through the callback of Produce, the
// Future of Send, or the return of ProduceSync, once their commit has the
// producer's durability.
//
// A Producer is safe for concurrent use, and one Producer shared by many
// goroutines batches better than one each.
type Producer struct {
	db   *DB
	opts ProducerOptions
	id   producerID
	// commit queues a commit and returns; done gets its outcome, on the
	// store's goroutine (Store.CommitAsync, which tests wrap).
	commit func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error
	clock  stampClock // stamps the records produced without a timestamp

	mu        sync.Mutex
	topics    map[string]*producerTopic
	lastTopic *producerTopic       // the topic of the last record, looked up first
	active    []*producerPartition // partitions with batches open or ready
	buffered  int                  // bytes of records not yet acknowledged
	unacked   int                  // records not yet acknowledged
	flushing  int                  // Flush calls waiting
	closing   bool
	// committing is set while a commit is out, from the moment its batches
	// are taken until the sender has acknowledged them. One commit at a
	// time keeps every partition's sequence numbers in commit order. Who
	// sets it (the sender, or the goroutine whose record found the
	// producer idle) owns out, compressed and the partitions' seq until
	// the sender clears it.
	committing bool
	oneByOne   bool          // the last commit held one record
	waiting    int           // goroutines waiting on changed
	changed    chan struct{} // closed and replaced when buffered or unacked fall
	kick       chan struct{} // wakes the sender
	landed     chan struct{} // tells the sender that out's commit has its outcome
	landedHere chan struct{} // tells writeAndAcknowledge that out's commit has its outcome
	syncCalls  atomic.Uint64 // numbers the ProduceSync calls, which tag their records
	sent       chan struct{} // closed when the sender ends

	scratch      []headerBytes                     // Produce's header conversion, under mu
	free         []*batch                          // acknowledged batches for reuse, under mu
	out          flight                            // the commit out
	onLanded     func([]store.AppendResult, error) // p.land, made a func value once, not per commit
	onLandedHere func([]store.AppendResult, error) // p.landHere, likewise
	compressed   []byte                            // the buffer for compressing the batches of out
}

// NewProducer returns a producer of records into db.
func (db *DB) NewProducer(opts *ProducerOptions) (*Producer, error) {
	if opts == nil {
		opts = &ProducerOptions{}
	}
	o := opts.withDefaults()
	if o.Compression < NoCompression || o.Compression > Zstd {
		return nil, fmt.Errorf("spool: unknown compression %d", o.Compression)
	}
	p := &Producer{db: db, opts: o, id: noProducerID, commit: db.s.CommitAsync, topics: map[string]*producerTopic{},
		changed: make(chan struct{}), kick: make(chan struct{}, 1), landed: make(chan struct{}, 1), landedHere: make(chan struct{}, 1), sent: make(chan struct{})}
	p.onLanded, p.onLandedHere = p.land, p.landHere
	if !o.DisableIdempotence {
		id, err := db.initProducerID()
		if err != nil {
			return nil, err
		}
		p.id = id
	}
	go p.send()
	return p, nil
}

// Produce queues r and returns; done (which may be nil) is called once r is
// written, with r's Partition, Offset and Timestamp set, or has failed. The
// callbacks of one partition are called in the order of its records, on the
// producer's goroutine: they should be quick. ctx bounds only the wait for
// buffer space (MaxBufferedBytes) and for creating a topic.
func (p *Producer) Produce(ctx context.Context, r *Record, done func(*Record, error)) {
	if done == nil {
		done = func(*Record, error) {}
	}
	write, err := p.produce(ctx, r, done, 0)
	switch {
	case err != nil:
		done(r, err)
	case write:
		// The producer was idle: committing r's batch here saves waking
		// the sender for it, a goroutine wake on the way of every record
		// produced one at a time. The sender still acknowledges it.
		p.write()
	}
}

// ProduceSync produces records and waits until every one is written or has
// failed; it returns the errors of the records that failed, joined. With a
// Linger, it waits for it: ProduceSync does not hurry a batch.
func (p *Producer) ProduceSync(ctx context.Context, records ...*Record) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	wg.Add(len(records))
	done := func(r *Record, err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		wg.Done()
	}
	call := p.syncCalls.Add(1)
	for _, r := range records {
		if _, err := p.produce(ctx, r, done, call); err != nil {
			done(r, err)
		}
	}
	if p.takeOut() {
		p.writeAndAcknowledge(call)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// takeOut takes the ready batches into out, as the sender would, for the
// caller to commit, unless a commit is out (the sender collects when it
// lands) or a Linger holds the batches (the sender is woken to time it).
func (p *Producer) takeOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.committing {
		return false
	}
	if p.opts.Linger > 0 {
		p.wakeSender()
		return false
	}
	// Committing already, so that the batches collect closes do not wake
	// the sender, which would find nothing to do.
	p.committing = true
	p.collect()
	p.committing = len(p.out.batches) > 0
	return p.committing
}

// Future is the outcome of a record produced with Send.
type Future struct {
	done chan struct{}
	rec  *Record
	err  error
}

// Send produces r like Produce and returns its Future.
func (p *Producer) Send(ctx context.Context, r *Record) *Future {
	f := &Future{done: make(chan struct{})}
	p.Produce(ctx, r, func(r *Record, err error) {
		f.rec, f.err = r, err
		close(f.done)
	})
	return f
}

// Done is closed once the record is written or has failed.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait waits until the record is written and returns it, or returns why it
// failed, or ctx's error if ctx ends first (the record may still be
// written).
func (f *Future) Wait(ctx context.Context) (*Record, error) {
	select {
	case <-f.done:
		return f.rec, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Flush writes every buffered record, without waiting for any Linger, and
// waits until all are acknowledged. Records produced while it waits are
// waited for too, as in franz-go: a Flush under a constant stream of
// records returns when the stream pauses.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	p.flushing++
	p.wakeSender()
	defer func() {
		p.mu.Lock()
		p.flushing--
		p.mu.Unlock()
	}()
	for p.unacked > 0 {
		if err := p.waitChange(ctx); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	p.mu.Unlock()
	return nil
}

// Close writes every buffered record, waits for them, and stops the
// producer. Records produced after Close began fail with ErrProducerClosed.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		<-p.sent
		return ErrProducerClosed
	}
	p.closing = true
	p.wakeSender()
	p.mu.Unlock()
	<-p.sent
	return nil
}

// wakeSender wakes the sender goroutine unless a wake is pending.
func (p *Producer) wakeSender() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// signal wakes the goroutines that wait for buffer space or acknowledgements.
// p.mu is held.
func (p *Producer) signal() {
	if p.waiting > 0 {
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// waitChange waits until buffered or unacked fall or ctx ends; p.mu is
// held, and released while it waits.
func (p *Producer) waitChange(ctx context.Context) error {
	changed := p.changed
	p.waiting++
	p.mu.Unlock()
	var err error
	select {
	case <-changed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	p.waiting--
	return err
}

// stampClock reads the wall clock for the timestamps the producer stamps on
// records. time.Now reads two clocks, the wall clock and the monotonic one
// (about 75 ns a call on a VM, a third of a small record's cost); stampClock
// reads the monotonic clock alone and adds what it measures to a reading of
// time.Now taken at most a second earlier. Both clocks run at the same rate
// (NTP slews both), so a stamp is the wall clock of the moment, less the
// few tens of nanoseconds between time.Now's two reads; only a step of the
// wall clock shows late, by up to that second. It is safe for concurrent
// use, so that Produce reads it before taking the producer's lock.
type stampClock struct {
	base atomic.Pointer[clockReading]
}

// clockReading is a reading of time.Now, with its monotonic clock, and its
// wall clock in Unix nanoseconds (not negative).
type clockReading struct {
	at       time.Time
	unixNano int64
}

// stampClockRebase is how long a stampClock counts on a base reading.
const stampClockRebase = time.Second

// nowMilli returns the wall clock in Unix milliseconds.
func (c *stampClock) nowMilli() int64 {
	if base := c.base.Load(); base != nil {
		// Since reads only the monotonic clock, which base.at has.
		if since := time.Since(base.at); since < stampClockRebase {
			return (base.unixNano + int64(since)) / int64(time.Millisecond)
		}
	}
	now := time.Now()
	if ns := now.UnixNano(); ns >= 0 {
		// Before 1970 the division above would round the wrong way: such a
		// clock is read with time.Now every time.
		c.base.Store(&clockReading{at: now, unixNano: ns})
	}
	return now.UnixMilli()
}
