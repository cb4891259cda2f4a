package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spooldb/spool/internal/store"
)

// benchDB opens a file on disk (not tmpfs where the test's temporary
// directory may be: durability costs are the point) with topic "t".
func benchDB(b *testing.B, d Durability, partitions int) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "bench.spool"), &Options{Durability: d})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.CreateTopic(ctx, "t", partitions, map[string]string{"retention.ms": "-1"}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkProduce: records of 100 bytes through one shared producer,
// asynchronously (callbacks), and synchronously by goroutines that each wait
// for every acknowledgement.
func BenchmarkProduce(b *testing.B) {
	value := make([]byte, 100)
	for _, d := range []Durability{DurabilityNone, DurabilitySync} {
		b.Run(fmt.Sprintf("async/%v", d), func(b *testing.B) {
			db := benchDB(b, d, 4)
			p, err := db.NewProducer(nil)
			if err != nil {
				b.Fatal(err)
			}
			r := Record{Topic: "t", Value: value}
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for b.Loop() {
				rec := r
				p.Produce(ctx, &rec, nil)
			}
			if err := p.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		for _, goroutines := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync/%v/%d", d, goroutines), func(b *testing.B) {
				db := benchDB(b, d, 4)
				p, err := db.NewProducer(nil)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				commits := countCommits(p)
				b.SetBytes(int64(len(value)))
				var wg sync.WaitGroup
				per := b.N/goroutines + 1
				b.ResetTimer()
				for range goroutines {
					wg.Go(func() {
						for range per {
							if err := p.ProduceSync(ctx, &Record{Topic: "t", Value: value}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(per*goroutines)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(per*goroutines)/float64(commits.Load()), "records/commit")
			})
		}
	}
}

// BenchmarkProduceRequests is spool bench's produce-{100B,1KiB}-async
// through the public API: 4 producers (ManualPartitioner, durability
// interval), each on its own partition, each sending requests of 64 KiB of
// records and waiting for their callbacks. It reports the records per commit
// beside the rate: a request cut into many commits pays the store's cost
// per commit many times.
func BenchmarkProduceRequests(b *testing.B) {
	const producers, requestBytes = 4, 64 << 10
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			db := benchDB(b, DurabilityInterval, producers)
			value := make([]byte, size)
			requests := make(chan struct{})
			var records atomic.Int64
			var commits []*atomic.Int64
			var wg sync.WaitGroup
			for i := range producers {
				p, err := db.NewProducer(&ProducerOptions{Partitioner: ManualPartitioner()})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				commits = append(commits, countCommits(p))
				recs := make([]Record, requestBytes/size)
				var acked sync.WaitGroup
				done := func(_ *Record, err error) {
					if err != nil {
						b.Error(err)
					}
					acked.Done()
				}
				wg.Go(func() {
					for range requests {
						acked.Add(len(recs))
						for j := range recs {
							recs[j] = Record{Topic: "t", Partition: int32(i), Value: value}
							p.Produce(ctx, &recs[j], done)
						}
						acked.Wait()
						records.Add(int64(len(recs)))
					}
				})
			}
			b.SetBytes(requestBytes)
			for b.Loop() {
				requests <- struct{}{}
			}
			close(requests)
			wg.Wait()
			var committed int64
			for _, n := range commits {
				committed += n.Load()
			}
			b.ReportMetric(float64(records.Load())/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(records.Load())/float64(committed), "records/commit")
		})
	}
}

// countCommits counts the commits p makes from now on.
func countCommits(p *Producer) *atomic.Int64 {
	n := new(atomic.Int64)
	commit := p.commit
	p.commit = func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error {
		n.Add(1)
		return commit(ctx, txn, done)
	}
	return n
}

// BenchmarkConsume: polling and iterating records of 100 bytes from the page
// cache.
func BenchmarkConsume(b *testing.B) {
	db := benchDB(b, DurabilityNone, 1)
	p, err := db.NewProducer(nil)
	if err != nil {
		b.Fatal(err)
	}
	const records = 1_000_000
	value := make([]byte, 100)
	for range records {
		p.Produce(ctx, &Record{Topic: "t", Value: value}, nil)
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	var c *Consumer
	for b.Loop() {
		if n%records == 0 {
			if c != nil {
				c.Close()
			}
			if c, err = db.NewConsumer(nil); err != nil {
				b.Fatal(err)
			}
			if err := c.Assign("t"); err != nil {
				b.Fatal(err)
			}
		}
		f, err := c.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for r := range f.Records() {
			n += len(r.Value) / len(value)
			if n%records == 0 {
				break
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkWorkers: a pool of 8 workers with an empty handler over 4
// partitions of records produced beforehand, in each delivery mode, with
// the file's durability sync (every commit of acknowledgements synced).
// ExactlyOnce also produces one output record per input.
func BenchmarkWorkers(b *testing.B) {
	for _, d := range []Delivery{AtLeastOnce, AtMostOnce, ExactlyOnce} {
		b.Run(fmt.Sprint(d), func(b *testing.B) {
			db := benchDB(b, DurabilitySync, 4)
			if err := db.CreateTopic(ctx, "out", 4, nil); err != nil {
				b.Fatal(err)
			}
			p, err := db.NewProducer(&ProducerOptions{Durability: DurabilityNone})
			if err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 100)
			for i := range b.N {
				p.Produce(ctx, &Record{Topic: "t", Key: fmt.Appendf(nil, "%d", i%1000), Value: value}, nil)
			}
			if err := p.Close(); err != nil {
				b.Fatal(err)
			}
			var handled atomic.Int64
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			w, err := db.NewWorkers(WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g"}, Topics: []string{"t"},
				Ordering: PerKey, Delivery: d, Workers: 8}, func(ctx context.Context, r *Record, tx *Tx) error {
				if d == ExactlyOnce {
					if err := tx.Produce(&Record{Topic: "out", Key: r.Key, Value: r.Value}); err != nil {
						return err
					}
				}
				if handled.Add(1) == int64(b.N) {
					stop()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if err := w.Run(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
