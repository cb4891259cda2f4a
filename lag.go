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
	// Acknowledged is the records above the committed offset (and below
	// the high watermark) that the group acknowledged already: a Workers
	// pool commits the lowest offset it has not finished plus the offsets
	// it finished above it, and none of those is delivered again.
	Acknowledged int64
	// Lag is the records the group has yet to process: the high watermark
	// minus the committed offset (or the log start offset, when nothing is
	// committed or retention passed the committed offset), minus the
	// records acknowledged above it. For a consumer that commits positions
	// (Kafka's way) Acknowledged is 0 and Lag is Kafka's LAG; for a
	// Workers pool whose handler is stuck on one record while the others
	// go on, Lag is 1, not everything after that record. It is never
	// below 0, as the spool command has always shown it.
	Lag int64
}

// Lag returns a group's lag in every partition of the topics it has
// committed offsets for, sorted by topic and partition: the figure Kafka's
// kafka-consumer-groups --describe shows as LAG, less the records
// acknowledged above the committed offset (see Lag.Lag).
func (db *DB) Lag(group string) ([]Lag, error) {
	offsets, err := db.s.GroupOffsets(group)
	if err != nil {
		return nil, err
	}
	committed := map[topicPartition]store.Committed{}
	var topics []string
	for _, o := range offsets {
		if len(topics) == 0 || topics[len(topics)-1] != o.Topic {
			topics = append(topics, o.Topic)
		}
		committed[topicPartition{o.Topic, o.Partition}] = o
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
				c.Offset = -1
			}
			out = append(out, lagOf(name, p, c))
		}
	}
	return out, nil
}

// Lag returns the consumer's group lag in each assigned partition, in
// assignment order: the high watermark minus the offset committed (not the
// position: records polled and not committed still count), less the
// records acknowledged above it.
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
		if !ok {
			got = store.Committed{Offset: -1}
		}
		logStart, hwm, err := c.db.s.Offsets(tp.topic, tp.partition)
		if err != nil {
			return nil, err
		}
		out = append(out, lagOf(tp.topic, store.PartitionInfo{Partition: tp.partition, LogStartOffset: logStart, HighWatermark: hwm}, got))
	}
	return out, nil
}

// lagOf is the lag of partition p of topic for committed position c
// (c.Offset -1 when nothing is committed).
func lagOf(topic string, p store.PartitionInfo, c store.Committed) Lag {
	acked, lag := c.Lag(p.LogStartOffset, p.HighWatermark)
	return Lag{Topic: topic, Partition: p.Partition, Committed: c.Offset, LogStartOffset: p.LogStartOffset,
		HighWatermark: p.HighWatermark, Acknowledged: acked, Lag: lag}
}
