package store

// Idempotent producers, as Kafka's broker has them. The rules follow Kafka's
// own code (apache/kafka, storage/.../log/ProducerAppendInfo.java
// checkProducerEpoch and checkSequence, ProducerStateEntry.java
// findDuplicateBatch and NUM_BATCHES_TO_RETAIN, ProducerStateManager.java
// isProducerExpired, UnifiedLog.analyzeAndValidateProducerState, and
// LogValidator's check of the base sequence); where spool differs, the
// comment says so.
//
// Transactions will add their own operations (a transaction's first offset
// per producer, markers); the state here has room for them beside epoch and
// batches.

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/spooldb/spool/internal/format"
)

// producerBatchesKept is how many of a producer's last batches a partition
// remembers to recognise a retried one: Kafka's NUM_BATCHES_TO_RETAIN, which
// is also the most requests an idempotent Kafka producer keeps in flight.
const producerBatchesKept = 5

// producerOpLimit bounds the encoding of one ProducerBatch operation.
const producerOpLimit = 80

// ProducerID identifies an idempotent producer: its batches carry ID and
// Epoch in their headers and number their records from sequence 0.
type ProducerID struct {
	ID    int64
	Epoch int16
}

// ProducerState is what a partition remembers of an idempotent producer:
// its epoch and its last batch (Kafka's DescribeProducers reports these).
type ProducerState struct {
	ProducerID   int64
	Epoch        int16
	LastSequence int32
	LastOffset   int64
	LastAppend   int64 // Unix nanoseconds of the last batch's append, the writer's clock
}

// producerState is a partition's state of one producer id.
type producerState struct {
	epoch   int16
	batches []producerBatch // oldest first; never empty in the state
}

// producerBatch is one appended batch of a producer, as the journal's
// ProducerBatch operation records it.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	time                    int64 // Unix nanoseconds
}

func (e *producerState) last() producerBatch { return e.batches[len(e.batches)-1] }

// add records a batch of epoch: a new epoch forgets the batches of the old,
// and only the last producerBatchesKept are kept.
func (e *producerState) add(epoch int16, b producerBatch) {
	if e.epoch != epoch {
		e.epoch, e.batches = epoch, e.batches[:0]
	}
	if len(e.batches) == producerBatchesKept {
		e.batches = append(e.batches[:0], e.batches[1:]...)
	}
	e.batches = append(e.batches, b)
}

func (e *producerState) clone() *producerState {
	if e == nil {
		return &producerState{}
	}
	return &producerState{epoch: e.epoch, batches: slices.Clone(e.batches)}
}

// lastSequence is the sequence of a batch's last record: Kafka's
// DefaultRecordBatch.incrementSequence, which wraps from MaxInt32 to 0.
func lastSequence(base, lastOffsetDelta int32) int32 {
	return int32((int64(base) + int64(lastOffsetDelta)) % (math.MaxInt32 + 1))
}

// nextSequence is the sequence that follows seq.
func nextSequence(seq int32) int32 {
	if seq == math.MaxInt32 {
		return 0
	}
	return seq + 1
}

// check applies Kafka's rules to a batch of epoch with sequences
// [first, last] against e, the producer's state in the partition (nil or
// no batches: no state). It returns the batch the new one duplicates, if
// any.
//
//   - No state (never seen, or expired): any sequence is accepted, as Kafka
//     does when the producer's entry has no epoch.
//   - The same epoch and the sequences of one of the last five batches: a
//     duplicate, checked first, as Kafka checks before validating.
//   - A lower epoch: ErrProducerFenced (Kafka: INVALID_PRODUCER_EPOCH).
//   - A higher epoch: the sequences restart, so first must be 0.
//   - The same epoch: first must follow the last batch's last sequence.
func (e *producerState) check(epoch int16, first, last int32) (*producerBatch, error) {
	if e == nil || len(e.batches) == 0 {
		return nil, nil
	}
	if epoch == e.epoch {
		for i := range e.batches {
			if b := &e.batches[i]; b.firstSeq == first && b.lastSeq == last {
				return b, nil
			}
		}
	}
	switch {
	case epoch < e.epoch:
		return nil, fmt.Errorf("%w: epoch %d is older than the epoch %d last seen", ErrProducerFenced, epoch, e.epoch)
	case epoch > e.epoch && first != 0:
		return nil, fmt.Errorf("%w: the first batch of epoch %d (epoch %d last seen) starts at sequence %d, not 0",
			ErrOutOfOrderSequence, epoch, e.epoch, first)
	case epoch == e.epoch && first != nextSequence(e.last().lastSeq):
		return nil, fmt.Errorf("%w: epoch %d: a batch of sequences %d to %d, expected %d next",
			ErrOutOfOrderSequence, epoch, first, last, nextSequence(e.last().lastSeq))
	}
	return nil, nil
}

func (s *state) applyProducerInit(o format.ProducerInit) error {
	if o.ProducerID < 0 || o.ProducerID == math.MaxInt64 || o.Epoch < 0 {
		return fmt.Errorf("producer id %d epoch %d initialised", o.ProducerID, o.Epoch)
	}
	s.nextProducerID = max(s.nextProducerID, o.ProducerID+1)
	return nil
}

func (s *state) applyProducerBatch(o format.ProducerBatch) error {
	p, err := s.partition(o.Topic, o.Partition)
	if err != nil {
		return err
	}
	switch {
	case o.ProducerID < 0 || o.FirstSeq < 0 || o.LastSeq < 0:
		return fmt.Errorf("producer batch of producer %d, sequences %d to %d", o.ProducerID, o.FirstSeq, o.LastSeq)
	case o.FirstOffset < 0 || o.LastOffset < o.FirstOffset || o.LastOffset >= p.next:
		return fmt.Errorf("producer batch of offsets [%d, %d] in %s/%d, whose log ends at %d", o.FirstOffset, o.LastOffset, p.topic.name, p.index, p.next)
	}
	e := p.producers[o.ProducerID]
	if e == nil {
		if p.producers == nil {
			p.producers = map[int64]*producerState{}
		}
		e = &producerState{epoch: o.Epoch}
		p.producers[o.ProducerID] = e
	}
	e.add(o.Epoch, producerBatch{firstSeq: o.FirstSeq, lastSeq: o.LastSeq, firstOffset: o.FirstOffset, lastOffset: o.LastOffset, time: o.Time})
	// Batches may carry ids this file never handed out (copied from a Kafka
	// cluster, say): InitProducer must not hand them out later.
	if o.ProducerID < math.MaxInt64 {
		s.nextProducerID = max(s.nextProducerID, o.ProducerID+1)
	}
	return nil
}

// expireProducers forgets the producers whose last batch was appended at
// until or earlier, in every partition.
func (s *state) expireProducers(until int64) {
	for _, t := range s.topics {
		for _, p := range t.partitions {
			maps.DeleteFunc(p.producers, func(_ int64, e *producerState) bool { return e.last().time <= until })
		}
	}
}

// expiredUntil returns the time up to which a producer's last batch makes it
// expire as of now (Kafka's isProducerExpired: now - last >= expiration),
// and whether any producer of the state is that old.
func (s *Store) expiredUntil() (int64, bool) {
	until := s.opts.Now().Add(-s.opts.ProducerIDExpiration).UnixNano()
	for _, t := range s.st.topics {
		for _, p := range t.partitions {
			for _, e := range p.producers {
				if e.last().time <= until {
					return until, true
				}
			}
		}
	}
	return until, false
}

// appendProducers encodes a partition's producers for a checkpoint: each
// one's batches, oldest first, rebuild it.
func appendProducers(b []byte, p *partition) []byte {
	for _, id := range slices.Sorted(maps.Keys(p.producers)) {
		e := p.producers[id]
		for _, x := range e.batches {
			b = format.AppendOp(b, format.ProducerBatch{Topic: p.topic.id, Partition: p.index, ProducerID: id, Epoch: e.epoch,
				FirstSeq: x.firstSeq, LastSeq: x.lastSeq, FirstOffset: x.firstOffset, LastOffset: x.lastOffset, Time: x.time})
		}
	}
	return b
}

// InitProducer allocates a new producer id, at epoch 0, unique in the file
// across processes. It returns once the allocation is committed, as durable
// as the file's durability makes commits.
func (s *Store) InitProducer(ctx context.Context) (ProducerID, error) {
	var id ProducerID
	err := s.submit(ctx, &request{estimate: opSizeLimit, plan: func(w *batchWriter) error {
		next := w.s.st.nextProducerID
		if next == math.MaxInt64 {
			return fmt.Errorf("spool: every producer id is taken")
		}
		id = ProducerID{ID: next}
		return w.emit(format.ProducerInit{ProducerID: id.ID, Epoch: id.Epoch})
	}})
	if err != nil {
		return ProducerID{}, err
	}
	return id, nil
}

// Producers returns the idempotent producers a partition remembers, by id.
func (s *Store) Producers(topic string, partition int32) ([]ProducerState, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return nil, err
	}
	out := make([]ProducerState, 0, len(p.producers))
	for id, e := range p.producers {
		l := e.last()
		out = append(out, ProducerState{ProducerID: id, Epoch: e.epoch, LastSequence: l.lastSeq, LastOffset: l.lastOffset, LastAppend: l.time})
	}
	slices.SortFunc(out, func(a, b ProducerState) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out, nil
}

// afterDuplicate makes the next sync of this process cover every record it
// has applied. A duplicate's acknowledgement promises what its original's
// did not always: with DurabilitySync, that the batch is durable. Its
// original may be a record another process wrote and did not sync, which
// this process's syncs cover (they sync the file) but would skip while this
// process has written nothing since its last one. It runs on the writer
// goroutine.
func (s *Store) afterDuplicate() {
	if lsn := s.st.lsn; lsn > s.flushed.Load() {
		s.flushed.Store(lsn)
	}
}

// seqKey names a producer in a partition.
type seqKey struct {
	part partitionKey
	id   int64
}

// batchPlan is a batch of the commit being planned, its header, and what
// the commit does with it: write it, or skip it as a duplicate. For an
// idempotent batch, pb is the ProducerBatch the commit emits (the offsets
// it will get) or, for a duplicate, the batch it duplicates; for the other
// batches pb.ProducerID is -1 and pb.FirstOffset the offset the batch will
// get.
type batchPlan struct {
	batch []byte
	h     format.BatchHeader
	dup   bool
	pb    format.ProducerBatch
}

// checkProducers checks the idempotent batches of the commit being planned
// (idempotent of them), each against the state as the batches before it (of
// earlier commits, and of this one) leave it, and fills in the plan of
// every batch. It changes nothing: a batch rejected rejects the commit.
func (w *batchWriter) checkProducers(idempotent int, now int64) error {
	copies := w.producerCopies(idempotent)
	// The log ends as the Appends before leave them, kept only when
	// several Appends may go to one partition.
	var logEnds map[partitionKey]int64
	if len(w.appends) > 1 {
		logEnds = make(map[partitionKey]int64, len(w.appends))
	}
	for _, a := range w.appends {
		p := a.p
		key := partitionKey{p.topic.id, p.index}
		n, ok := logEnds[key]
		if !ok {
			n = p.next
		}
		for i := a.first; i < a.end; i++ {
			bp := &w.plans[i]
			h := bp.h
			bp.pb = format.ProducerBatch{ProducerID: -1, FirstOffset: n}
			if h.ProducerID >= 0 {
				copied := copies[seqKey{key, h.ProducerID}]
				e := copied
				if e == nil {
					e = p.producers[h.ProducerID]
				}
				last := lastSequence(h.BaseSequence, h.LastOffsetDelta)
				dup, err := e.check(h.ProducerEpoch, h.BaseSequence, last)
				if err != nil {
					return fmt.Errorf("%s/%d: producer %d: %w", p.topic.name, p.index, h.ProducerID, err)
				}
				bp.pb = format.ProducerBatch{Topic: key.topic, Partition: key.partition, ProducerID: h.ProducerID,
					Epoch: h.ProducerEpoch, FirstSeq: h.BaseSequence, LastSeq: last, FirstOffset: n,
					LastOffset: n + int64(h.LastOffsetDelta), Time: now}
				switch {
				case dup != nil:
					bp.dup = true
					bp.pb.FirstOffset, bp.pb.LastOffset, bp.pb.Time = dup.firstOffset, dup.lastOffset, dup.time
				case copied != nil:
					copied.add(h.ProducerEpoch, producerBatch{firstSeq: h.BaseSequence, lastSeq: last,
						firstOffset: bp.pb.FirstOffset, lastOffset: bp.pb.LastOffset, time: now})
				}
			}
			if !bp.dup {
				n += int64(h.LastOffsetDelta) + 1
			}
		}
		if logEnds != nil {
			logEnds[key] = n
		}
	}
	return nil
}

// producerCopies returns a copy of the state of each producer that has
// several of the commit's idempotent batches (idempotent of them) in one
// partition, for checkProducers to advance batch by batch; nil stands for
// the others. A producer's only batch in a partition, which is what almost
// every commit holds, is checked against the partition's state itself,
// sparing the copy.
func (w *batchWriter) producerCopies(idempotent int) map[seqKey]*producerState {
	if idempotent < 2 {
		return nil
	}
	copies := make(map[seqKey]*producerState, idempotent)
	for _, a := range w.appends {
		key := partitionKey{a.p.topic.id, a.p.index}
		for i := a.first; i < a.end; i++ {
			id := w.plans[i].h.ProducerID
			if id < 0 {
				continue
			}
			sk := seqKey{key, id}
			switch e, seen := copies[sk]; {
			case !seen:
				copies[sk] = nil
			case e == nil:
				copies[sk] = a.p.producers[id].clone()
			}
		}
	}
	return copies
}

// appendPlanned writes the batches of an Append (plans) that are not
// duplicates, in runs of contiguous batches, then emits the ProducerBatch
// of each idempotent batch written. With every batch a duplicate, the
// result carries the original offsets of the first and last (and append
// time) and Duplicate.
func (w *batchWriter) appendPlanned(p *partition, plans []batchPlan, nowMs int64) (AppendResult, error) {
	res := AppendResult{BaseOffset: -1, LastOffset: -1, LogAppendTime: -1}
	flush := func(run []batchPlan) error {
		if len(run) == 0 {
			return nil
		}
		r, err := w.appendBatches(p, run, nowMs)
		if err != nil {
			return err
		}
		if want := run[0].pb.FirstOffset; r.BaseOffset != want {
			return fmt.Errorf("internal error: batches planned at offset %d landed at %d", want, r.BaseOffset)
		}
		if res.BaseOffset < 0 {
			res.BaseOffset, res.LogAppendTime = r.BaseOffset, r.LogAppendTime
		}
		res.LastOffset = r.LastOffset
		return nil
	}
	start := 0 // the first batch of the run
	for i := range plans {
		if plans[i].dup {
			if err := flush(plans[start:i]); err != nil {
				return res, err
			}
			w.s.afterDuplicate()
			start = i + 1
		}
	}
	if err := flush(plans[start:]); err != nil {
		return res, err
	}
	for i := range plans {
		if bp := &plans[i]; !bp.dup && bp.pb.ProducerID >= 0 {
			if err := w.emit(bp.pb); err != nil {
				return res, err
			}
		}
	}
	if res.BaseOffset < 0 {
		// Every batch was a duplicate. Kafka answers a duplicate with the
		// time it recorded for the batch: on a LogAppendTime topic, the
		// append time it stamped.
		first, last := plans[0].pb, plans[len(plans)-1].pb
		res = AppendResult{BaseOffset: first.FirstOffset, LastOffset: last.LastOffset, LogAppendTime: -1, Duplicate: true}
		if p.topic.config.LogAppendTime {
			res.LogAppendTime = first.Time / int64(time.Millisecond)
		}
	}
	return res, nil
}
