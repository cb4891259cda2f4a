package store

import (
	"context"
	"fmt"

	"github.com/spooldb/spool/internal/format"
)

// truncation moves a partition's log start and frees the extents wholly
// before it.
type truncation struct {
	topic, partition uint32
	logStart         int64
	free             int // how many of the partition's first extents to free
}

// retentionRequest finds what retention.ms and retention.bytes expire, as
// Kafka does it: whole extents (segments) from the oldest, an extent by time
// when its newest record is older than retention.ms, by size while the
// partition without it still holds retention.bytes. It returns nil when
// nothing expires. It runs on the writer goroutine.
func (s *Store) retentionRequest() *request {
	now := s.nowMs()
	// Other goroutines may be applying another process's commits.
	s.mu.RLock()
	defer s.mu.RUnlock()
	var cuts []truncation
	for _, t := range s.st.topics {
		c := t.config
		if c.RetentionMs < 0 && c.RetentionBytes < 0 {
			continue
		}
		for _, p := range t.partitions {
			var total int64
			for _, sg := range p.segments {
				total += int64(sg.size)
			}
			n := 0
			for _, sg := range p.segments {
				if sg.next > p.hwm || sg.size == 0 {
					break
				}
				byTime := c.RetentionMs >= 0 && sg.maxTimestamp >= 0 && sg.maxTimestamp < now-c.RetentionMs
				bySize := c.RetentionBytes >= 0 && total-int64(sg.size) >= c.RetentionBytes
				if !byTime && !bySize {
					break
				}
				total -= int64(sg.size)
				n++
			}
			if n > 0 {
				logStart := p.next
				if n < len(p.segments) {
					logStart = p.segments[n].base
				}
				cuts = append(cuts, truncation{topic: t.id, partition: p.index, logStart: max(logStart, p.logStart), free: n})
			}
		}
	}
	if len(cuts) == 0 {
		return nil
	}
	estimate := 0
	for _, c := range cuts {
		estimate += opSizeLimit * (c.free + 1)
	}
	if limit := s.maxRecordOps(); estimate > limit {
		// A huge backlog expires over several sweeps.
		for estimate > limit && len(cuts) > 1 {
			estimate -= opSizeLimit * (cuts[len(cuts)-1].free + 1)
			cuts = cuts[:len(cuts)-1]
		}
	}
	// Nobody waits for the sweep's outcome: a failure fails the store.
	return &request{estimate: estimate, durability: DurabilityNone, complete: func(error) {}, plan: func(w *batchWriter) error {
		return w.truncate(cuts)
	}}
}

// truncate emits the operations of truncations. A retention sweep plans them
// before the writer lock, on a state that may since have taken in another
// process's commits, and its own sweep among them: so a partition that is
// gone is skipped, the log start never moves back, and only extents wholly
// before the log start are freed, at most as many as planned.
func (w *batchWriter) truncate(cuts []truncation) error {
	for _, c := range cuts {
		p, err := w.s.st.partition(c.topic, c.partition)
		if err != nil {
			continue // deleted since
		}
		if c.logStart > p.logStart {
			if err := w.emit(format.LogStart{Topic: c.topic, Partition: c.partition, Offset: c.logStart}); err != nil {
				return err
			}
			w.touch(partitionKey{c.topic, c.partition})
		}
		for range c.free {
			if len(p.segments) == 0 || p.segments[0].next > p.logStart && p.segments[0].size > 0 {
				break
			}
			if err := w.emit(format.ExtentFree{Extent: p.segments[0].extent}); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteRecords moves a partition's log start offset to offset, as Kafka's
// DeleteRecords does: records before it are no longer readable, and extents
// wholly before it are freed. offset -1 means the high watermark.
func (s *Store) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error) {
	var logStart int64
	err := s.submit(ctx, &request{estimate: opSizeLimit * 16, plan: func(w *batchWriter) error {
		p, err := w.s.lookup(topic, partition)
		if err != nil {
			return err
		}
		// The log end, not the published high watermark: the groups that
		// the difference belongs to are published before this one.
		if offset == -1 {
			offset = p.next
		}
		if offset < 0 || offset > p.next {
			return fmt.Errorf("%w: %d is past the high watermark %d of %s/%d", ErrOffsetOutOfRange, offset, p.next, topic, partition)
		}
		c := truncation{topic: p.topic.id, partition: p.index, logStart: max(offset, p.logStart)}
		// At most 15 extents per commit, to stay within the estimate;
		// retention frees the rest.
		for i := range p.segments {
			if p.segments[i].next > c.logStart || c.free == 15 {
				break
			}
			c.free++
		}
		logStart = c.logStart
		return w.truncate([]truncation{c})
	}})
	return logStart, err
}
