package spool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// ConsumerOptions configure a Consumer. A nil *ConsumerOptions means the
// defaults.
type ConsumerOptions struct {
	// Group is the consumer group whose offsets the consumer starts from
	// and commits; empty for none (nothing is committed).
	Group string
	// Reset is where a partition is read from when the group has no
	// committed offset for it, or when its position falls out of the log
	// (Kafka's auto.offset.reset): Earliest, the zero value, unless set.
	// Kafka's default is latest; spool's is earliest, so that a new group
	// misses nothing.
	Reset Offset
	// DisableAutoCommit stops the consumer from committing its positions
	// every AutoCommitInterval and at Close. Kafka commits automatically by
	// default, and so does spool; commit yourself for control over what
	// counts as processed.
	DisableAutoCommit bool
	// AutoCommitInterval is Kafka's auto.commit.interval.ms: 5s when zero.
	AutoCommitInterval time.Duration
	// MaxPollBytes bounds the batches one Poll returns: 4 MiB when zero.
	// A Poll returns at least one batch, however large.
	MaxPollBytes int
	// Durability is the durability of the consumer's offset commits: the
	// DB's when zero.
	Durability Durability
}

func (o ConsumerOptions) withDefaults() ConsumerOptions {
	if o.AutoCommitInterval <= 0 {
		o.AutoCommitInterval = 5 * time.Second
	}
	if o.MaxPollBytes <= 0 {
		o.MaxPollBytes = 4 << 20
	}
	return o
}

// Consumer reads the partitions assigned to it, in batches, and commits its
// progress for its group. Positions and commits are per partition: a
// partition's position is the offset of the next record Poll returns, and
// committing stores the positions as the group's committed offsets, in the
// file, under the same journal as the records.
//
// A Consumer is safe for concurrent use, though a consumer is usually driven
// by one goroutine's loop of Poll and process.
type Consumer struct {
	db   *DB
	opts ConsumerOptions

	mu         sync.Mutex
	parts      map[topicPartition]*consumerPartition
	order      []*consumerPartition // assignment order, for fair polling
	turn       int                  // the partition the next Poll reads first
	lastCommit time.Time
	closed     bool
	fetch      Fetch      // the last Poll's result, reused
	headerKeys headerKeys // header keys, interned
}

type topicPartition struct {
	topic     string
	partition int32
}

// consumerPartition is the state of one assigned partition.
type consumerPartition struct {
	topicPartition
	position  int64 // the next offset Poll returns; -1 until resolved
	committed int64 // the last offset committed by this consumer, or -1
	paused    bool
}

// NewConsumer returns a consumer of db with no partitions assigned.
func (db *DB) NewConsumer(opts *ConsumerOptions) (*Consumer, error) {
	if opts == nil {
		opts = &ConsumerOptions{}
	}
	o := opts.withDefaults()
	if o.Group != "" {
		if err := store.ValidGroup(o.Group); err != nil {
			return nil, err
		}
	}
	return &Consumer{db: db, opts: o, parts: map[topicPartition]*consumerPartition{}, lastCommit: time.Now()}, nil
}

// Assign adds partitions of topic to the consumer: all of them when none is
// named. A partition starts at its group's committed offset, or at Reset
// when there is none, unless Seek says otherwise.
func (c *Consumer) Assign(topic string, partitions ...int32) error {
	info, err := c.db.s.Topic(topic)
	if err != nil {
		return err
	}
	if len(partitions) == 0 {
		for _, p := range info.Partitions {
			partitions = append(partitions, p.Partition)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	for _, p := range partitions {
		if p < 0 || int(p) >= len(info.Partitions) {
			return fmt.Errorf("%w: %s has partitions 0 to %d, not %d", ErrUnknownPartition, topic, len(info.Partitions)-1, p)
		}
	}
	for _, p := range partitions {
		tp := topicPartition{topic, p}
		if c.parts[tp] == nil {
			cp := &consumerPartition{topicPartition: tp, position: -1, committed: -1}
			c.parts[tp] = cp
			c.order = append(c.order, cp)
		}
	}
	return nil
}

// Unassign removes partitions of topic from the consumer, all of them when
// none is named. Their positions are not committed: Commit first to keep
// them.
func (c *Consumer) Unassign(topic string, partitions ...int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = slices.DeleteFunc(c.order, func(cp *consumerPartition) bool {
		if cp.topic != topic || len(partitions) > 0 && !slices.Contains(partitions, cp.partition) {
			return false
		}
		delete(c.parts, cp.topicPartition)
		return true
	})
}

// Assignment returns the partitions assigned, by topic.
func (c *Consumer) Assignment() map[string][]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]int32{}
	for _, cp := range c.order {
		out[cp.topic] = append(out[cp.topic], cp.partition)
	}
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

// Seek sets where the next Poll reads an assigned partition from.
func (c *Consumer) Seek(topic string, partition int32, o Offset) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, err := c.assigned(topic, partition)
	if err != nil {
		return err
	}
	off, err := o.resolve(c.db, topic, partition)
	if err != nil {
		return err
	}
	cp.position = off
	return nil
}

// Position returns the offset of the next record Poll returns from an
// assigned partition.
func (c *Consumer) Position(topic string, partition int32) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, err := c.assigned(topic, partition)
	if err != nil {
		return 0, err
	}
	if err := c.resolve(cp); err != nil {
		return 0, err
	}
	return cp.position, nil
}

// Pause stops Poll from returning records of assigned partitions of topic,
// all of them when none is named, until Resume. Positions are kept.
func (c *Consumer) Pause(topic string, partitions ...int32) { c.setPaused(true, topic, partitions) }

// Resume undoes Pause.
func (c *Consumer) Resume(topic string, partitions ...int32) { c.setPaused(false, topic, partitions) }

func (c *Consumer) setPaused(paused bool, topic string, partitions []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cp := range c.order {
		if cp.topic == topic && (len(partitions) == 0 || slices.Contains(partitions, cp.partition)) {
			cp.paused = paused
		}
	}
}

// Close commits the positions, unless DisableAutoCommit, and closes the
// consumer. The DB stays open.
func (c *Consumer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	var err error
	if !c.opts.DisableAutoCommit && c.opts.Group != "" {
		err = c.commitPositions(context.Background())
	}
	c.closed = true
	return err
}

// assigned returns an assigned partition's state; c.mu is held.
func (c *Consumer) assigned(topic string, partition int32) (*consumerPartition, error) {
	if c.closed {
		return nil, ErrConsumerClosed
	}
	cp := c.parts[topicPartition{topic, partition}]
	if cp == nil {
		return nil, fmt.Errorf("%w: %s/%d", ErrNotAssigned, topic, partition)
	}
	return cp, nil
}

// resolve sets the position of a partition not read yet: the group's
// committed offset, or Reset; c.mu is held.
func (c *Consumer) resolve(cp *consumerPartition) error {
	if cp.position >= 0 {
		return nil
	}
	if c.opts.Group != "" {
		committed, ok, err := c.db.s.CommittedOffset(c.opts.Group, cp.topic, cp.partition)
		if err != nil {
			return err
		}
		if ok {
			cp.committed = committed.Offset
			logStart, hwm, err := c.db.s.Offsets(cp.topic, cp.partition)
			if err != nil {
				return err
			}
			if committed.Offset >= logStart && committed.Offset <= hwm {
				cp.position = committed.Offset
				return nil
			}
			// Retention passed it, or the topic was made anew:
			// Kafka's consumer applies auto.offset.reset.
		}
	}
	off, err := c.opts.Reset.resolve(c.db, cp.topic, cp.partition)
	if err != nil {
		return err
	}
	cp.position = off
	return nil
}

// errNoPartitions is returned by Poll without a partition to read.
var errNoPartitions = errors.New("spool: no partitions assigned, or all paused")
