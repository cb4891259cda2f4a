package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

var ctx = context.Background()

// batch builds a batch of n records whose values are prefix-i.
func batch(prefix string, n int) []byte {
	var bb format.BatchBuilder
	bb.Reset(1000)
	for i := range n {
		bb.Append(1000+int64(i), nil, fmt.Appendf(nil, "%s-%d", prefix, i))
	}
	return bb.Build(nil)
}

// values reads every record value of a partition from offset from.
func values(t testing.TB, s *Store, topic string, partition int32, from int64) []string {
	t.Helper()
	var out []string
	for {
		f, err := s.Read(topic, partition, from, 1<<20, nil)
		if err != nil {
			t.Fatalf("read %s/%d at %d: %v", topic, partition, from, err)
		}
		if len(f.Batches) == 0 {
			return out
		}
		for b := f.Batches; len(b) > 0; {
			one, rest, err := format.NextBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			it, err := format.NewRecordIter(one)
			if err != nil {
				t.Fatal(err)
			}
			var r format.BatchRecord
			for it.Next(&r) {
				if r.Offset >= from {
					out = append(out, string(r.Value))
					from = r.Offset + 1
				}
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			b = rest
		}
	}
}

func memOpts(fs vfs.FS) Options {
	return Options{FS: fs, ExtentSize: format.MinExtentSize}
}

// openWithTopic opens file "f" of fs and creates topic "t" with partitions
// partitions that keeps its records forever: the tests' timestamps are from
// 1970, which the default retention would expire.
func openWithTopic(t *testing.T, fs vfs.FS, partitions int) *Store {
	t.Helper()
	return openTopic(t, "f", memOpts(fs), partitions)
}

// openTopic opens path with opts and creates topic "t" as openWithTopic does.
func openTopic(t *testing.T, path string, opts Options, partitions int) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", partitions, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProduceReadReopen(t *testing.T) {
	fs := vfs.NewMem()
	s := openWithTopic(t, fs, 2)
	if err := s.CreateTopic(ctx, "t", 2, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("second create: %v, want ErrTopicExists", err)
	}
	var want []string
	for i := range 50 {
		res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Partition: 1, Batches: batch(fmt.Sprint(i), 10)}}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].BaseOffset != int64(i*10) || res[0].LastOffset != int64(i*10+9) {
			t.Fatalf("commit %d landed at %+v", i, res[0])
		}
		for j := range 10 {
			want = append(want, fmt.Sprintf("%d-%d", i, j))
		}
	}
	check := func(s *Store) {
		t.Helper()
		got := values(t, s, "t", 1, 0)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("read back %d values, want %d: %v", len(got), len(want), got[:min(len(got), 5)])
		}
		if got := values(t, s, "t", 1, 255); got[0] != "25-5" {
			t.Fatalf("read from 255 starts with %s", got[0])
		}
		_, hwm, err := s.Offsets("t", 1)
		if err != nil || hwm != 500 {
			t.Fatalf("hwm %d, %v", hwm, err)
		}
	}
	check(s)
	if _, err := s.Commit(ctx, &Txn{Offsets: []Offset{{Group: "g", Topic: "t", Partition: 1, Offset: 42, Metadata: "m"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("f", memOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
	c, ok, err := s.CommittedOffset("g", "t", 1)
	if err != nil || !ok || c.Offset != 42 || c.Metadata != "m" {
		t.Fatalf("committed %+v %v %v", c, ok, err)
	}
}

func TestOSFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.spool")
	s := openTopic(t, path, Options{}, 1)
	if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("a", 3)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := values(t, s, "t", 0, 0); fmt.Sprint(got) != "[a-0 a-1 a-2]" {
		t.Fatalf("got %v", got)
	}
}

func TestOffsetForTime(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	// Ten batches of ten records; record i is stamped 1000+10*i.
	for b := range 10 {
		var bb format.BatchBuilder
		bb.Reset(0)
		for i := range 10 {
			bb.Append(int64(1000+10*(b*10+i)), nil, []byte("v"))
		}
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: bb.Build(nil)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ ts, want int64 }{{0, 0}, {1000, 0}, {1001, 1}, {1555, 56}, {1990, 99}, {1991, 100}, {5000, 100}} {
		got, err := s.OffsetForTime("t", 0, c.ts)
		if err != nil || got != c.want {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", c.ts, got, err, c.want)
		}
	}
}

func TestCheckFindsDamage(t *testing.T) {
	fs := vfs.NewMem()
	s := openWithTopic(t, fs, 1)
	defer s.Close()
	for i := range 20 {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint(i), 50)}}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Check(ctx, nil)
	if err != nil || len(r.Problems) != 0 || r.Batches != 20 {
		t.Fatalf("clean file: %+v, %v", r, err)
	}
	// Flip a byte inside the tenth batch's records.
	f, err := fs.Open("f", false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s.mu.RLock()
	sg := s.st.byName["t"].partitions[0].segments[0]
	s.mu.RUnlock()
	pos := s.payloadOffset(sg.extent, sg.index[0].pos) + int64(len(batch("0", 50)))*9 + 100
	var b [1]byte
	f.ReadAt(b[:], pos)
	b[0] ^= 0x40
	f.WriteAt(b[:], pos)
	r, err = s.Check(ctx, nil)
	if err != nil || len(r.Problems) != 1 || !errors.Is(r.Problems[0].Err, format.ErrBatchCRC) || r.Problems[0].Offset != 450 {
		t.Fatalf("damaged file: %+v, %v", r, err)
	}
}

// TestOpenUnfinishedCreate opens what a process killed inside create leaves:
// a file with its header allocated but no meta page yet.
func TestOpenUnfinishedCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.spool")
	f, err := vfs.OS.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Allocate(0, format.ExtentsStart+format.MinExtentSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, format.ErrNotSpool) {
		t.Fatalf("read-only open of an unfinished file: %v, want ErrNotSpool", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open of an unfinished file: %v", err)
	}
	defer s.Close()
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCloseAfterCheckpointWritesNothing checks that a file closed, opened and
// closed again without commits does not checkpoint a second time.
func TestCloseAfterCheckpointWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.spool")
	s := openTopic(t, path, Options{}, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq := s.meta.Sequence
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.meta.Sequence != seq {
		t.Fatalf("meta sequence went from %d to %d: an idle open and close checkpointed", seq, s.meta.Sequence)
	}
}

// TestReadIndexesCheckpointedSegment reads a segment loaded from a
// checkpoint, which starts with one index entry, and checks that sequential
// reads add entries as they go and return every record once.
func TestReadIndexesCheckpointedSegment(t *testing.T) {
	fs := vfs.NewMem()
	// Every commit, and the close, checkpoints.
	opts := Options{FS: fs, ExtentSize: 4 << 20, CheckpointBytes: 1}
	s := openTopic(t, "f", opts, 1)
	var want []string
	for i := range 300 {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprintf("%03d-padding-to-make-records-longer", i), 100)}}}); err != nil {
			t.Fatal(err)
		}
		for j := range 100 {
			want = append(want, fmt.Sprintf("%03d-padding-to-make-records-longer-%d", i, j))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries := func() int {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return len(s.st.byName["t"].partitions[0].segments[0].index)
	}
	if n := entries(); n != 1 {
		t.Fatalf("a segment loaded from a checkpoint has %d index entries, want 1", n)
	}
	var got []string
	for off := int64(0); ; {
		f, err := s.Read("t", 0, off, 100<<10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Batches) == 0 {
			break
		}
		for b := f.Batches; len(b) > 0; {
			one, rest, _ := format.NextBatch(b)
			it, _ := format.NewRecordIter(one)
			var r format.BatchRecord
			for it.Next(&r) {
				if r.Offset >= off {
					got = append(got, string(r.Value))
					off = r.Offset + 1
				}
			}
			b = rest
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	if n := entries(); n < 10 {
		t.Fatalf("after reading %d KiB in 100 KiB reads the segment has %d index entries", len(want)*50/1024, n)
	}
}

// TestCloseWhileReading closes a store while goroutines read and wait on it:
// they end with ErrClosed (or their read's error), and the shared page is not
// unmapped under them, which would kill the process.
func TestCloseWhileReading(t *testing.T) {
	for round := range 20 {
		s := openTopic(t, filepath.Join(t.TempDir(), "x.spool"), Options{}, 1)
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("a", 10)}}}); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{}, 4)
		done := make(chan error, 4)
		for g := range 4 {
			go func() {
				started <- struct{}{}
				for {
					var err error
					if g%2 == 0 {
						_, err = s.Read("t", 0, 0, 1<<20, nil)
					} else {
						err = s.Wait(ctx, "t", 0, 1000)
					}
					if err != nil {
						done <- err
						return
					}
				}
			}()
		}
		for range 4 {
			<-started
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		for range 4 {
			if err := <-done; !errors.Is(err, ErrClosed) {
				t.Logf("round %d: a reader ended with %v", round, err)
			}
		}
	}
}

// TestOffsetForTimeCompressed finds a record inside a compressed batch.
func TestOffsetForTimeCompressed(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	var bb format.BatchBuilder
	bb.Reset(0)
	for i := range 50 {
		bb.Append(int64(1000+10*i), nil, []byte("compressible compressible compressible"))
	}
	b, err := bb.BuildCompressed(nil, format.CompressionZstd, codec.CompressFunc(format.CompressionZstd))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: b}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OffsetForTime("t", 0, 1255); err != nil || got != 26 {
		t.Fatalf("OffsetForTime(1255) = %d, %v; want 26", got, err)
	}
}
