package store

import (
	"slices"
	"strings"

	"github.com/spooldb/spool/internal/format"
)

// Stats describes how the file's space is used.
type Stats struct {
	// Size is the file's length. The disk space allocated to it may be less
	// (parts never written) or more (space reserved ahead of the writer); the
	// store does not see the file's blocks.
	Size       int64
	ExtentSize uint32
	Extents    ExtentCounts
	Topics     []TopicStats // sorted by name
}

// ExtentCounts counts the file's extents by what they hold. Data, Journal,
// Checkpoint, Free and PendingFree add up to Total.
type ExtentCounts struct {
	Total      int
	Data       int // record batches of a partition
	Journal    int // the journal since the last checkpoint
	Checkpoint int // the last checkpoint
	Free       int // free to reuse
	// PendingFree were freed by a commit that is not yet durable; they are
	// reused once it is.
	PendingFree int
}

// TopicStats is one topic's share of the file.
type TopicStats struct {
	Topic      string
	Partitions []PartitionStats
}

// PartitionStats is one partition's share of the file.
type PartitionStats struct {
	Partition int32
	Extents   int   // data extents it holds
	Bytes     int64 // bytes of record batches in them, as published
	LogStart  int64 // log start offset
	LogEnd    int64 // log end offset as published: the high watermark
}

// Stats returns how the file's space is used: its extents by kind and each
// partition's share. Extent counts are the state as applied, which may be a
// commit ahead of what readers see while one is being written; the
// partitions' bytes and offsets are as published.
func (s *Store) Stats() (Stats, error) {
	if err := s.readable(); err != nil {
		return Stats{}, err
	}
	size, err := s.f.Size()
	if err != nil {
		return Stats{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Size: size, ExtentSize: s.extentSize}
	c := &st.Extents
	c.Total = len(s.st.extents)
	for _, e := range s.st.extents {
		switch e.kind {
		case format.KindData:
			c.Data++
		case format.KindJournal:
			c.Journal++
		case format.KindCheckpoint:
			c.Checkpoint++
		}
	}
	c.Free, c.PendingFree = len(s.st.free), len(s.st.pending)
	st.Topics = make([]TopicStats, 0, len(s.st.topics))
	for _, t := range s.st.topics {
		info := describe(t)
		ts := TopicStats{Topic: t.name, Partitions: make([]PartitionStats, 0, len(info.Partitions))}
		for _, p := range info.Partitions {
			ts.Partitions = append(ts.Partitions, PartitionStats{Partition: p.Partition, Extents: p.Extents, Bytes: p.Bytes,
				LogStart: p.LogStartOffset, LogEnd: p.HighWatermark})
		}
		st.Topics = append(st.Topics, ts)
	}
	slices.SortFunc(st.Topics, func(a, b TopicStats) int { return strings.Compare(a.Topic, b.Topic) })
	return st, nil
}
