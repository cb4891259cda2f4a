package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/spooldb/spool"
)

// Spool returns spool as a System, driven through its public API as an
// application drives it: spool.Open, a Producer per client (each request a
// ProduceSync), a Consumer per partition. Each stream is a file of its own in Spec.Dir, with one topic.
// SpoolEngine is the same file driven through the engine directly.
func Spool() System { return spoolAPI{} }

type spoolAPI struct{ spoolFile }

func (spoolAPI) Name() string { return "spool" }

// spoolFile is what Spool and SpoolEngine share: the file, the modes.
type spoolFile struct{}

func (spoolFile) Embedded() {}

func (spoolFile) Mode(d Durability) string {
	if d == Sync {
		return "durability sync"
	}
	return "durability interval (200 ms)"
}

// spoolDurability maps a workload's durability to spool's. Async is the
// interval mode, the one closest to the peers' asynchronous settings
// (Redis's everysec, PostgreSQL's synchronous_commit off).
func spoolDurability(d Durability) spool.Durability {
	if d == Sync {
		return spool.DurabilitySync
	}
	return spool.DurabilityInterval
}

// spoolTopic is the topic of every stream file.
const spoolTopic = "bench"

// spoolPath returns the file of spec's stream, removing what a run before
// left there unless the stream is to be attached to.
func spoolPath(spec Spec) (string, error) {
	path := filepath.Join(spec.Dir, spec.Name+".spool")
	if !spec.Attach {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return path, nil
}

func fileBytes(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// closeFile adds to err, the error of closing a stream's file, that of
// deleting it when drop.
func closeFile(err error, path string, drop bool) error {
	if drop {
		err = errors.Join(err, os.Remove(path))
	}
	return err
}

func (spoolAPI) Stream(ctx context.Context, spec Spec) (Stream, error) {
	path, err := spoolPath(spec)
	if err != nil {
		return nil, err
	}
	d := spoolDurability(spec.Durability)
	db, err := spool.Open(path, &spool.Options{Durability: d, NoCreate: spec.Attach, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	if !spec.Attach {
		if err := db.CreateTopic(ctx, spoolTopic, spec.Partitions, map[string]string{"retention.ms": "-1"}); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &apiStream{db: db, path: path, durability: d}, nil
}

// apiStream is a stream file opened with spool.Open. It counts no syncs:
// the public API does not take the file system the engine's counting needs.
type apiStream struct {
	db         *spool.DB
	path       string
	durability spool.Durability
}

func (st *apiStream) Bytes() (int64, error) { return fileBytes(st.path) }

// Producer returns a client with a spool.Producer of its own, as each
// client of a Kafka benchmark is a producer instance.
func (st *apiStream) Producer(context.Context) (Producer, error) {
	p, err := st.db.NewProducer(&spool.ProducerOptions{Partitioner: spool.ManualPartitioner(), Durability: st.durability})
	if err != nil {
		return nil, err
	}
	return &apiProducer{p: p}, nil
}

func (st *apiStream) Consumer(_ context.Context, group string) (Consumer, error) {
	return &apiConsumer{st: st, group: group, parts: map[int]*spool.Consumer{}}, nil
}

func (st *apiStream) Close(drop bool) error { return closeFile(st.db.Close(), st.path, drop) }

// apiProducer produces the values of a Send with ProduceSync, one record
// each, as a Kafka application that waits for its records does (franz-go's
// ProduceSync). Records carry no timestamp: the producer stamps them, as it
// does an application's.
type apiProducer struct {
	p    *spool.Producer
	recs []spool.Record // reused: Send returns once every record is acknowledged
	ptrs []*spool.Record
}

func (c *apiProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	if cap(c.recs) < len(values) {
		c.recs = make([]spool.Record, len(values))
		c.ptrs = make([]*spool.Record, len(values))
	}
	recs, ptrs := c.recs[:len(values)], c.ptrs[:len(values)]
	for i, v := range values {
		recs[i] = spool.Record{Topic: spoolTopic, Partition: int32(partition), Value: v}
		ptrs[i] = &recs[i]
	}
	return c.p.ProduceSync(ctx, ptrs...)
}

func (c *apiProducer) Close() error { return c.p.Close() }

// apiConsumer reads each partition with a spool.Consumer assigned that
// partition alone, created at its first Poll.
type apiConsumer struct {
	st    *apiStream
	group string
	parts map[int]*spool.Consumer
}

// done is a context that has ended: a Poll given it reads what is there
// and returns without waiting.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *apiConsumer) consumer(partition int) (*spool.Consumer, error) {
	if sc := c.parts[partition]; sc != nil {
		return sc, nil
	}
	sc, err := c.st.db.NewConsumer(&spool.ConsumerOptions{Group: c.group, DisableAutoCommit: true,
		MaxPollBytes: spoolReadBytes, Durability: c.st.durability})
	if err != nil {
		return nil, err
	}
	if err := sc.Assign(spoolTopic, int32(partition)); err != nil {
		sc.Close()
		return nil, err
	}
	c.parts[partition] = sc
	return sc, nil
}

func (c *apiConsumer) Poll(ctx context.Context, partition int, _ int, wait bool, fn func([]byte)) (int, error) {
	sc, err := c.consumer(partition)
	if err != nil {
		return 0, err
	}
	pollCtx := ctx
	if !wait {
		pollCtx = done
	}
	f, err := sc.Poll(pollCtx)
	if err != nil {
		if !wait && errors.Is(err, context.Canceled) && ctx.Err() == nil {
			return 0, nil // nothing there
		}
		return 0, err
	}
	n := 0
	for r := range f.Records() {
		fn(r.Value)
		n++
	}
	return n, f.Err()
}

func (c *apiConsumer) Commit(ctx context.Context, partition int) error {
	if c.group == "" {
		return fmt.Errorf("commit without a group")
	}
	sc, err := c.consumer(partition)
	if err != nil {
		return err
	}
	return sc.Commit(ctx)
}

func (c *apiConsumer) Close() error {
	var err error
	for _, sc := range c.parts {
		err = errors.Join(err, sc.Close())
	}
	return err
}

// Member is a spool.Consumer that subscribes to the stream's topic as a
// member of group: the group's assignor gives it partitions, and hands them
// over as members join.
func (st *apiStream) Member(ctx context.Context, done context.CancelFunc, group string, left *atomic.Int64) (err error) {
	c, err := st.db.NewConsumer(&spool.ConsumerOptions{Group: group, DisableAutoCommit: true,
		MaxPollBytes: spoolReadBytes, Durability: st.durability})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	if err := c.Subscribe(ctx, spoolTopic); err != nil {
		return err
	}
	for left.Load() > 0 {
		f, err := c.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // the records are all read, or the run ends
			}
			return err
		}
		n := 0
		for r := range f.Records() {
			_ = r.Value
			n++
		}
		if err := f.Err(); err != nil {
			return err
		}
		if err := c.Commit(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		if left.Add(-int64(n)) <= 0 {
			done()
		}
	}
	return nil
}
