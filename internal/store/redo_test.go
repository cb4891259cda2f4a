package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// TestCarriedDataAfterPowerLoss commits synchronously to several partitions,
// so that each commit's batch rides in its journal record and the writer
// syncs the journal's bytes alone, then loses power at many seeds: every
// commit must come back whole, and at some seeds the extents must have lost
// bytes that the open wrote back from the journal.
func TestCarriedDataAfterPowerLoss(t *testing.T) {
	fs := vfs.NewMem()
	opts := journalOpts(fs)
	opts.Durability = DurabilitySync
	s := openWithTopics(t, opts, 4, "t")
	now := time.Now().UnixMilli()
	want := make([][]string, 4)
	for i := range 40 {
		p := int32(i % 4)
		v := fmt.Sprintf("value %d", i)
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Partition: p, Batches: valuesBatch(now, []string{v})}}}); err != nil {
			t.Fatal(err)
		}
		want[p] = append(want[p], v)
	}
	carried := 0
	s.catchMu.Lock()
	_, err := s.readJournal(s.meta, math.MaxUint64, func(_, _ chainPos, x format.Record) {
		for or := format.NewOpReader(x.Ops); ; {
			op, _ := or.Next()
			if op == nil {
				return
			}
			if _, ok := op.(format.AppendData); ok {
				carried++
			}
		}
	})
	s.catchMu.Unlock()
	if err != nil || carried != 40 {
		t.Fatalf("%d of 40 commits carried their batch (%v); all should, the 4 that allocated an extent too", carried, err)
	}

	wroteBack := 0
	for seed := range uint64(40) {
		var logs bytes.Buffer
		o := opts
		o.FS = fs.Crash(rand.New(rand.NewPCG(seed, 7)))
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		s2, err := Open("f", o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for p := range int32(4) {
			if got := values(t, s2, "t", p, 0); !slices.Equal(got, want[p]) {
				t.Fatalf("seed %d: t/%d holds %q, want %q", seed, p, got, want[p])
			}
		}
		if r, err := s2.Check(ctx, nil); err != nil || len(r.Problems) != 0 {
			t.Fatalf("seed %d: check: %v %v", seed, err, r.Problems)
		}
		s2.Close()
		if strings.Contains(logs.String(), "wrote back") {
			wroteBack++
		}
	}
	t.Logf("the open wrote carried batches back at %d of 40 seeds", wroteBack)
	if wroteBack == 0 {
		t.Fatal("no power loss lost a carried batch from its extent: the test does not reach the write-back")
	}
}

// TestCarriedDataNotWrittenOverReuse frees the extents of a partition whose
// commits carried their batches and lets another partition reuse them: the
// open after a crash must not write the freed partition's carried batches
// over the data that now lives there, which its own commits did not carry.
func TestCarriedDataNotWrittenOverReuse(t *testing.T) {
	fs := vfs.NewMem()
	opts := journalOpts(fs)
	opts.Durability = DurabilitySync
	s := openWithTopics(t, opts, 1, "a", "b")
	now := time.Now().UnixMilli()
	commit := func(topic string, i int, d Durability) string {
		t.Helper()
		v := fmt.Sprintf("%s %d %s", topic, i, strings.Repeat("x", 1000))
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: topic, Batches: valuesBatch(now, []string{v})}}, Durability: d}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	extents := func(topic string) []uint32 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		p, err := s.lookup(topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		var es []uint32
		for _, sg := range p.segments {
			es = append(es, sg.extent)
		}
		return es
	}
	for i := range 100 { // two 64 KiB extents
		commit("a", i, DurabilitySync)
	}
	freed := extents("a")
	if _, err := s.DeleteRecords(ctx, "a", 0, -1); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 { // not carried: a's stale batches would win
		want = append(want, commit("b", i, DurabilityNone))
	}
	if reused := extents("b")[0]; !slices.Contains(freed, reused) {
		t.Fatalf("b's extent %d is not one that a freed (%v): the test does not reach a reuse", reused, freed)
	}
	o := opts
	o.FS = fs.CrashClean()
	s2, err := Open("f", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := values(t, s2, "b", 0, 0)
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			t.Fatalf("b holds %d values, want %d; they differ at offset %d", len(got), len(want), i)
		}
	}
}

// TestCarryBehindASync: a synchronous group planned while the syncer syncs
// the file for a group ahead of it (one that could not carry its batch, as
// an asynchronous record before it was not durable) carries its own, since
// that sync makes everything before it durable first; after a power loss
// at any point both are whole.
func TestCarryBehindASync(t *testing.T) {
	mem := vfs.NewMem()
	gate := &syncGate{entered: make(chan struct{}), release: make(chan struct{})}
	opts := journalOpts(wrappedFS{mem, gate.file})
	opts.Durability = DurabilitySync
	s := openWithTopics(t, opts, 1, "t", "u")
	now := time.Now().UnixMilli()
	commit := func(topic, v string, d Durability) <-chan error {
		done := make(chan error, 1)
		txn := &Txn{Appends: []Append{{Topic: topic, Batches: valuesBatch(now, []string{v})}}, Durability: d}
		if err := s.CommitAsync(ctx, txn, func(_ []AppendResult, err error) { done <- err }); err != nil {
			done <- err
		}
		return done
	}
	for _, c := range [][2]string{{"t", "t first"}, {"u", "u first"}} {
		if err := <-commit(c[0], c[1], DurabilityNone); err != nil {
			t.Fatal(err)
		}
	}
	gate.hold.Store(true)
	first := commit("u", "u second", DurabilitySync) // syncs the file: "u first" is not durable
	<-gate.entered
	second := commit("t", "t second", DurabilitySync)
	// Nothing lands until the sync returns: the second group is planned
	// once the syncer holds both.
	for s.landing.Load() < 2 {
		runtime.Gosched()
	}
	close(gate.release)
	for _, done := range []<-chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var last format.Record
	s.catchMu.Lock()
	_, err := s.readJournal(s.meta, math.MaxUint64, func(_, _ chainPos, x format.Record) { last = x })
	s.catchMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	or := format.NewOpReader(last.Ops)
	op, err := or.Next()
	if _, ok := op.(format.AppendData); !ok || err != nil {
		t.Fatalf("the group behind the sync wrote %T (%v), want AppendData: it did not carry its batch", op, err)
	}
	for seed := range uint64(20) {
		o := opts
		o.FS = mem.Crash(rand.New(rand.NewPCG(seed, 11)))
		s2, err := Open("f", o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got := values(t, s2, "t", 0, 0); !slices.Equal(got, []string{"t first", "t second"}) {
			t.Fatalf("seed %d: t/0 holds %q", seed, got)
		}
		if got := values(t, s2, "u", 0, 0); !slices.Equal(got, []string{"u first", "u second"}) {
			t.Fatalf("seed %d: u/0 holds %q", seed, got)
		}
		s2.Close()
	}
}

// wrappedFS is a file system whose files are the wrap of another's.
type wrappedFS struct {
	vfs.FS
	wrap func(vfs.File) vfs.File
}

func (w wrappedFS) Open(path string, create bool) (vfs.File, error) {
	f, err := w.FS.Open(path, create)
	if err != nil {
		return nil, err
	}
	return w.wrap(f), nil
}

// syncGate makes files whose Sync, while hold is set, tells entered (once)
// and waits for release.
type syncGate struct {
	hold             atomic.Bool
	once             sync.Once
	entered, release chan struct{}
}

func (g *syncGate) file(f vfs.File) vfs.File { return gatedFile{f, g} }

type gatedFile struct {
	vfs.File
	g *syncGate
}

func (f gatedFile) Sync() error {
	if f.g.hold.Load() {
		f.g.once.Do(func() { close(f.g.entered) })
		<-f.g.release
	}
	return f.File.Sync()
}

// openWithTopics opens file "f" with opts and creates the topics, each with
// that many partitions; the store closes when the test ends.
func openWithTopics(t *testing.T, opts Options, partitions int, topics ...string) *Store {
	t.Helper()
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, topic := range topics {
		if err := s.CreateTopic(ctx, topic, partitions, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestCloseCheckpointsCarriedData: Close checkpoints when the journal holds
// batches that synchronous commits carried, so that nothing in a closed
// file waits to be written back: a copy of it, damaged in a carried batch,
// opens read-only (which could not write one back) and Check reports the
// damage.
func TestCloseCheckpointsCarriedData(t *testing.T) {
	fs := vfs.NewMem()
	opts := journalOpts(fs)
	opts.Durability = DurabilitySync
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := range 3 {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: valuesBatch(now, []string{fmt.Sprint("value ", i)})}}}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.carriedSince.Load() {
		t.Fatal("no commit carried its batch")
	}
	s.mu.RLock()
	p, err := s.lookup("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	off := s.payloadOffset(p.segments[0].extent, 40) // past the first batch's CRC
	s.mu.RUnlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b := crashFileBytes(t, fs, "f")
	b[off] ^= 1
	r, err := Open("f", Options{FS: crashMemFile(t, "f", b), ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("read-only open of a damaged copy: %v", err)
	}
	defer r.Close()
	if rep, err := r.Check(ctx, nil); err != nil || len(rep.Problems) != 1 {
		t.Fatalf("check: %v, problems %v; want the damaged batch", err, rep.Problems)
	}
}
