package spool

import (
	"context"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// PartitionOffset is an offset of a partition, with the metadata a group
// may commit along with it.
type PartitionOffset struct {
	Topic     string
	Partition int32
	Offset    int64
	Metadata  string
}

// Commit commits the consumer's positions as its group's offsets: the
// offset after the last record each partition returned. It returns once the
// commit has the consumer's durability.
func (c *Consumer) Commit(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	return c.commitPositions(ctx)
}

// CommitAsync commits the positions like Commit without waiting; done (which
// may be nil) receives the outcome on a goroutine of its own.
func (c *Consumer) CommitAsync(done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		go done(ErrConsumerClosed)
		return
	}
	offsets, parts := c.positions()
	if len(offsets) == 0 {
		go done(nil)
		return
	}
	c.markCommitted(parts, offsets)
	err := c.db.s.CommitAsync(context.Background(), c.txn(offsets), func(_ []store.AppendResult, err error) {
		go done(err)
	})
	if err != nil {
		go done(err)
	}
}

// CommitOffsets commits the given offsets, with their metadata, as the
// group's, whether or not the partitions are assigned to this consumer.
func (c *Consumer) CommitOffsets(ctx context.Context, offsets ...PartitionOffset) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	if c.opts.Group == "" {
		return ErrNoGroup
	}
	txn := make([]store.Offset, len(offsets))
	for i, o := range offsets {
		txn[i] = store.Offset{Group: c.opts.Group, Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: -1,
			Metadata: o.Metadata, Member: c.memberID()}
	}
	if _, err := c.db.s.Commit(ctx, c.txn(txn)); err != nil {
		return err
	}
	for _, o := range offsets {
		if cp := c.parts[topicPartition{o.Topic, o.Partition}]; cp != nil {
			cp.committed = o.Offset
		}
	}
	return nil
}

// Committed returns the group's committed offset of a partition, and
// whether it has one.
func (c *Consumer) Committed(topic string, partition int32) (PartitionOffset, bool, error) {
	if c.opts.Group == "" {
		return PartitionOffset{}, false, ErrNoGroup
	}
	got, ok, err := c.db.s.CommittedOffset(c.opts.Group, topic, partition)
	if err != nil || !ok {
		return PartitionOffset{}, false, err
	}
	return PartitionOffset{Topic: topic, Partition: partition, Offset: got.Offset, Metadata: got.Metadata}, true, nil
}

// commitPositions commits the positions that moved since the last commit;
// c.mu is held.
func (c *Consumer) commitPositions(ctx context.Context) error {
	if c.opts.Group == "" {
		return ErrNoGroup
	}
	offsets, parts := c.positions()
	if len(offsets) == 0 {
		return nil
	}
	if _, err := c.db.s.Commit(ctx, c.txn(offsets)); err != nil {
		return err
	}
	c.markCommitted(parts, offsets)
	return nil
}

// autoCommit commits the positions, without waiting, when the interval has
// passed; c.mu is held. An error is logged by the store only: the next
// commit carries the same positions again.
func (c *Consumer) autoCommit() {
	if c.opts.DisableAutoCommit || c.opts.Group == "" || time.Since(c.lastCommit) < c.opts.AutoCommitInterval {
		return
	}
	c.lastCommit = time.Now()
	offsets, parts := c.positions()
	if len(offsets) == 0 {
		return
	}
	err := c.db.s.CommitAsync(context.Background(), c.txn(offsets), func(_ []store.AppendResult, err error) {
		if err == nil {
			return
		}
		// Not on the store's syncer goroutine, which a commit waited for
		// under c.mu may need.
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, cp := range parts {
				cp.committed = -1 // commit again next time
			}
		}()
	})
	if err == nil {
		c.markCommitted(parts, offsets)
	}
}

// positions returns the positions that differ from what was last committed;
// c.mu is held.
func (c *Consumer) positions() ([]store.Offset, []*consumerPartition) {
	var offsets []store.Offset
	var parts []*consumerPartition
	for _, cp := range c.order {
		if cp.position >= 0 && cp.position != cp.committed {
			offsets = append(offsets, store.Offset{Group: c.opts.Group, Topic: cp.topic, Partition: cp.partition,
				Offset: cp.position, LeaderEpoch: -1, Acked: cp.acked, Member: c.memberID()})
			parts = append(parts, cp)
		}
	}
	return offsets, parts
}

func (c *Consumer) markCommitted(parts []*consumerPartition, offsets []store.Offset) {
	for i, cp := range parts {
		cp.committed = offsets[i].Offset
	}
}

func (c *Consumer) txn(offsets []store.Offset) *store.Txn {
	return &store.Txn{Offsets: offsets, Durability: store.Durability(c.opts.Durability)}
}

// memberID returns the id of the consumer's group member, or "" when it
// is not one.
func (c *Consumer) memberID() string {
	if c.member == nil {
		return ""
	}
	return c.member.ID()
}
