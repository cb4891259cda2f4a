package spool

import (
	"context"
	"errors"
	"slices"

	"github.com/spooldb/spool/internal/store"
)

// Subscribe makes the consumer a member of its group, reading the
// partitions of topics that the group gives it. Partitions move between
// members as they join and leave: Poll takes the member's new partitions
// and hands over those it must let go (see ConsumerOptions.OnAssigned and
// the options around it). A consumer subscribes once, and does not also
// Assign.
//
// Subscribe returns once the member has joined; the partitions it gets
// arrive at the next Poll, once their previous owners released them.
func (c *Consumer) Subscribe(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return errors.New("spool: Subscribe needs at least one topic")
	}
	for _, t := range topics {
		if err := store.ValidTopicName(t); err != nil {
			return err
		}
	}
	return c.subscribe(ctx, slices.Clone(topics))
}

// subscribe joins the consumer's group with a subscription (see
// subscription.go).
func (c *Consumer) subscribe(ctx context.Context, subscription []string) error {
	if c.opts.Group == "" {
		return ErrNoGroup
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrConsumerClosed
	case c.member != nil:
		return errors.New("spool: the consumer has subscribed already")
	case len(c.order) > 0:
		return errors.New("spool: a consumer with assigned partitions cannot also subscribe")
	}
	m, err := joinGroup(ctx, c.db.s, c.opts, subscription)
	if err != nil {
		return err
	}
	c.member = m
	return nil
}

// rebalance brings the consumer's partitions in line with what its group
// says it owns: it hands over the partitions it must let go, takes on those
// it got, and drops everything when the group removed it, then rejoins. It
// runs at the start of each Poll, without c.mu, so that the callbacks may
// call the consumer.
func (c *Consumer) rebalance(ctx context.Context) error {
	m := c.member
	gs, id, lost := m.snapshot()
	if lost {
		if tps := c.drop(func(TopicPartition) bool { return true }); len(tps) > 0 && c.opts.OnLost != nil {
			c.opts.OnLost(tps)
		}
		if err := m.join(ctx); err != nil {
			return err
		}
		gs, id, _ = m.snapshot()
	}
	// Partitions this consumer reads that are no longer its own: lost.
	if tps := c.drop(func(tp TopicPartition) bool {
		return gs.Owners[store.TopicPartition(tp)].Member != id
	}); len(tps) > 0 && c.opts.OnLost != nil {
		c.opts.OnLost(tps)
	}
	if release := m.toRelease(&gs, id); len(release) > 0 {
		if err := c.handOver(ctx, release); err != nil {
			return err
		}
		gs, id, _ = m.snapshot()
	}
	var added []TopicPartition
	c.mu.Lock()
	for tp, o := range gs.Owners {
		if o.Member == id && c.parts[topicPartition{tp.Topic, tp.Partition}] == nil && !slices.Contains(m.toRelease(&gs, id), tp) {
			cp := &consumerPartition{topicPartition: topicPartition{tp.Topic, tp.Partition}, position: -1, committed: -1}
			c.parts[cp.topicPartition] = cp
			c.order = append(c.order, cp)
			added = append(added, TopicPartition(tp))
		}
	}
	c.mu.Unlock()
	if len(added) > 0 && c.opts.OnAssigned != nil {
		slices.SortFunc(added, compareTPs)
		c.opts.OnAssigned(added)
	}
	return nil
}

// handOver lets go of partitions: OnRevoked, then one commit of their final
// offsets and their release.
func (c *Consumer) handOver(ctx context.Context, release []store.TopicPartition) error {
	tps := make([]TopicPartition, len(release))
	for i, tp := range release {
		tps[i] = TopicPartition(tp)
	}
	if c.opts.OnRevoked != nil {
		c.opts.OnRevoked(tps)
	}
	var offsets []store.Offset
	c.mu.Lock()
	switch {
	case c.finalOffsets != nil:
		c.mu.Unlock()
		offsets = c.finalOffsets(ctx, tps)
		c.mu.Lock()
	case !c.opts.DisableAutoCommit:
		all, _ := c.positions()
		for _, o := range all {
			if slices.Contains(tps, TopicPartition{o.Topic, o.Partition}) {
				offsets = append(offsets, o)
			}
		}
	}
	c.mu.Unlock()
	if _, err := c.member.release(ctx, release, offsets); err != nil {
		return err
	}
	c.drop(func(tp TopicPartition) bool { return slices.Contains(tps, tp) })
	return nil
}

// drop removes the partitions that match and returns them.
func (c *Consumer) drop(match func(TopicPartition) bool) []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []TopicPartition
	c.order = slices.DeleteFunc(c.order, func(cp *consumerPartition) bool {
		tp := TopicPartition{cp.topic, cp.partition}
		if !match(tp) {
			return false
		}
		delete(c.parts, cp.topicPartition)
		out = append(out, tp)
		return true
	})
	return out
}

// ownedPartitions returns the partitions the consumer reads; c.mu is held.
func (c *Consumer) ownedPartitions() []TopicPartition {
	out := make([]TopicPartition, len(c.order))
	for i, cp := range c.order {
		out[i] = TopicPartition{cp.topic, cp.partition}
	}
	return out
}

func compareTPs(a, b TopicPartition) int {
	return store.TopicPartition(a).Compare(store.TopicPartition(b))
}

// startOf returns where a partition the consumer took begins: its position
// and the acknowledged offsets past it.
func (c *Consumer) startOf(tp TopicPartition) (int64, []store.OffsetRange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, err := c.assigned(tp.Topic, tp.Partition)
	if err != nil {
		return 0, nil, err
	}
	if err := c.resolve(cp); err != nil {
		return 0, nil, err
	}
	cp.position, cp.acked = skipAcked(cp.position, cp.acked)
	return cp.position, slices.Clone(cp.acked), nil
}
