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

// countCommits counts the commits p makes from now on.
func countCommits(p *Producer) *atomic.Int64 {
	n := new(atomic.Int64)
	commit := p.commit
	p.commit = func(ctx context.Context, txn *store.Txn) ([]store.AppendResult, error) {
		n.Add(1)
		return commit(ctx, txn)
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
