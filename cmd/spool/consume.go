package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// consumeReadBytes is how much one read of a partition asks for.
const consumeReadBytes = 1 << 20

func newConsume(g *globals) *cobra.Command {
	var group, from, outputFormat string
	var partition int32
	var count int
	var follow bool
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records, one a line",
		Long: `Print the records of a topic, one a line. With --group, reading starts at the
group's committed offsets, and the group's progress is committed as records
are printed (after they are written out), so the next run goes on where this
one stopped. --from applies where the group has committed nothing, as Kafka's
auto.offset.reset does: earliest, latest, an offset, or a time (RFC 3339, or
2006-01-02T15:04:05 and 2006-01-02 in local time) for the first record at or
after it.

With --follow, consume waits for new records until Ctrl-C, which ends it
cleanly with the group's progress committed. With --group and --follow (and
no --partition), it joins the group as a member, as Kafka's console consumer
does: several of them share the topic's partitions, each printing its own,
and a member that stops hands its partitions to the others at once. Without
--follow, or with --partition, it reads the partitions itself (Kafka's
manual assignment), which a group with live members refuses: stop them, or
join them with --follow.

` + recordFormatHelp,
		Example: `  spool -f events.spool consume orders --from earliest --count 10
  spool -f events.spool consume orders --group billing --follow      # in two terminals: they share the partitions
  spool -f events.spool consume orders --from 2024-05-01T00:00:00Z --format json
  spool -f events.spool consume orders --partition 2 --format '{{.Offset}} {{.Key}}={{.Value}}'`,
		Args:              argsNamed("TOPIC"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			start, err := parseFrom(from)
			if err != nil {
				return err
			}
			printer, err := newRecordPrinter(outputFormat)
			if err != nil {
				return err
			}
			if count < 0 {
				return fmt.Errorf("--count %d: want 0 (no limit) or more", count)
			}
			if group != "" && follow && partition < 0 {
				out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
				err := g.consumeAsMember(cmd.Context(), args[0], group, start, count, printer, out)
				if errors.Is(err, context.Canceled) {
					err = nil // Ctrl-C: what was printed is committed
				}
				return g.explain(err)
			}
			return g.with(group == "", func(s *store.Store) error {
				c := &consumer{s: s, topic: args[0], group: group, limit: count, printer: printer,
					out: bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)}
				err := c.run(cmd.Context(), start, partition, follow)
				if errors.Is(err, context.Canceled) {
					err = nil // Ctrl-C: what was printed is committed
				}
				return errors.Join(err, c.out.Flush())
			})
		},
	}
	cmd.Flags().StringVarP(&group, "group", "g", "", "consume as this consumer group, committing its progress")
	cmd.Flags().StringVar(&from, "from", "earliest", "where to start without a committed offset: earliest, latest, an offset or a time")
	cmd.Flags().Int32VarP(&partition, "partition", "p", -1, "read only this partition (default: all)")
	cmd.Flags().IntVarP(&count, "count", "n", 0, "stop after this many records (0: no limit)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep waiting for new records; Ctrl-C stops, with the group's progress committed")
	cmd.Flags().StringVarP(&outputFormat, "format", "o", "text", "text, json or a Go template (see above)")
	cmd.RegisterFlagCompletionFunc("group", g.groupNames)
	cmd.RegisterFlagCompletionFunc("from", cobra.FixedCompletions([]string{"earliest", "latest"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// consumer prints the records of one topic and commits a group's progress.
type consumer struct {
	s       *store.Store
	topic   string
	group   string
	limit   int
	printed int
	printer recordPrinter
	out     *bufio.Writer
	fetched []byte // the last read's batches, reused
	records []byte // decompressed records, reused
}

// cursor is the next offset to print in one partition.
type cursor struct {
	partition int32
	next      int64
}

func (c *consumer) run(ctx context.Context, start position, only int32, follow bool) error {
	cursors, err := c.start(ctx, start, only)
	if err != nil {
		return err
	}
	for {
		progressed := false
		for i := range cursors {
			if err := ctx.Err(); err != nil {
				return err
			}
			next, err := c.partition(ctx, cursors[i])
			if err != nil {
				return err
			}
			progressed = progressed || next != cursors[i].next
			cursors[i].next = next
			if c.limit > 0 && c.printed >= c.limit {
				return nil
			}
		}
		if !progressed {
			if !follow {
				return nil
			}
			if err := c.waitAny(ctx, cursors); err != nil {
				return err
			}
		}
	}
}

// start returns a cursor for each partition read, in partition order: at the
// group's committed offset, or where --from says. A group commits where it
// starts in the partitions it had no offset in, as a Kafka consumer commits
// the position of every partition assigned to it: its lag then counts the
// whole topic, and the next run starts there too.
func (c *consumer) start(ctx context.Context, from position, only int32) ([]cursor, error) {
	t, err := c.s.Topic(c.topic)
	if err != nil {
		return nil, err
	}
	if err := checkPartition(t, only); err != nil {
		return nil, err
	}
	if c.group != "" {
		gs, err := c.s.Group(c.group)
		if err != nil {
			return nil, err
		}
		if live := liveMembers(gs); len(live) > 0 {
			return nil, hinted{fmt.Errorf("group %s has live members, which own its partitions: %s", c.group, strings.Join(live, ", ")),
				"add --follow (without --partition) to join them and share the partitions, or stop them first"}
		}
	}
	var cursors []cursor
	var firsts []store.Offset
	for _, p := range t.Partitions {
		if only >= 0 && p.Partition != only {
			continue
		}
		if c.group != "" {
			committed, ok, err := c.s.CommittedOffset(c.group, c.topic, p.Partition)
			if err != nil {
				return nil, err
			}
			if ok {
				cursors = append(cursors, cursor{p.Partition, max(committed.Offset, p.LogStartOffset)})
				continue
			}
		}
		off, err := from.resolve(c.s, c.topic, p, nil)
		if err != nil {
			return nil, err
		}
		cursors = append(cursors, cursor{p.Partition, off})
		if c.group != "" {
			firsts = append(firsts, store.Offset{Group: c.group, Topic: c.topic, Partition: p.Partition, Offset: off})
		}
	}
	if len(firsts) > 0 {
		if _, err := c.s.Commit(ctx, &store.Txn{Offsets: firsts}); err != nil {
			return nil, err
		}
	}
	return cursors, nil
}

// partition prints what one partition holds from cur.next (up to
// consumeReadBytes) and commits the group's progress; it returns the next
// offset to print.
func (c *consumer) partition(ctx context.Context, cur cursor) (int64, error) {
	f, err := c.s.Read(c.topic, cur.partition, cur.next, consumeReadBytes, c.fetched)
	if errors.Is(err, store.ErrOffsetOutOfRange) {
		// Retention moved the log start past the cursor: go on from there,
		// as a Kafka consumer with auto.offset.reset=earliest does.
		logStart, _, oerr := c.s.Offsets(c.topic, cur.partition)
		return max(logStart, cur.next), oerr
	}
	if err != nil {
		return cur.next, err
	}
	c.fetched = f.Batches
	next, err := c.print(cur, f.Batches)
	if err != nil {
		return cur.next, err
	}
	if c.group != "" && next != cur.next {
		// Written out before committed: a crash in between prints a record
		// twice, never skips one (at-least-once).
		if err := c.out.Flush(); err != nil {
			return cur.next, err
		}
		offsets := []store.Offset{{Group: c.group, Topic: c.topic, Partition: cur.partition, Offset: next}}
		if _, err := c.s.Commit(context.WithoutCancel(ctx), &store.Txn{Offsets: offsets}); err != nil {
			return cur.next, err
		}
	}
	return next, nil
}

// print prints the records of batches from cur.next on, up to the limit,
// and returns the offset after the last one printed.
func (c *consumer) print(cur cursor, batches []byte) (int64, error) {
	next := cur.next
	for b := batches; len(b) > 0 && !c.full(); {
		batch, rest, err := format.NextBatch(b)
		if err != nil {
			return next, err
		}
		h, records, err := codec.Records(c.records[:0], batch)
		if err != nil {
			return next, fmt.Errorf("%s/%d: %w", c.topic, cur.partition, err)
		}
		if h.Compression() != format.CompressionNone {
			c.records = records
		}
		it := format.NewRecordIterRaw(h, records)
		var r format.BatchRecord
		for !c.full() && it.Next(&r) {
			if r.Offset < next {
				continue // the first batch may start before the cursor
			}
			if err := c.printer.print(c.out, c.topic, cur.partition, &r); err != nil {
				return next, err
			}
			c.printed++
			next = r.Offset + 1
		}
		if err := it.Err(); err != nil {
			return next, err
		}
		b = rest
	}
	return next, nil
}

// full reports whether --count records have been printed.
func (c *consumer) full() bool { return c.limit > 0 && c.printed >= c.limit }

// waitAny waits until any partition has a record at its cursor.
func (c *consumer) waitAny(ctx context.Context, cursors []cursor) error {
	if err := c.out.Flush(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(cursors))
	for _, cur := range cursors {
		go func() { done <- c.s.Wait(ctx, c.topic, cur.partition, cur.next) }()
	}
	return <-done
}
