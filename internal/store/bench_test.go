package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// benchOptions are the options of a benchmark's store: a real file with the
// default extent size, and no retention sweep during the measurement.
func benchOptions() Options {
	return Options{FS: vfs.OS, RetentionCheck: time.Hour, Logger: quietLogger}
}

// benchBatch builds one batch of n records of size value bytes, stamped now
// so that retention would not delete them.
func benchBatch(n, size int) []byte {
	var bb format.BatchBuilder
	now := time.Now().UnixMilli()
	bb.Reset(now)
	value := make([]byte, size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	for range n {
		bb.Append(now, nil, value)
	}
	return bb.Build(nil)
}

// benchPartitions is how many partitions the producers of BenchmarkAppend
// spread over.
const benchPartitions = 4

// BenchmarkAppend measures commits of one batch each into a file on disk,
// by 1 or 64 concurrent producers. With durability sync, concurrent commits
// share a sync (group commit); the records=1 variant shows that with the
// smallest commits.
func BenchmarkAppend(b *testing.B) {
	type config struct {
		size       int
		records    int
		durability Durability
		producers  int
	}
	var configs []config
	for _, size := range []int{100, 1024} {
		for _, d := range []Durability{DurabilityNone, DurabilitySync} {
			for _, p := range []int{1, 64} {
				configs = append(configs, config{size, 100, d, p})
			}
		}
	}
	configs = append(configs, config{100, 1, DurabilitySync, 64})
	for _, c := range configs {
		name := fmt.Sprintf("size=%d/records=%d/durability=%s/producers=%d", c.size, c.records, c.durability, c.producers)
		b.Run(name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.spool"), benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateTopic(ctx, "t", benchPartitions, nil); err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(c.records, c.size)
			b.SetBytes(int64(len(batch)))
			commitConcurrently(b, c.producers, c.records, func(p int) (func() error, error) {
				txn := &Txn{Appends: []Append{{Topic: "t", Partition: int32(p % benchPartitions), Batches: batch}},
					Durability: c.durability}
				return func() error {
					_, err := s.Commit(ctx, txn)
					return err
				}, nil
			})
		})
	}
}

// BenchmarkCommitIdempotent measures commits of one idempotent batch of
// one 100-byte record each, by 1 or 64 concurrent producers, into an
// in-memory file: what is left is mostly the writer's planning of each
// commit, which the producers' commits queue behind.
func BenchmarkCommitIdempotent(b *testing.B) {
	for _, producers := range []int{1, 64} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			opts := benchOptions()
			opts.FS = vfs.NewMem()
			s, err := Open("bench.spool", opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateTopic(ctx, "t", benchPartitions, nil); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 100)
			b.ReportAllocs()
			commitConcurrently(b, producers, 1, func(p int) (func() error, error) {
				id, err := s.InitProducer(ctx)
				if err != nil {
					return nil, err
				}
				var bb format.BatchBuilder
				var batch []byte
				var seq int32
				txn := &Txn{Appends: []Append{{Topic: "t", Partition: int32(p % benchPartitions)}},
					Durability: DurabilityNone, Built: true}
				return func() error {
					now := time.Now().UnixMilli()
					bb.Reset(now)
					bb.SetProducer(id.ID, id.Epoch, seq)
					seq++
					bb.Append(now, nil, value)
					batch = bb.Build(batch[:0])
					txn.Appends[0].Batches = batch
					_, err := s.Commit(ctx, txn)
					return err
				}, nil
			})
		})
	}
}

// BenchmarkRead measures a sequential read of a whole partition from its
// start, 1 MiB per Read, from a file in the page cache.
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.spool"), benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
				b.Fatal(err)
			}
			const records, perBatch = 200_000, 100
			batch := benchBatch(perBatch, size)
			for range records / perBatch {
				if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch}}, Durability: DurabilityNone}); err != nil {
					b.Fatal(err)
				}
			}
			total := int64(records / perBatch * len(batch))
			b.SetBytes(total)
			buf := make([]byte, 2<<20)
			b.ResetTimer()
			for range b.N {
				var read int64
				for from := int64(0); from < records; {
					f, err := s.Read("t", 0, from, 1<<20, buf)
					if err != nil {
						b.Fatal(err)
					}
					if len(f.Batches) == 0 {
						b.Fatalf("no batches at %d", from)
					}
					read += int64(len(f.Batches))
					// The batches are whole: the last one's header says
					// where the next read starts.
					var last format.BatchHeader
					for rest := f.Batches; len(rest) > 0; {
						one, r, err := format.NextBatch(rest)
						if err != nil {
							b.Fatal(err)
						}
						if last, err = format.ParseBatchHeader(one); err != nil {
							b.Fatal(err)
						}
						rest = r
					}
					from = last.LastOffset() + 1
				}
				if read != total {
					b.Fatalf("read %d bytes, wrote %d", read, total)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkOpen measures opening a file of many small commits: after Close
// (a checkpoint, little journal to replay), and as a process killed before
// Close leaves it (the journal since the last checkpoint is replayed, and the
// commits not known synced are checked against their data).
func BenchmarkOpen(b *testing.B) {
	const commits = 20_000
	dir := b.TempDir()
	path := filepath.Join(dir, "bench.spool")
	s, err := Open(path, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", benchPartitions, nil); err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(1, 100)
	for i := range commits {
		txn := &Txn{Appends: []Append{{Topic: "t", Partition: int32(i % benchPartitions), Batches: batch}}, Durability: DurabilityNone}
		if i%100 == 0 {
			txn.Offsets = []Offset{{Group: "g", Topic: "t", Partition: int32(i % benchPartitions), Offset: int64(i / benchPartitions)}}
		}
		if _, err := s.Commit(ctx, txn); err != nil {
			b.Fatal(err)
		}
	}
	unclean, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	clean, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		image []byte
	}{{"clean", clean}, {"unclean", unclean}} {
		b.Run(fmt.Sprintf("commits=%d/%s", commits, c.name), func(b *testing.B) {
			copyPath := filepath.Join(dir, c.name+".spool")
			b.ReportMetric(float64(len(c.image)), "file-bytes")
			for range b.N {
				// Open repairs and checkpoints the file; start each time
				// from the same bytes, synced, so that a sync in Open does
				// not write the copy.
				b.StopTimer()
				if err := writeSynced(copyPath, c.image); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				s, err := Open(copyPath, benchOptions())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_, hwm, err := s.Offsets("t", 0)
				if err != nil || hwm != commits/benchPartitions {
					b.Fatalf("partition 0 ends at %d, %v; want %d", hwm, err, commits/benchPartitions)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// writeSynced writes b to a file at path and syncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commitConcurrently has producers goroutines commit, each with the commit
// function start gives it, until they made b.N commits between them, and
// reports records per second (records a commit).
func commitConcurrently(b *testing.B, producers, records int, start func(producer int) (func() error, error)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	b.ResetTimer()
	for p := range producers {
		wg.Go(func() {
			commit, err := start(p)
			if err != nil {
				errs <- err
				return
			}
			for next.Add(1) <= int64(b.N) {
				if err := commit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
}
