package spool

import (
	"context"
	"errors"
	"fmt"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
)

// Poll returns the next records of the assigned partitions that are not
// paused, waiting for some until ctx ends; then it returns ctx's error. It
// moves each partition's position past the records returned. The Fetch and
// its records alias the consumer's buffers: they are valid until the next
// Poll, and Record.Clone keeps one longer.
//
// Poll reads the partitions in turn, starting each Poll one partition after
// the last, so that a busy partition cannot starve the others. It commits
// the positions of the last Poll first, when AutoCommitInterval has passed.
//
// A member of a group (see Subscribe) first hands over and takes on
// partitions as its group says, and waits for the group to give it some
// when it has none.
func (c *Consumer) Poll(ctx context.Context) (*Fetch, error) {
	if m := c.member; m != nil {
		m.polling(true)
		defer m.polling(false)
	}
	for {
		if c.member != nil {
			if err := c.checkOpen(); err != nil {
				return nil, err
			}
			if err := c.rebalance(ctx); err != nil {
				return nil, err
			}
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrConsumerClosed
		}
		c.autoCommit()
		f, waitFor, err := c.read()
		c.mu.Unlock()
		var changed <-chan struct{}
		if c.member != nil {
			changed = c.member.changed
			if errors.Is(err, errNoPartitions) {
				err = nil // a member on standby waits for the group
			}
		}
		if err != nil || f.Len() > 0 {
			return f, err
		}
		if err := c.waitAny(ctx, waitFor, changed); err != nil {
			return nil, err
		}
	}
}

func (c *Consumer) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	return nil
}

// read reads what the partitions hold from their positions, up to
// MaxPollBytes, and returns the fetch, or, when there is nothing to read,
// the partitions to wait for; c.mu is held.
func (c *Consumer) read() (*Fetch, []waitPoint, error) {
	f := &c.fetch
	f.reset(&c.headerKeys, c.opts.MaxPollBytes)
	var idle []waitPoint
	n := len(c.order)
	if n == 0 {
		return f, nil, errNoPartitions
	}
	c.turn %= n
	for i := range n {
		cp := c.order[(c.turn+i)%n]
		if cp.paused {
			continue
		}
		room := c.opts.MaxPollBytes - f.size
		if room <= 0 {
			break
		}
		read, err := c.readPartition(f, cp, room)
		if err != nil {
			return f, nil, err
		}
		if !read {
			idle = append(idle, waitPoint{cp.topicPartition, cp.position})
		}
	}
	c.turn++
	if f.Len() == 0 && len(idle) == 0 {
		return f, nil, errNoPartitions
	}
	return f, idle, nil
}

// readPartition adds to f the batches of cp from its position, and reports
// whether there were any.
func (c *Consumer) readPartition(f *Fetch, cp *consumerPartition, room int) (bool, error) {
	if err := c.resolve(cp); err != nil {
		return false, err
	}
	res, err := c.db.s.Read(cp.topic, cp.partition, cp.position, room, f.region())
	if errors.Is(err, ErrOffsetOutOfRange) {
		// Retention or DeleteRecords passed the position: reset it, as
		// Kafka's consumer does with auto.offset.reset.
		if cp.position, err = c.opts.Reset.resolve(c.db, cp.topic, cp.partition); err != nil {
			return false, err
		}
		res, err = c.db.s.Read(cp.topic, cp.partition, cp.position, room, f.region())
	}
	if err != nil {
		return false, err
	}
	if len(res.Batches) == 0 {
		return false, nil
	}
	if len(res.Batches) > room && f.Len() > 0 {
		// Only the first batch of a poll may exceed MaxPollBytes, as with
		// Kafka's fetch.max.bytes: this one waits for the next poll.
		return true, nil
	}
	f.claim(res.Batches)
	for b := res.Batches; len(b) > 0; {
		one, rest, err := format.NextBatch(b)
		if err != nil {
			return false, fmt.Errorf("spool: %s/%d at offset %d: %w", cp.topic, cp.partition, cp.position, err)
		}
		b = rest
		h, records, err := inflate(f, one)
		if err != nil {
			return false, fmt.Errorf("spool: %s/%d at offset %d: %w", cp.topic, cp.partition, cp.position, err)
		}
		if !h.Control() {
			f.add(cp.topic, cp.partition, h, records, cp.position, cp.acked)
		}
		cp.position = h.LastOffset() + 1
	}
	cp.position, cp.acked = skipAcked(cp.position, cp.acked)
	return true, nil
}

// inflate returns a batch's header and records section, decompressed into a
// buffer of f's when the batch is compressed.
func inflate(f *Fetch, batch []byte) (format.BatchHeader, []byte, error) {
	h, err := format.ParseBatchHeader(batch)
	if err != nil || h.Compression() == format.CompressionNone {
		return codec.Records(nil, batch)
	}
	buf := f.inflateBuffer()
	h, records, err := codec.Records((*buf)[:0], batch)
	if err == nil {
		*buf = records[:0]
	}
	return h, records, err
}

// waitPoint is a partition and the offset a Poll waits to see written.
type waitPoint struct {
	topicPartition
	offset int64
}

// waitAny waits until any of points has a record at its offset, or until
// changed (which may be nil) receives.
func (c *Consumer) waitAny(ctx context.Context, points []waitPoint, changed <-chan struct{}) error {
	if len(points) == 1 && changed == nil {
		return c.db.s.Wait(ctx, points[0].topic, points[0].partition, points[0].offset)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(points))
	for _, w := range points {
		go func() { done <- c.db.s.Wait(ctx, w.topic, w.partition, w.offset) }()
	}
	select {
	case err := <-done:
		return err
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
