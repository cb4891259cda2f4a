package spool

import "github.com/spooldb/spool/internal/store"

// Lag is how far a group is behind in one partition.
type Lag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset, -1 when it has none.
	Committed int64
	// LogStartOffset and HighWatermark bound the partition's records.
	LogStartOffset int64
	HighWatermark  int64
	// Lag is the records the group has yet to consume: the high watermark
	// minus the committed offset, or minus the log start offset when
	// nothing is committed or retention passed the committed offset.
	Lag int64
}

// Lag returns a group's lag in every partition of the topics it has
// committed offsets for, sorted by topic and partition: the figure Kafka's
// kafka-consumer-groups --describe shows as LAG.
func (db *DB) Lag(group string) ([]Lag, error) {
	offsets, err := db.s.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	committed := map[topicPartition]int64{}
	var topics []string
	for _, o := range offsets {
		if len(topics) == 0 || topics[len(topics)-1] != o.Topic {
			topics = append(topics, o.Topic)
		}
		committed[topicPartition{o.Topic, o.Partition}] = o.Offset
	}
	var out []Lag
	for _, name := range topics {
		t, err := db.s.Topic(name)
		if err != nil {
			return nil, err
		}
		for _, p := range t.Partitions {
			c, ok := committed[topicPartition{name, p.Partition}]
			if !ok {
				c = -1
			}
			out = append(out, lagOf(name, p, c))
		}
	}
	return out, nil
}

// Lag returns the consumer's group lag in each assigned partition, in
// assignment order: the high watermark minus the offset committed (not the
// position: records polled and not committed still count).
func (c *Consumer) Lag() ([]Lag, error) {
	if c.opts.Group == "" {
		return nil, ErrNoGroup
	}
	c.mu.Lock()
	parts := make([]topicPartition, len(c.order))
	for i, cp := range c.order {
		parts[i] = cp.topicPartition
	}
	c.mu.Unlock()
	out := make([]Lag, 0, len(parts))
	for _, tp := range parts {
		got, ok, err := c.db.s.CommittedOffset(c.opts.Group, tp.topic, tp.partition)
		if err != nil {
			return nil, err
		}
		committed := int64(-1)
		if ok {
			committed = got.Offset
		}
		logStart, hwm, err := c.db.s.Offsets(tp.topic, tp.partition)
		if err != nil {
			return nil, err
		}
		out = append(out, lagOf(tp.topic, store.PartitionInfo{Partition: tp.partition, LogStartOffset: logStart, HighWatermark: hwm}, committed))
	}
	return out, nil
}

func lagOf(topic string, p store.PartitionInfo, committed int64) Lag {
	return Lag{Topic: topic, Partition: p.Partition, Committed: committed, LogStartOffset: p.LogStartOffset,
		HighWatermark: p.HighWatermark, Lag: p.HighWatermark - max(committed, p.LogStartOffset)}
}
