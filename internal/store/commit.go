package store

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/spooldb/spool/internal/format"
)

// Append is one partition's part of a commit: whole Kafka RecordBatch v2
// batches, concatenated. The store assigns their base offsets on a copy; the
// caller's bytes are not changed.
//
// A batch with a producer id (0 or more) comes from an idempotent producer
// (see InitProducer) and is checked as a Kafka broker checks it: a retry of
// one of the producer's last five batches in the partition (same epoch and
// sequences) is a duplicate and is not written again; an older epoch fails
// the commit with ErrProducerFenced; a sequence that does not follow the
// producer's last batch (or, in a newer epoch, does not start at 0) fails it
// with ErrOutOfOrderSequence. A partition that remembers nothing of the
// producer (never seen, or expired, see Options.ProducerIDExpiration)
// accepts any sequence. The batches of a commit are checked in order, each
// against the state the batches before it leave, in this commit and in the
// commits before it. A Kafka producer sends one batch per partition in a
// request; an Append may hold several, and then writes those that are not
// duplicates.
type Append struct {
	Topic     string
	Partition int32
	Batches   []byte
}

// Offset is a consumer group's committed position in one partition.
type Offset struct {
	Group       string
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Acked are offsets above Offset acknowledged already, ascending and
	// disjoint: a consumer that resumes at Offset skips them.
	Acked []OffsetRange
	// Member, when set, makes the commit that of a group member: it fails
	// with ErrUnknownMember unless the member is in the group, and with
	// ErrNotOwner unless it owns the partition. Without it, the commit fails
	// with ErrGroupNotEmpty while the group has a live member.
	Member string
}

// OffsetRange is the offsets [Start, End).
type OffsetRange = format.OffsetRange

// Txn is an atomic commit: its appends and offsets are all visible, after a
// crash all present, or none are.
type Txn struct {
	Appends    []Append
	Offsets    []Offset
	Durability Durability
	// Built says that the batches were encoded in this process by
	// format.BatchBuilder, as spool's producer and transactions encode
	// them: the store checks their framing and headers but not their
	// checksums and records, which cost the caller's goroutine as much
	// again as building them did. Bytes from anywhere else (a Kafka client,
	// a file) must not set it.
	Built bool
}

// AppendResult is the outcome of one Append: where the batches it wrote
// landed. When every batch of the Append was a duplicate, nothing was
// written, Duplicate is set, and the offsets are those the batches got when
// they were first written (from the first batch's first to the last batch's
// last), and LogAppendTime the time the first was stamped with, as a Kafka
// broker answers a retried produce request.
type AppendResult struct {
	BaseOffset    int64 // the offset of the first record
	LastOffset    int64 // the offset of the last record
	LogAppendTime int64 // the time the broker set (Unix ms), or -1 (CreateTime topics)
	Duplicate     bool  // every batch was a retry of one already written
}

// maxMetadata is Kafka's offset.metadata.max.bytes default.
const maxMetadata = 4096

// opSizeLimit bounds the encoding of one Append, ExtentAlloc or LogStart
// operation, for estimates.
const opSizeLimit = 64

// Commit commits txn atomically and returns where each Append landed. It
// checks every batch (magic, checksum, size) before queueing, in the caller's
// goroutine, so the writer spends its time writing.
func (s *Store) Commit(ctx context.Context, txn *Txn) ([]AppendResult, error) {
	r, results, err := s.txnRequest(txn)
	if err != nil {
		return nil, err
	}
	if err := s.submit(ctx, r); err != nil {
		return nil, err
	}
	return results, nil
}

// CommitAsync queues txn like Commit but returns once it is queued; done
// receives the outcome later, unless CommitAsync returns an error. Commits
// queued one after another are applied in that order, which is what lets a
// producer keep several commits in flight and still number its batches.
// done runs on the store's syncer or writer goroutine: it must not block, nor wait for
// another commit.
func (s *Store) CommitAsync(ctx context.Context, txn *Txn, done func([]AppendResult, error)) error {
	r, results, err := s.txnRequest(txn)
	if err != nil {
		return err
	}
	r.complete = func(err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(results, nil)
	}
	return s.enqueue(ctx, r)
}

// txnRequest checks txn and returns the request that commits it, with the
// results its plan fills in.
func (s *Store) txnRequest(txn *Txn) (*request, []AppendResult, error) {
	estimate, carried := 0, 0
	for i, a := range txn.Appends {
		n, idempotent, err := checkBatches(a.Batches, txn.Built)
		if err != nil {
			return nil, nil, fmt.Errorf("append %d to %s/%d: %w", i, a.Topic, a.Partition, err)
		}
		// Each batch may need its own extent in the worst case, and so
		// start a run of its own, whose AppendData has its own length.
		estimate += (n+1)*2*opSizeLimit + idempotent*producerOpLimit
		carried += len(a.Batches) + (n+1)*binary.MaxVarintLen32
	}
	n, err := checkOffsets(txn.Offsets)
	if err != nil {
		return nil, nil, err
	}
	estimate += n
	results := make([]AppendResult, len(txn.Appends))
	r := &request{estimate: estimate, carried: carried, durability: txn.Durability, plan: func(w *batchWriter) error {
		return w.planTxn(txn, results)
	}}
	return r, results, nil
}

// checkBatches validates concatenated batches and returns how many there
// are, and how many of them come from an idempotent producer. Batches built
// in this process have their headers checked, not their checksums and
// records.
func checkBatches(b []byte, built bool) (n, idempotent int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: no batches", ErrInvalidBatch)
	}
	for len(b) > 0 {
		batch, rest, err := format.NextBatch(b)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: batch %d: %v", ErrInvalidBatch, n, err)
		}
		var h format.BatchHeader
		if built {
			h, err = format.ParseBatchHeader(batch)
		} else {
			h, err = format.ValidateBatch(batch)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: batch %d: %v", ErrInvalidBatch, n, err)
		}
		if h.ProducerID >= 0 {
			// Kafka's LogValidator refuses a negative base sequence with a
			// producer id; spool refuses a negative epoch too, which no
			// producer sends.
			if h.BaseSequence < 0 || h.ProducerEpoch < 0 {
				return 0, 0, fmt.Errorf("%w: batch %d: producer %d with epoch %d and base sequence %d",
					ErrInvalidBatch, n, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
			}
			idempotent++
		}
		b = rest
		n++
	}
	return n, idempotent, nil
}

// planTxn resolves and checks everything first, so that a bad request is
// rejected before it changes anything, then writes the batches and emits the
// record's operations. It parses each batch's header once, into w.plans,
// for the steps after it.
func (w *batchWriter) planTxn(txn *Txn, results []AppendResult) error {
	// The plans hold the caller's batches: the writer must not keep them
	// alive once the commit is planned.
	defer func() { clear(w.plans) }()
	w.appends, w.plans = w.appends[:0], w.plans[:0]
	idempotent := 0
	for _, a := range txn.Appends {
		p, err := w.s.lookup(a.Topic, a.Partition)
		if err != nil {
			return err
		}
		first := len(w.plans)
		for b := a.Batches; len(b) > 0; {
			// checkBatches checked the framing: the header says where the
			// next batch starts.
			h, _ := format.ParseBatchHeader(b)
			batch, rest := b[:h.Size()], b[h.Size():]
			if len(batch) > int(p.topic.config.MaxMessageBytes) {
				return fmt.Errorf("%w: a batch of %d bytes for %s/%d, whose max.message.bytes is %d",
					ErrRecordTooLarge, len(batch), a.Topic, a.Partition, p.topic.config.MaxMessageBytes)
			}
			if h.ProducerID >= 0 {
				idempotent++
			}
			w.plans = append(w.plans, batchPlan{batch: batch, h: h})
			b = rest
		}
		w.appends = append(w.appends, plannedAppend{p: p, first: first, end: len(w.plans)})
	}
	offsets, err := w.planOffsets(txn.Offsets)
	if err != nil {
		return err
	}
	now := w.now
	if idempotent > 0 {
		if err := w.checkProducers(idempotent, now.UnixNano()); err != nil {
			return err
		}
	}
	for i, a := range w.appends {
		plans := w.plans[a.first:a.end]
		var r AppendResult
		var err error
		if idempotent > 0 {
			r, err = w.appendPlanned(a.p, plans, now.UnixMilli())
		} else {
			r, err = w.appendBatches(a.p, plans, now.UnixMilli())
		}
		if err != nil {
			return err
		}
		results[i] = r
	}
	return w.emitAll(offsets...)
}

// plannedAppend is an Append of the commit being planned: its partition,
// and its batches' plans, w.plans[first:end].
type plannedAppend struct {
	p          *partition
	first, end int
}

// appendBatches copies the batches of plans into p's extents, assigning
// offsets from p's log end, and emits the operations that publish them.
func (w *batchWriter) appendBatches(p *partition, plans []batchPlan, nowMs int64) (AppendResult, error) {
	s := w.s
	key := partitionKey{p.topic.id, p.index}
	res := AppendResult{BaseOffset: p.next, LogAppendTime: -1}
	if p.topic.config.LogAppendTime {
		res.LogAppendTime = nowMs
	}
	payload := s.meta.ExtentSize - format.ExtentHeaderSize
	var run format.Append // the batches written since the last emitted Append
	runData := 0          // where run's batches start in w.data
	next := p.next
	flushRun := func() error {
		if run.End == run.Start {
			return nil
		}
		run.NextOffset = next
		w.touch(key)
		return w.publishRun(run, w.data[runData:])
	}
	for i := range plans {
		bp := &plans[i]
		size := uint32(len(bp.batch))
		if len(p.segments) == 0 || p.segments[len(p.segments)-1].size+(run.End-run.Start)+size > payload {
			if err := flushRun(); err != nil {
				return res, err
			}
			if err := w.allocData(p, next); err != nil {
				return res, err
			}
			run = format.Append{}
		}
		sg := &p.segments[len(p.segments)-1]
		if run.End == run.Start {
			run = format.Append{Topic: key.topic, Partition: key.partition, Extent: sg.extent, Start: sg.size, End: sg.size,
				FirstOffset: next, MaxTimestamp: -1}
			runData = len(w.data)
		}
		if err := s.ensureAllocated(sg.extent, run.End+size); err != nil {
			return res, err
		}
		copied := w.reserve(s.payloadOffset(sg.extent, run.End), len(bp.batch))
		copy(copied, bp.batch)
		format.SetBaseOffset(copied, next)
		maxTimestamp := bp.h.MaxTimestamp
		if p.topic.config.LogAppendTime {
			format.SetMaxTimestampLogAppend(copied, nowMs)
			maxTimestamp = nowMs
		}
		run.End += size
		run.MaxTimestamp = max(run.MaxTimestamp, maxTimestamp)
		next += int64(bp.h.LastOffsetDelta) + 1
	}
	res.LastOffset = next - 1
	return res, flushRun()
}

// maxAllocTracked bounds the extents whose allocation the writer remembers.
const maxAllocTracked = 4096

// allocData gives p a new extent whose first offset is base.
func (w *batchWriter) allocData(p *partition, base int64) error {
	e, gen, err := w.takeExtent()
	if err != nil {
		return err
	}
	h := format.ExtentHeader{Kind: format.KindData, Generation: gen, Topic: p.topic.id, Partition: p.index, Base: base}
	w.s.alloced[e] = 0
	if err := w.s.ensureAllocated(e, allocStep); err != nil {
		return err
	}
	off := format.ExtentOffset(e, w.s.meta.ExtentSize)
	w.write(off, h.AppendTo(nil))
	if w.carry {
		// Recovery checks the header of every extent a record
		// allocates: the syncer makes it durable before the record.
		start := len(w.hdata)
		w.hdata = h.AppendTo(w.hdata)
		w.hwrites = append(w.hwrites, pendingWrite{off: off, start: start, end: len(w.hdata)})
	}
	return w.emit(format.ExtentAlloc{Extent: e, Generation: gen, Topic: p.topic.id, Partition: p.index, BaseOffset: base})
}

// ensureAllocated allocates disk space in data extent e up to payload byte
// end, a step ahead, so that the writes of most commits land in allocated
// space and their syncs need not also grow the file.
func (s *Store) ensureAllocated(e uint32, end uint32) error {
	have, ok := s.alloced[e]
	if ok && end <= have {
		return nil
	}
	if !ok && len(s.alloced) >= maxAllocTracked {
		clear(s.alloced) // forgetting costs only a redundant allocation
	}
	limit := s.meta.ExtentSize - format.ExtentHeaderSize
	upto := min(max(end, have)+allocStep, limit)
	from, to := s.payloadOffset(e, have), s.payloadOffset(e, upto)
	if s.zeroData {
		// A sync after writes into blocks already written records no
		// allocation, and costs half as much (BenchmarkSyncWrite): while
		// commits wait for syncs, space past the end of the file is
		// written with zeros rather than allocated.
		if err := s.zeroPastEnd(from, to); err != nil {
			return err
		}
	}
	if err := s.f.Allocate(from, to-from); err != nil {
		return err
	}
	s.alloced[e] = upto
	return nil
}
