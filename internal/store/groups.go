package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spooldb/spool/internal/format"
)

// Committed is a group's committed position in one partition.
type Committed struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Time        int64 // Unix nanoseconds of the commit
	// Acked are offsets above Offset acknowledged already.
	Acked []OffsetRange
}

// Lag returns, for a partition whose log runs from logStart to the high
// watermark hwm, the records acknowledged above c (Offset -1: nothing
// committed) and the records left to process: from the committed offset,
// or the log start when nothing is committed or retention passed it, to
// the high watermark, less those acknowledged.
func (c Committed) Lag(logStart, hwm int64) (acked, lag int64) {
	from := max(c.Offset, logStart)
	for _, r := range c.Acked {
		if start, end := max(r.Start, from), min(r.End, hwm); end > start {
			acked += end - start
		}
	}
	return acked, max(hwm-from-acked, 0)
}

// Groups lists the consumer groups that have committed offsets, sorted.
func (s *Store) Groups() ([]string, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.st.groups))
	for g := range s.st.groups {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

// GroupOffsets returns the offsets group has committed, sorted by topic and
// partition. A group that never committed has none.
func (s *Store) GroupOffsets(group string) ([]Committed, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.st.groups[group]
	if g == nil {
		return nil, nil
	}
	out := make([]Committed, 0, len(g.offsets))
	for k, c := range g.offsets {
		t := s.st.topics[k.topic]
		out = append(out, Committed{Topic: t.name, Partition: int32(k.partition), Offset: c.offset,
			LeaderEpoch: c.leaderEpoch, Metadata: c.metadata, Time: c.time, Acked: slices.Clone(c.acked)})
	}
	slices.SortFunc(out, func(a, b Committed) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

// CommittedOffset returns group's committed offset for a partition, and
// whether it has one.
func (s *Store) CommittedOffset(group, topic string, partition int32) (Committed, bool, error) {
	if err := s.readable(); err != nil {
		return Committed{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return Committed{}, false, err
	}
	g := s.st.groups[group]
	if g == nil {
		return Committed{}, false, nil
	}
	c, ok := g.offsets[partitionKey{p.topic.id, p.index}]
	return Committed{Topic: topic, Partition: partition, Offset: c.offset, LeaderEpoch: c.leaderEpoch,
		Metadata: c.metadata, Time: c.time, Acked: slices.Clone(c.acked)}, ok, nil
}

// DeleteGroup deletes a group and its committed offsets. It fails with
// ErrGroupNotEmpty while the group has a live member; members whose
// processes died leave with it.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	if err := ValidGroup(group); err != nil {
		return err
	}
	return s.submit(ctx, &request{estimate: s.maxRecordOps(), plan: func(w *batchWriter) error {
		g := w.s.st.groups[group]
		if g == nil {
			return fmt.Errorf("%w: no group %q", ErrInvalidGroup, group)
		}
		if err := w.s.checkNoLiveMember(group); err != nil {
			return err
		}
		for _, id := range slices.Sorted(maps.Keys(g.members)) {
			if err := w.emit(format.MemberLeave{Group: group, Member: id, Reason: LeaveDied}); err != nil {
				return err
			}
		}
		return w.emit(format.GroupDelete{Group: group})
	}})
}
