package main

import (
	"fmt"
	"strconv"

	"github.com/spooldb/spool/internal/store"
)

// position is a place in a partition as the command line names it: consume's
// --from and group reset's --to-* and --shift-by.
type position struct {
	kind  positionKind
	value int64 // the offset, the time in Unix milliseconds, or the shift
}

type positionKind int

const (
	atEarliest positionKind = iota
	atLatest
	atOffset
	atTime    // the first record at or after value
	shiftedBy // value records after the group's committed offset (before, when negative)
)

// parseFrom reads consume's --from: earliest, latest, an offset or a time.
func parseFrom(s string) (position, error) {
	switch s {
	case "", "earliest":
		return position{kind: atEarliest}, nil
	case "latest":
		return position{kind: atLatest}, nil
	}
	if off, err := strconv.ParseInt(s, 10, 64); err == nil && off >= 0 {
		return position{atOffset, off}, nil
	}
	if t, ok := parseTime(s); ok {
		return position{atTime, t.UnixMilli()}, nil
	}
	return position{}, hinted{fmt.Errorf("--from %q: not earliest, latest, an offset or a time", s),
		"examples: --from earliest, --from 1500, --from 2024-05-01T12:00:00Z, --from 2024-05-01 (local midnight)"}
}

// resolve returns the offset pos names in partition p, clamped to the
// partition's log start and log end as Kafka's tools clamp it. committed is
// the group's committed offset, needed by shiftedBy only (nil: none).
func (pos position) resolve(s *store.Store, topic string, p store.PartitionInfo, committed *int64) (int64, error) {
	var off int64
	switch pos.kind {
	case atEarliest:
		off = p.LogStartOffset
	case atLatest:
		off = p.HighWatermark
	case atOffset:
		off = pos.value
	case atTime:
		var err error
		if off, err = s.OffsetForTime(topic, p.Partition, pos.value); err != nil {
			return 0, err
		}
	case shiftedBy:
		if committed == nil {
			return 0, fmt.Errorf("cannot shift %s/%d: the group has no committed offset there; use --to-earliest, --to-latest, --to-offset or --to-datetime", topic, p.Partition)
		}
		off = *committed + pos.value
	}
	return min(max(off, p.LogStartOffset), p.HighWatermark), nil
}

// checkPartition reports a --partition that topic t does not have.
func checkPartition(t store.TopicInfo, partition int32) error {
	if partition < -1 || partition >= int32(len(t.Partitions)) {
		return hinted{fmt.Errorf("--partition %d: topic %s has partitions 0 to %d", partition, t.Name, len(t.Partitions)-1),
			"leave out --partition to use them all"}
	}
	return nil
}
