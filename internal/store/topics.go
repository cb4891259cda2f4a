package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spooldb/spool/internal/format"
)

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string
	ID         uint32
	Partitions []PartitionInfo
	Config     TopicConfig
	// Overrides are the configuration entries set on the topic, by name.
	Overrides []format.ConfigEntry
	Created   int64 // Unix nanoseconds
}

// PartitionInfo describes one partition.
type PartitionInfo struct {
	Partition      int32
	LogStartOffset int64
	HighWatermark  int64
	Bytes          int64 // bytes of batches in its extents
	Extents        int
}

// CreateTopic creates a topic with partitions partitions and the given
// configuration entries (Kafka's names, see ConfigNames).
func (s *Store) CreateTopic(ctx context.Context, name string, partitions int, config []format.ConfigEntry) error {
	if err := ValidTopicName(name); err != nil {
		return err
	}
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("%w: %d partitions; want 1 to %d", ErrInvalidTopic, partitions, MaxPartitions)
	}
	entries := mergeConfig(nil, config)
	if _, err := ParseTopicConfig(entries, s.extentSize); err != nil {
		return err
	}
	estimate := opSizeLimit + len(name)
	for _, e := range entries {
		estimate += len(e.Name) + len(e.Value) + 10
	}
	return s.submit(ctx, &request{estimate: estimate, plan: func(w *batchWriter) error {
		if w.s.st.byName[name] != nil {
			return fmt.Errorf("%w: %s", ErrTopicExists, name)
		}
		op := format.TopicCreate{ID: w.s.st.nextTopicID, Name: name, Partitions: uint32(partitions), Config: entries,
			Created: w.s.opts.Now().UnixNano()}
		for i := range op.Partitions {
			w.touch(partitionKey{op.ID, i})
		}
		return w.emit(op)
	}})
}

// AlterTopic changes configuration entries of a topic; an entry with an empty
// value returns that name to its default.
func (s *Store) AlterTopic(ctx context.Context, name string, updates []format.ConfigEntry) error {
	estimate := opSizeLimit
	for _, e := range updates {
		estimate += len(e.Name) + len(e.Value) + 10
	}
	s.mu.RLock()
	t := s.st.byName[name]
	if t != nil {
		for _, e := range t.entries {
			estimate += len(e.Name) + len(e.Value) + 10
		}
	}
	s.mu.RUnlock()
	return s.submit(ctx, &request{estimate: estimate, plan: func(w *batchWriter) error {
		t := w.s.st.byName[name]
		if t == nil || t != w.s.st.topics[t.id] {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		entries := mergeConfig(t.entries, updates)
		if _, err := ParseTopicConfig(entries, w.s.meta.ExtentSize); err != nil {
			return err
		}
		return w.emit(format.TopicConfig{ID: t.id, Config: entries})
	}})
}

// DeleteTopic deletes a topic, its records and its committed offsets, and
// frees its extents.
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	s.mu.RLock()
	t := s.st.byName[name]
	extents, partitions := 0, 0
	if t != nil {
		extents, partitions = countExtents(t), len(t.partitions)
	}
	s.mu.RUnlock()
	return s.submit(ctx, &request{estimate: opSizeLimit * (extents + partitions + 1), plan: func(w *batchWriter) error {
		t := w.s.st.byName[name]
		if t == nil {
			return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		if n := countExtents(t); n > extents {
			return fmt.Errorf("topic %s grew while being deleted; try again", name)
		}
		for _, p := range t.partitions {
			// The log start moves to the end first, so that every extent
			// is wholly before it when freed.
			if p.logStart < p.next {
				if err := w.emit(format.LogStart{Topic: t.id, Partition: p.index, Offset: p.next}); err != nil {
					return err
				}
			}
			for len(p.segments) > 0 {
				if err := w.emit(format.ExtentFree{Extent: p.segments[0].extent}); err != nil {
					return err
				}
			}
		}
		return w.emit(format.TopicDelete{ID: t.id})
	}})
}

func countExtents(t *topic) int {
	n := 0
	for _, p := range t.partitions {
		n += len(p.segments)
	}
	return n
}

// Topics lists the topics, sorted by name.
func (s *Store) Topics() ([]TopicInfo, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]TopicInfo, 0, len(s.st.topics))
	for _, t := range s.st.topics {
		out = append(out, describe(t))
	}
	slices.SortFunc(out, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Topic describes one topic.
func (s *Store) Topic(name string) (TopicInfo, error) {
	if err := s.readable(); err != nil {
		return TopicInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.st.byName[name]
	if t == nil {
		return TopicInfo{}, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	return describe(t), nil
}

func describe(t *topic) TopicInfo {
	info := TopicInfo{Name: t.name, ID: t.id, Config: t.config, Overrides: slices.Clone(t.entries), Created: t.created}
	for _, p := range t.partitions {
		pi := PartitionInfo{Partition: int32(p.index), LogStartOffset: p.logStart, HighWatermark: p.hwm, Extents: len(p.segments)}
		for _, sg := range p.segments {
			pi.Bytes += int64(sg.visible)
		}
		info.Partitions = append(info.Partitions, pi)
	}
	return info
}
