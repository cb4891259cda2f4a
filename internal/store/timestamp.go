package store

import (
	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
)

// OffsetForTime returns the earliest offset whose record timestamp is at or
// after ts (Unix milliseconds), as Kafka's ListOffsets does, or the high
// watermark when no record is that late. Like Kafka's time index, it finds
// the first extent and batch whose largest timestamp reaches ts, so a record
// stamped out of order before a later one is found by the later one.
func (s *Store) OffsetForTime(topic string, partition int32, ts int64) (int64, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	for i := 0; ; i++ {
		plan, done, err := s.planTimeRead(topic, partition, ts, i)
		if err != nil || done {
			return plan.hwm, err
		}
		found := int64(-1)
		err = s.walkBatches(plan, minReadChunk, func(b []byte, h format.BatchHeader, _ uint32) bool {
			if h.MaxTimestamp < ts || h.LastOffset() < plan.logStart {
				return true
			}
			found = max(recordAtTime(b, h, ts), plan.logStart)
			return false
		})
		if err != nil {
			return 0, err
		}
		if found >= 0 {
			return found, nil
		}
	}
}

// planTimeRead plans a read of the skip-th extent of a partition whose
// largest timestamp reaches ts; done when there is none.
func (s *Store) planTimeRead(topic string, partition int32, ts int64, skip int) (plan readPlan, done bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return plan, true, err
	}
	plan = readPlan{hwm: p.hwm, logStart: p.logStart}
	for _, sg := range p.segments {
		if sg.next <= p.logStart || sg.maxTimestamp < ts || sg.visible == 0 {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		plan.extent, plan.generation, plan.end, plan.first = sg.extent, sg.generation, sg.visible, sg.base
		return plan, false, nil
	}
	return plan, true, nil
}

// recordAtTime returns the offset of the first record of batch b stamped at
// or after ts; the batch's largest timestamp reaches ts, so there is one.
// Every record of a log-append-time batch carries the batch's time.
func recordAtTime(b []byte, h format.BatchHeader, ts int64) int64 {
	if h.LogAppendTime() {
		return h.BaseOffset
	}
	h, records, err := codec.Records(nil, b)
	if err != nil {
		return h.BaseOffset
	}
	it := format.NewRecordIterRaw(h, records)
	var r format.BatchRecord
	for it.Next(&r) {
		if r.Timestamp >= ts {
			return r.Offset
		}
	}
	return h.BaseOffset
}
