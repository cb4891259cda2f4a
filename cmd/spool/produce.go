package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/partition"
	"github.com/spooldb/spool/internal/store"
)

// Limits of one batch built from input lines; a topic's max.message.bytes
// lowers the byte limit.
const (
	batchRecords = 1000
	batchBytes   = 256 << 10
	// txnBytes bounds the batches of all partitions that one commit (and
	// so one sync) carries.
	txnBytes = 1 << 20
)

func newProduce(g *globals) *cobra.Command {
	var partitionFlag int32
	var value, keySep, durability string
	var headers []string
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Append records: one per line of standard input, or --value",
		Long: `Append records to a topic: one per line of standard input (without its line
ending), or the one --value gives.

With --key-sep, the part of each line before the first SEP is the record's key
and the rest its value; a keyed record goes to the partition Kafka's default
partitioner (murmur2) gives its key, so it lands where a Kafka producer would
put it. A line without SEP is an error, as in kafka-console-producer. Without
keys, each batch goes to the next partition in turn. --partition sends every
record to one partition.

Records go into batches of up to 1000 records, and are committed about a
megabyte at a time, whenever the input pauses (so that lines typed at a
terminal or written by a slow tail -f are visible at once), and at its end.
--durability says when a commit counts as done: sync (the default) after it
is on disk, interval within 200 ms, none when the operating system writes it.
On Ctrl-C the lines read so far are committed, and the exit status is 1.`,
		Example: `  seq 1 1000 | spool -f events.spool produce orders
  printf 'alice:1\nbob:2\n' | spool -f events.spool produce orders --key-sep :
  spool -f events.spool produce orders --partition 2 --value '{"id": 7}' --header source=cli
  spool -f events.spool produce logs --durability none < app.log`,
		Args:              argsNamed("TOPIC"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDurability(durability)
			if err != nil {
				return err
			}
			hs, err := parseHeaders(headers)
			if err != nil {
				return err
			}
			return g.with(false, func(s *store.Store) error {
				t, err := s.Topic(args[0])
				if err != nil {
					return err
				}
				if err := checkPartition(t, partitionFlag); err != nil {
					return err
				}
				p := newProducer(s, t, partitionFlag, d)
				p.keySep, p.headers, p.bar = []byte(keySep), hs, newProgress(cmd)
				ctx := cmd.Context()
				if cmd.Flags().Changed("value") {
					err = p.line(ctx, []byte(value))
				} else {
					err = p.lines(ctx, cmd.InOrStdin())
				}
				if errors.Is(err, context.Canceled) {
					err = errors.New("interrupted; the lines read before were produced")
				}
				// After Ctrl-C too, the lines read are committed (a second
				// Ctrl-C kills at once).
				err = errors.Join(err, p.flush(context.WithoutCancel(ctx)))
				p.bar.done()
				fmt.Fprintf(cmd.ErrOrStderr(), "produced %d records to %s\n", p.count, t.Name)
				return err
			})
		},
	}
	cmd.Flags().Int32VarP(&partitionFlag, "partition", "p", -1, "send every record to this partition (default: by key, or batches in turn)")
	cmd.Flags().StringVar(&value, "value", "", "produce one record with this value instead of reading standard input")
	cmd.Flags().StringVarP(&keySep, "key-sep", "K", "", "split each line at the first SEP into key and value")
	cmd.Flags().StringArrayVarP(&headers, "header", "H", nil, "a header KEY=VALUE for every record; repeatable")
	cmd.Flags().StringVar(&durability, "durability", "sync", "when a commit is done: sync, interval or none")
	cmd.RegisterFlagCompletionFunc("durability", cobra.FixedCompletions([]string{"sync", "interval", "none"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func parseDurability(s string) (store.Durability, error) {
	switch s {
	case "sync":
		return store.DurabilitySync, nil
	case "interval":
		return store.DurabilityInterval, nil
	case "none":
		return store.DurabilityNone, nil
	}
	return 0, fmt.Errorf("--durability %q: want sync, interval or none", s)
}

func parseHeaders(kvs []string) ([]format.RecordHeader, error) {
	var out []format.RecordHeader
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want KEY=VALUE, such as source=cli", kv)
		}
		out = append(out, format.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	return out, nil
}

// producer builds batches per partition from input lines and commits them
// about a megabyte at a time: each commit waits for a sync, so fewer, larger
// commits go faster.
type producer struct {
	s          *store.Store
	topic      string
	partitions int32
	fixed      int32 // --partition, or -1
	keySep     []byte
	headers    []format.RecordHeader
	durability store.Durability
	maxRecord  int // the topic's max.message.bytes: no batch may be larger
	maxBatch   int // where a batch is cut: batchBytes, or less if maxRecord is

	parts    []partitionBatches // by partition
	pending  int                // bytes of records not yet committed
	nextFree int32              // the partition of records without a key
	lineNo   int
	now      int64 // Unix milliseconds, for the next records' timestamps
	count    int64
	bytes    int64
	txn      store.Txn
	bar      *progress
}

// partitionBatches are the records of one partition awaiting a commit.
type partitionBatches struct {
	open    format.BatchBuilder // the batch being filled
	sealed  []byte              // whole batches, built
	records int                 // in sealed
}

// seal builds the open batch onto the sealed ones.
func (pb *partitionBatches) seal() {
	if pb.open.Len() > 0 {
		pb.sealed = pb.open.Build(pb.sealed)
		pb.records += pb.open.Len()
		pb.open.Reset(0)
	}
}

func newProducer(s *store.Store, t store.TopicInfo, fixed int32, d store.Durability) *producer {
	n := int32(len(t.Partitions))
	maxRecord := int(t.Config.MaxMessageBytes)
	// Records without a key start in a random partition, as Kafka's sticky
	// partitioner does, so that short runs do not all fill partition 0.
	return &producer{s: s, topic: t.Name, partitions: n, fixed: fixed, durability: d,
		maxRecord: maxRecord, maxBatch: min(batchBytes, maxRecord), parts: make([]partitionBatches, n),
		nextFree: rand.Int32N(n), bar: &progress{}}
}

// lines produces a record for each line of r, committing what it has
// whenever the input pauses (see lineSplitter).
func (p *producer) lines(ctx context.Context, r io.Reader) error {
	ls := lineSplitter{
		line:    func(line []byte) error { return p.line(ctx, line) },
		idle:    func() error { return p.flush(ctx) },
		maxLine: p.maxRecord,
		tooLong: p.tooLong,
	}
	return ls.run(ctx, r)
}

// line adds the record one line of input gives.
func (p *producer) line(ctx context.Context, line []byte) error {
	p.lineNo++
	var key []byte
	value := line
	if len(p.keySep) > 0 {
		k, v, ok := bytes.Cut(line, p.keySep)
		if !ok {
			return fmt.Errorf("line %d has no key separator %q: %.40q", p.lineNo, p.keySep, line)
		}
		key, value = k, v
	}
	part := p.fixed
	switch {
	case part >= 0:
	case key != nil:
		part = partition.ForKey(key, p.partitions)
	default:
		part = p.nextFree
	}
	size := recordSize(key, value, p.headers)
	if format.BatchHeaderSize+size > p.maxRecord {
		return p.tooLong(size)
	}
	pb := &p.parts[part]
	if pb.open.Len() > 0 && pb.open.Size()+size > p.maxBatch {
		p.sealFull(part)
	}
	now := p.timestamp()
	if pb.open.Len() == 0 {
		pb.open.Reset(now)
	}
	pb.open.Append(now, key, value, p.headers...)
	p.pending += size
	if pb.open.Len() >= batchRecords {
		p.sealFull(part)
	}
	if p.pending >= txnBytes {
		return p.flush(ctx)
	}
	return nil
}

// stampEvery is how many records share one reading of the clock, which
// costs more than encoding a short record on some virtual machines; they
// are read within microseconds of each other.
const stampEvery = 256

// timestamp returns the time for the next record: the clock, read again
// every stampEvery records and after each commit, so that a record that
// waited for input gets the time it arrived.
func (p *producer) timestamp() int64 {
	if p.now == 0 || p.lineNo%stampEvery == 0 {
		p.now = time.Now().UnixMilli()
	}
	return p.now
}

// sealFull seals a partition's full batch. Records without a key go on in
// the next partition, so that batches spread over the partitions in turn.
func (p *producer) sealFull(part int32) {
	p.parts[part].seal()
	if p.fixed < 0 && part == p.nextFree {
		p.nextFree = (p.nextFree + 1) % p.partitions
	}
}

// recordSize is a bound on the bytes a record adds to a batch.
func recordSize(key, value []byte, headers []format.RecordHeader) int {
	n := 32 + len(key) + len(value)
	for _, h := range headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// tooLong is the error for a line of n bytes that no batch can hold.
func (p *producer) tooLong(n int) error {
	return hinted{fmt.Errorf("line %d: a record of about %d bytes is more than topic %s takes (max.message.bytes=%d)", p.lineNo+1, n, p.topic, p.maxRecord),
		fmt.Sprintf("raise the limit with: spool topic alter %s --config max.message.bytes=N", p.topic)}
}

// flush commits the records of every partition in one commit.
func (p *producer) flush(ctx context.Context) error {
	if p.pending == 0 {
		return nil
	}
	p.txn = store.Txn{Appends: p.txn.Appends[:0], Durability: p.durability}
	records, size := 0, 0
	for i := range p.parts {
		pb := &p.parts[i]
		if pb.open.Len() > 0 {
			p.sealFull(int32(i))
		}
		if pb.records > 0 {
			p.txn.Appends = append(p.txn.Appends, store.Append{Topic: p.topic, Partition: int32(i), Batches: pb.sealed})
			records += pb.records
			size += len(pb.sealed)
		}
	}
	_, err := p.s.Commit(ctx, &p.txn)
	for i := range p.parts {
		p.parts[i].sealed, p.parts[i].records = p.parts[i].sealed[:0], 0
	}
	p.pending, p.now = 0, 0
	if err != nil {
		return err
	}
	p.count += int64(records)
	p.bytes += int64(size)
	p.bar.show("produced %d records, %s", p.count, humanBytes(p.bytes))
	return nil
}
