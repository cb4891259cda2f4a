package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

func newConsume(g *globals) *cobra.Command {
	var group, from string
	var partition int32
	var count int
	var follow bool
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records, one value per line",
		Long: `Print records of a topic, one value per line. With --group, reading starts at the
group's committed offsets and the group's progress is committed as records are
printed, so the next run goes on where this one stopped.`,
		Example: `  spool -f events.spool consume orders --from earliest --count 10
  spool -f events.spool consume orders --group billing --follow`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(group == "", func(s *store.Store) error {
				c := &consumer{s: s, topic: args[0], group: group, limit: count, out: bufio.NewWriter(cmd.OutOrStdout())}
				if err := c.run(cmd.Context(), from, partition, follow); err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				if err := c.out.Flush(); err != nil {
					return err
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&group, "group", "g", "", "consume as this consumer group, committing its progress")
	cmd.Flags().StringVar(&from, "from", "", "where to start without a committed offset: earliest, latest or an offset (default earliest)")
	cmd.Flags().Int32VarP(&partition, "partition", "p", -1, "read only this partition")
	cmd.Flags().IntVarP(&count, "count", "n", 0, "stop after this many records (0: no limit)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep waiting for new records (Ctrl-C stops, with progress committed)")
	return cmd
}

type consumer struct {
	s       *store.Store
	topic   string
	group   string
	limit   int
	printed int
	out     *bufio.Writer
	buf     []byte // decompressed records, reused
}

func (c *consumer) run(ctx context.Context, from string, only int32, follow bool) error {
	t, err := c.s.Topic(c.topic)
	if err != nil {
		return err
	}
	if only >= int32(len(t.Partitions)) {
		return fmt.Errorf("--partition %d: topic %s has partitions 0 to %d", only, c.topic, len(t.Partitions)-1)
	}
	positions := map[int32]int64{}
	for _, p := range t.Partitions {
		if only >= 0 && p.Partition != only {
			continue
		}
		pos, err := c.start(p, from)
		if err != nil {
			return err
		}
		positions[p.Partition] = pos
	}
	for {
		progressed := false
		for part, pos := range positions {
			next, err := c.partition(ctx, part, pos)
			if err != nil {
				return err
			}
			progressed = progressed || next != pos
			positions[part] = next
			if c.limit > 0 && c.printed >= c.limit {
				return nil
			}
		}
		if !progressed {
			if !follow {
				return nil
			}
			if err := c.waitAny(ctx, positions); err != nil {
				return err
			}
		}
	}
}

// start returns where partition p is read from: the group's committed offset,
// or what --from says.
func (c *consumer) start(p store.PartitionInfo, from string) (int64, error) {
	if c.group != "" {
		committed, ok, err := c.s.CommittedOffset(c.group, c.topic, p.Partition)
		if err != nil {
			return 0, err
		}
		if ok {
			return max(committed.Offset, p.LogStartOffset), nil
		}
	}
	switch from {
	case "", "earliest":
		return p.LogStartOffset, nil
	case "latest":
		return p.HighWatermark, nil
	}
	off, err := strconv.ParseInt(from, 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("--from %q: want earliest, latest or an offset", from)
	}
	return min(max(off, p.LogStartOffset), p.HighWatermark), nil
}

// partition prints what one partition holds from pos and commits the group's
// progress; it returns the next position.
func (c *consumer) partition(ctx context.Context, part int32, pos int64) (int64, error) {
	f, err := c.s.Read(c.topic, part, pos, 1<<20, nil)
	if errors.Is(err, store.ErrOffsetOutOfRange) {
		// Retention moved the log start past pos: go on from there, as a
		// Kafka consumer with auto.offset.reset=earliest does.
		logStart, _, oerr := c.s.Offsets(c.topic, part)
		if oerr != nil {
			return pos, oerr
		}
		return logStart, nil
	}
	if err != nil {
		return pos, err
	}
	next := pos
	for b := f.Batches; len(b) > 0 && (c.limit == 0 || c.printed < c.limit); {
		batch, rest, err := format.NextBatch(b)
		if err != nil {
			return pos, err
		}
		h, records, err := codec.Records(c.buf[:0], batch)
		if err != nil {
			return pos, fmt.Errorf("%s/%d: %w", c.topic, part, err)
		}
		if h.Compression() != format.CompressionNone {
			c.buf = records
		}
		it := format.NewRecordIterRaw(h, records)
		var r format.BatchRecord
		for it.Next(&r) && (c.limit == 0 || c.printed < c.limit) {
			if r.Offset < next {
				continue
			}
			c.out.Write(r.Value)
			c.out.WriteByte('\n')
			c.printed++
			next = r.Offset + 1
		}
		if err := it.Err(); err != nil {
			return pos, err
		}
		b = rest
	}
	if c.group != "" && next != pos {
		if err := c.out.Flush(); err != nil {
			return pos, err
		}
		offsets := []store.Offset{{Group: c.group, Topic: c.topic, Partition: part, Offset: next}}
		if _, err := c.s.Commit(context.WithoutCancel(ctx), &store.Txn{Offsets: offsets}); err != nil {
			return pos, err
		}
	}
	return next, nil
}

// waitAny waits until any partition has a record at its position.
func (c *consumer) waitAny(ctx context.Context, positions map[int32]int64) error {
	if err := c.out.Flush(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(positions))
	for part, pos := range positions {
		go func() { done <- c.s.Wait(ctx, c.topic, part, pos) }()
	}
	return <-done
}
