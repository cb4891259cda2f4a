package main

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"time"

	spooldb "github.com/spooldb/spool"
	"github.com/spooldb/spool/internal/format"
)

// member is consume --group --follow: a member of the group, as Kafka's
// console consumer is, so that several of them share the partitions and
// group describe names the owner of each. It prints what its partitions
// hold and commits, after each poll, the offsets after the records it
// printed (after writing them out, so that a crash prints a record again
// rather than skipping it).
type member struct {
	c       *spooldb.Consumer
	topic   string
	limit   int
	printed int
	printer recordPrinter
	out     *bufio.Writer
	rec     format.BatchRecord // the record printed, reused
}

// consumeAsMember opens the file through the library and runs a member
// until ctx ends or limit records are printed.
func (g *globals) consumeAsMember(ctx context.Context, topic, group string, from position, limit int, printer recordPrinter, out *bufio.Writer) error {
	if err := g.check(true); err != nil {
		return err
	}
	db, err := spooldb.Open(g.file, &spooldb.Options{NoCreate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Topic(topic); err != nil {
		return err
	}
	m := &member{topic: topic, limit: limit, printer: printer, out: out}
	c, err := db.NewConsumer(&spooldb.ConsumerOptions{Group: group, Reset: from.offset(), DisableAutoCommit: true,
		OnAssigned: m.assigned})
	if err != nil {
		return err
	}
	m.c = c
	if err := c.Subscribe(ctx, topic); err != nil {
		c.Close()
		return err
	}
	err = m.run(ctx)
	// Leaving commits nothing more (what was printed is committed) and
	// hands the partitions to the other members at once.
	return errors.Join(err, out.Flush(), c.Close())
}

// assigned commits where the member starts in the partitions the group has
// no offset in, as consume without a member does (and as a Kafka consumer
// commits the position of every partition it is given).
func (m *member) assigned(tps []spooldb.TopicPartition) {
	var firsts []spooldb.PartitionOffset
	for _, tp := range tps {
		if _, ok, err := m.c.Committed(tp.Topic, tp.Partition); err != nil || ok {
			continue
		}
		if pos, err := m.c.Position(tp.Topic, tp.Partition); err == nil {
			firsts = append(firsts, spooldb.PartitionOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: pos})
		}
	}
	if len(firsts) > 0 {
		// An error here comes again at the next commit, which reports it.
		_ = m.c.CommitOffsets(context.Background(), firsts...)
	}
}

func (m *member) run(ctx context.Context) error {
	for {
		f, err := m.c.Poll(ctx)
		if err != nil {
			return err
		}
		next := map[int32]int64{}
		for r := range f.Records() {
			if m.limit > 0 && m.printed >= m.limit {
				break
			}
			if err := m.printer.print(m.out, r.Topic, r.Partition, m.record(r)); err != nil {
				return err
			}
			m.printed++
			next[r.Partition] = r.Offset + 1
		}
		if err := f.Err(); err != nil {
			return err
		}
		if err := m.commit(ctx, next); err != nil {
			return err
		}
		if m.limit > 0 && m.printed >= m.limit {
			return nil
		}
	}
}

// commit writes out what was printed, then commits the offsets after it.
func (m *member) commit(ctx context.Context, next map[int32]int64) error {
	if err := m.out.Flush(); err != nil {
		return err
	}
	if len(next) == 0 {
		return nil
	}
	offsets := make([]spooldb.PartitionOffset, 0, len(next))
	for p, off := range next {
		offsets = append(offsets, spooldb.PartitionOffset{Topic: m.topic, Partition: p, Offset: off})
	}
	return m.c.CommitOffsets(context.WithoutCancel(ctx), offsets...)
}

// record returns r as the printers take it.
func (m *member) record(r *spooldb.Record) *format.BatchRecord {
	b := &m.rec
	b.Offset, b.Timestamp, b.Key, b.Value = r.Offset, r.Timestamp.UnixMilli(), r.Key, r.Value
	b.Headers = b.Headers[:0]
	for _, h := range r.Headers {
		b.Headers = append(b.Headers, format.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return b
}

// offset is where a member starts in a partition its group has no offset
// in: --from as the library's Reset.
func (pos position) offset() spooldb.Offset {
	switch pos.kind {
	case atLatest:
		return spooldb.Latest()
	case atOffset:
		return spooldb.At(pos.value)
	case atTime:
		return spooldb.AtTime(time.UnixMilli(pos.value))
	}
	return spooldb.Earliest()
}
