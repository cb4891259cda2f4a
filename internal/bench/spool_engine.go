package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
	"github.com/spooldb/spool/internal/vfs"
)

// SpoolEngine returns spool driven through its engine (internal/store)
// directly, not through the public API: batches built by the benchmark and
// committed with Store.Commit, whole batches read with Store.Read. It is the
// baseline that shows what the public API (Spool) costs; spool bench --engine
// runs it beside Spool.
func SpoolEngine() System { return spoolEngine{} }

type spoolEngine struct{ spoolFile }

func (spoolEngine) Name() string { return "spool-engine" }

func (spoolEngine) Stream(ctx context.Context, spec Spec) (Stream, error) {
	path, err := spoolPath(spec)
	if err != nil {
		return nil, err
	}
	fs := &countingFS{}
	s, err := store.Open(path, store.Options{
		FS:         fs,
		Durability: store.Durability(spoolDurability(spec.Durability)),
		NoCreate:   spec.Attach,
		// No retention sweep during a measurement.
		RetentionCheck: time.Hour,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	if !spec.Attach {
		retainAll := []format.ConfigEntry{{Name: store.ConfigRetentionMs, Value: "-1"}}
		if err := s.CreateTopic(ctx, spoolTopic, spec.Partitions, retainAll); err != nil {
			s.Close()
			return nil, err
		}
	}
	return &spoolStream{s: s, path: path, durability: store.Durability(spoolDurability(spec.Durability)), fs: fs}, nil
}

type spoolStream struct {
	s          *store.Store
	path       string
	durability store.Durability
	fs         *countingFS
}

func (st *spoolStream) Syncs() uint64 { return st.fs.syncs.Load() }

func (st *spoolStream) Bytes() (int64, error) { return fileBytes(st.path) }

func (st *spoolStream) Producer(context.Context) (Producer, error) {
	return &spoolProducer{st: st}, nil
}

func (st *spoolStream) Consumer(_ context.Context, group string) (Consumer, error) {
	return &spoolConsumer{st: st, group: group, next: map[int]int64{}, buf: make([]byte, spoolReadBytes)}, nil
}

func (st *spoolStream) Close(drop bool) error { return closeFile(st.s.Close(), st.path, drop) }

// spoolProducer builds one batch of the values it is given, as a Kafka
// producer does with the records it gathered, and commits it.
type spoolProducer struct {
	st  *spoolStream
	bb  format.BatchBuilder
	buf []byte
}

func (p *spoolProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	now := time.Now().UnixMilli()
	p.bb.Reset(now)
	for _, v := range values {
		p.bb.Append(now, nil, v)
	}
	p.buf = p.bb.Build(p.buf[:0])
	_, err := p.st.s.Commit(ctx, &store.Txn{
		Appends:    []store.Append{{Topic: spoolTopic, Partition: int32(partition), Batches: p.buf}},
		Durability: p.st.durability,
	})
	return err
}

func (p *spoolProducer) Close() error { return nil }

// spoolReadBytes is how much one Read asks for: Kafka's default
// max.partition.fetch.bytes.
const spoolReadBytes = 1 << 20

type spoolConsumer struct {
	st    *spoolStream
	group string
	next  map[int]int64 // the next offset to read, by partition
	buf   []byte
}

func (c *spoolConsumer) Poll(ctx context.Context, partition int, _ int, wait bool, fn func([]byte)) (int, error) {
	from := c.next[partition]
	for {
		f, err := c.st.s.Read(spoolTopic, int32(partition), from, spoolReadBytes, c.buf)
		if err != nil {
			return 0, err
		}
		if len(f.Batches) == 0 {
			if !wait {
				return 0, nil
			}
			if err := c.st.s.Wait(ctx, spoolTopic, int32(partition), from); err != nil {
				return 0, err
			}
			continue
		}
		n, next, err := eachValue(f.Batches, from, fn)
		c.next[partition] = next
		return n, err
	}
}

// eachValue calls fn with the value of every record at offset from or later
// in batches, and returns how many and the offset after the last.
func eachValue(batches []byte, from int64, fn func([]byte)) (int, int64, error) {
	n := 0
	var r format.BatchRecord
	for len(batches) > 0 {
		b, rest, err := format.NextBatch(batches)
		if err != nil {
			return n, from, err
		}
		batches = rest
		it, err := format.NewRecordIter(b)
		if err != nil {
			return n, from, err
		}
		for it.Next(&r) {
			if r.Offset < from {
				continue
			}
			fn(r.Value)
			n++
			from = r.Offset + 1
		}
		if err := it.Err(); err != nil {
			return n, from, err
		}
	}
	return n, from, nil
}

func (c *spoolConsumer) Commit(ctx context.Context, partition int) error {
	if c.group == "" {
		return fmt.Errorf("commit without a group")
	}
	_, err := c.st.s.Commit(ctx, &store.Txn{
		Offsets:    []store.Offset{{Group: c.group, Topic: spoolTopic, Partition: int32(partition), Offset: c.next[partition]}},
		Durability: c.st.durability,
	})
	return err
}

func (c *spoolConsumer) Close() error { return nil }

// countingFS opens OS files that count their syncs.
type countingFS struct {
	syncs atomic.Uint64
}

func (fs *countingFS) Open(path string, create bool) (vfs.File, error) {
	f, err := vfs.OS.Open(path, create)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, syncs: &fs.syncs}, nil
}

type countingFile struct {
	vfs.File
	syncs *atomic.Uint64
}

func (f *countingFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// WriteAtSync is a sync too: a commit that carries its data in the journal
// syncs with it.
func (f *countingFile) WriteAtSync(p []byte, off int64) (int, error) {
	f.syncs.Add(1)
	return f.File.WriteAtSync(p, off)
}
