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

	// The options below apply to a consumer that joins its group with
	// Subscribe.

	// Assignor names how the group shares its partitions among members:
	// "cooperative-sticky" (the default), "sticky", "range" or
	// "roundrobin", as Kafka's assignors of those names. Every member of a
	// group must use the same.
	Assignor string
	// InstanceID makes the member static (Kafka's group.instance.id): when
	// its process restarts within SessionTimeout, the member that joins with
	// the same InstanceID takes the old one's partitions back without a
	// rebalance; a static member whose process died keeps its partitions,
	// unread, until then.
	InstanceID string
	// SessionTimeout removes a member whose heartbeats stop for this long
	// (a process that hangs without dying): 10s when zero. A member whose
	// process dies is removed at once, through its slot lock.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats and looks at its
	// group: 100ms when zero. It bounds how soon a dead member's
	// partitions move.
	HeartbeatInterval time.Duration
	// MaxPollInterval makes a member that goes this long without polling
	// leave its group (Kafka's max.poll.interval.ms): 5m when zero.
	MaxPollInterval time.Duration
	// RebalanceTimeout is how long a Workers member that must hand a
	// partition over waits for the records of it in flight: 30s when zero.
	// Past it, their handlers' contexts are cancelled and their records
	// are delivered again by the new owner.
	RebalanceTimeout time.Duration
	// OnAssigned, OnRevoked and OnLost are called from Poll, as Kafka's
	// ConsumerRebalanceListener is: OnAssigned with partitions the member
	// now owns, before records of them are returned; OnRevoked with
	// partitions it must hand over, before their positions are committed
	// (with auto-commit) and they are released, so that it may commit
	// itself; OnLost with partitions that are another member's already,
	// because the group removed this member (see SessionTimeout and
	// MaxPollInterval): it must not commit them. They may call the
	// consumer's methods.
	OnAssigned, OnRevoked, OnLost func([]TopicPartition)
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (o ConsumerOptions) withDefaults() ConsumerOptions {
	if o.AutoCommitInterval <= 0 {
		o.AutoCommitInterval = 5 * time.Second
	}
	if o.MaxPollBytes <= 0 {
		o.MaxPollBytes = 4 << 20
	}
	if o.Assignor == "" {
		o.Assignor = "cooperative-sticky"
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 100 * time.Millisecond
	}
	if o.MaxPollInterval <= 0 {
		o.MaxPollInterval = 5 * time.Minute
	}
	if o.RebalanceTimeout <= 0 {
		o.RebalanceTimeout = 30 * time.Second
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

	// member is the consumer's membership of its group, after Subscribe.
	member *member
	// finalOffsets returns the offsets to commit with the release of
	// partitions; nil for the positions (with auto-commit) or none.
	finalOffsets func(ctx context.Context, tps []TopicPartition) []store.Offset
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
	// acked are offsets at or past position acknowledged already (a
	// Workers member committed them): Poll skips them.
	acked []store.OffsetRange
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
// consumer; a member of a group leaves it in the same commit, and its
// partitions go to the other members at once. A static member (InstanceID)
// does not leave, as in Kafka: the group keeps its partitions for it, unread,
// until a member with its instance id joins or its SessionTimeout passes.
// The DB stays open.
func (c *Consumer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	var err error
	switch {
	case c.member != nil:
		var offsets []store.Offset
		if c.finalOffsets != nil {
			offsets = c.finalOffsets(context.Background(), c.ownedPartitions())
		} else if !c.opts.DisableAutoCommit {
			offsets, _ = c.positions()
		}
		c.member.close()
		if c.opts.InstanceID != "" {
			err = c.member.detach(context.Background(), offsets)
		} else {
			err = c.member.leave(context.Background(), store.LeaveClosed, offsets)
		}
	case !c.opts.DisableAutoCommit && c.opts.Group != "":
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
			cp.acked = committed.Acked
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
