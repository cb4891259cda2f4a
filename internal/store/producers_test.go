package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// idemBatch builds a batch of n records of producer id at epoch, numbered
// from sequence seq; the values are tag-0, tag-1...
func idemBatch(id int64, epoch int16, seq int32, n int, tag string) []byte {
	var bb format.BatchBuilder
	bb.Reset(1000)
	bb.SetProducer(id, epoch, seq)
	for i := range n {
		bb.Append(1000+int64(i), nil, fmt.Appendf(nil, "%s-%d", tag, i))
	}
	return bb.Build(nil)
}

// produce commits batches to t/partition in one Append.
func produce(s *Store, partition int32, batches ...[]byte) (AppendResult, error) {
	res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Partition: partition, Batches: slices.Concat(batches...)}}})
	if err != nil {
		return AppendResult{}, err
	}
	return res[0], nil
}

// mustProduce is produce, failing the test on an error.
func mustProduce(t testing.TB, s *Store, partition int32, batches ...[]byte) AppendResult {
	t.Helper()
	res, err := produce(s, partition, batches...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// wantRejected fails the test unless producing batches fails with sentinel.
func wantRejected(t testing.TB, s *Store, what string, sentinel error, partition int32, batches ...[]byte) {
	t.Helper()
	if _, err := produce(s, partition, batches...); !errors.Is(err, sentinel) {
		t.Fatalf("%s: %v, want %v", what, err, sentinel)
	}
}

func mustOpen(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hwm(t testing.TB, s *Store, partition int32) int64 {
	t.Helper()
	_, h, err := s.Offsets("t", partition)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func producers(t testing.TB, s *Store, partition int32) []ProducerState {
	t.Helper()
	ps, err := s.Producers("t", partition)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestIdempotentRules plays Kafka's rules step by step on one partition: each
// step commits one batch and says what must come of it.
func TestIdempotentRules(t *testing.T) {
	const (
		ok     = "ok"
		dup    = "dup"
		order  = "out of order"
		fenced = "fenced"
	)
	type step struct {
		name  string
		id    int64
		epoch int16
		seq   int32
		n     int
		want  string
		base  int64 // for ok and dup: where the batch starts
	}
	const maxSeq = math.MaxInt32
	steps := []step{
		{"a new producer may start anywhere", 1, 0, 100, 3, ok, 0},
		{"the next batch follows", 1, 0, 103, 2, ok, 3},
		{"a retry of the last batch is a duplicate", 1, 0, 103, 2, dup, 3},
		{"a retry of an earlier batch too", 1, 0, 100, 3, dup, 0},
		{"a gap is out of order", 1, 0, 106, 1, order, 0},
		{"overlapping sequences are out of order", 1, 0, 104, 2, order, 0},
		{"the same first sequence with another length is out of order", 1, 0, 103, 3, order, 0},
		{"non-idempotent batches pass", -1, -1, -1, 2, ok, 5},
		{"another producer has its own sequences", 2, 7, 0, 1, ok, 7},
		{"and the first goes on", 1, 0, 105, 1, ok, 8},
		{"a newer epoch must start at 0", 1, 1, 107, 1, order, 0},
		{"a newer epoch starting at 0 resets", 1, 1, 0, 2, ok, 9},
		{"the old epoch is fenced now", 1, 0, 106, 1, fenced, 0},
		{"a retry of the old epoch's last batch is fenced too", 1, 0, 105, 1, fenced, 0},
		{"the new epoch goes on", 1, 1, 2, 1, ok, 11},
		{"a producer id not handed out by InitProducer", 1 << 40, 0, 5, 1, ok, 12},
		{"sequences near the top", 3, 0, maxSeq - 2, 2, ok, 13},
		{"a batch that wraps past MaxInt32", 3, 0, maxSeq, 3, ok, 15},
		{"after the wrap, sequences go on from 2", 3, 0, 2, 1, ok, 18},
		{"the wrapping batch retried is a duplicate", 3, 0, maxSeq, 3, dup, 15},
		{"a sequence before the wrap is out of order", 3, 0, maxSeq - 2, 1, order, 0},
	}
	// Fill the cache of producer 4 with six batches: the first is then
	// forgotten, and its retry is out of order; the second is not.
	for i := range 6 {
		steps = append(steps, step{fmt.Sprintf("producer 4 batch %d", i), 4, 0, int32(i * 2), 2, ok, 19 + int64(i*2)})
	}
	steps = append(steps,
		step{"a retry of the sixth-last batch is out of order", 4, 0, 0, 2, order, 0},
		step{"a retry of the fifth-last is a duplicate", 4, 0, 2, 2, dup, 21},
	)
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	for _, st := range steps {
		var b []byte
		if st.id < 0 {
			b = batch(st.name, st.n)
		} else {
			b = idemBatch(st.id, st.epoch, st.seq, st.n, st.name)
		}
		before := hwm(t, s, 0)
		res, err := produce(s, 0, b)
		switch st.want {
		case ok, dup:
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if res.BaseOffset != st.base || res.LastOffset != st.base+int64(st.n)-1 || res.Duplicate != (st.want == dup) {
				t.Fatalf("%s: %+v, want %s at %d", st.name, res, st.want, st.base)
			}
			if got, want := hwm(t, s, 0), before+int64(st.n); st.want == ok && got != want || st.want == dup && got != before {
				t.Fatalf("%s: high watermark %d after %d", st.name, got, before)
			}
		case order, fenced:
			sentinel := ErrOutOfOrderSequence
			if st.want == fenced {
				sentinel = ErrProducerFenced
			}
			if !errors.Is(err, sentinel) {
				t.Fatalf("%s: %v, want %v", st.name, err, sentinel)
			}
			if got := hwm(t, s, 0); got != before {
				t.Fatalf("%s: rejected, but the high watermark moved from %d to %d", st.name, before, got)
			}
		}
	}
	// Each record once.
	got := values(t, s, "t", 0, 0)
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v] {
			t.Fatalf("record %q twice", v)
		}
		seen[v] = true
	}
	if len(got) != 31 || hwm(t, s, 0) != 31 {
		t.Fatalf("%d records for a high watermark of %d, want 31", len(got), hwm(t, s, 0))
	}
	want := []ProducerState{
		{ProducerID: 1, Epoch: 1, LastSequence: 2, LastOffset: 11},
		{ProducerID: 2, Epoch: 7, LastSequence: 0, LastOffset: 7},
		{ProducerID: 3, Epoch: 0, LastSequence: 2, LastOffset: 18},
		{ProducerID: 4, Epoch: 0, LastSequence: 11, LastOffset: 30},
		{ProducerID: 1 << 40, Epoch: 0, LastSequence: 5, LastOffset: 12},
	}
	ps := producers(t, s, 0)
	for i := range ps {
		ps[i].LastAppend = 0
	}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Fatalf("producers %+v\nwant %+v", ps, want)
	}
	// InitProducer hands out no id a batch has used.
	id, err := s.InitProducer(ctx)
	if err != nil || id.ID != 1<<40+1 || id.Epoch != 0 {
		t.Fatalf("InitProducer after producer 1<<40 appended: %+v, %v", id, err)
	}
}

// TestIdempotentFencedByEpoch checks the lower-epoch rule on its own.
func TestIdempotentFencedByEpoch(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	for _, b := range [][]byte{idemBatch(1, 3, 0, 1, "a"), idemBatch(1, 3, 1, 1, "b")} {
		mustProduce(t, s, 0, b)
	}
	for _, seq := range []int32{0, 1, 2} {
		wantRejected(t, s, fmt.Sprint("epoch 2 after 3, sequence ", seq), ErrProducerFenced, 0, idemBatch(1, 2, seq, 1, "old"))
	}
}

func TestIdempotentInvalidBatch(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	for _, b := range [][]byte{idemBatch(1, 0, -1, 1, "a"), idemBatch(1, -1, 0, 1, "a")} {
		wantRejected(t, s, "a batch with a producer id", ErrInvalidBatch, 0, b)
	}
}

// TestIdempotentRejectChangesNothing commits a transaction whose second
// Append breaks the rules: nothing of it, not its first Append, not its
// offsets, nor any producer state, may change.
func TestIdempotentRejectChangesNothing(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 2)
	defer s.Close()
	mustProduce(t, s, 1, idemBatch(9, 1, 0, 2, "first"))
	for _, tc := range []struct {
		name string
		bad  []byte
		want error
	}{
		{"gap", idemBatch(9, 1, 5, 1, "gap"), ErrOutOfOrderSequence},
		{"fenced", idemBatch(9, 0, 2, 1, "old epoch"), ErrProducerFenced},
	} {
		before := [2][]ProducerState{producers(t, s, 0), producers(t, s, 1)}
		_, err := s.Commit(ctx, &Txn{
			Appends: []Append{
				{Topic: "t", Partition: 0, Batches: idemBatch(9, 0, 0, 1, "good")},
				{Topic: "t", Partition: 1, Batches: tc.bad},
			},
			Offsets: []Offset{{Group: "g", Topic: "t", Offset: 1}},
		})
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if hwm(t, s, 0) != 0 || hwm(t, s, 1) != 2 {
			t.Fatalf("%s: high watermarks %d and %d after a rejected commit", tc.name, hwm(t, s, 0), hwm(t, s, 1))
		}
		if _, ok, _ := s.CommittedOffset("g", "t", 0); ok {
			t.Fatalf("%s: the rejected commit's offset was committed", tc.name)
		}
		after := [2][]ProducerState{producers(t, s, 0), producers(t, s, 1)}
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("%s: producer state changed from %+v to %+v", tc.name, before, after)
		}
	}
	// Partition 0 still takes producer 9 at any sequence: it has no state.
	mustProduce(t, s, 0, idemBatch(9, 0, 40, 1, "any"))
}

// TestIdempotentSeveralBatches covers Appends of several batches and
// commits of several Appends to one partition: each batch is checked
// against the state the batches before it leave.
func TestIdempotentSeveralBatches(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	b0, b1, b2, b3 := idemBatch(5, 0, 0, 3, "b0"), idemBatch(5, 0, 3, 2, "b1"), idemBatch(5, 0, 5, 2, "b2"), idemBatch(5, 0, 7, 1, "b3")
	plain := batch("plain", 2)
	type want struct {
		base, last int64
		dup        bool
	}
	for _, tc := range []struct {
		name    string
		batches [][]byte
		want    want
		hwm     int64
	}{
		{"two new batches", [][]byte{b0, b1}, want{0, 4, false}, 5},
		{"a duplicate, then a new batch", [][]byte{b1, b2}, want{5, 6, false}, 7},
		{"duplicates only: the original offsets", [][]byte{b0, b1, b2}, want{0, 6, true}, 7},
		{"a new batch, then its own retry in the same Append", [][]byte{b3, b3}, want{7, 7, false}, 8},
		{"a plain batch between duplicates", [][]byte{b2, plain, b3}, want{8, 9, false}, 10},
	} {
		res, err := produce(s, 0, tc.batches...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := (want{res.BaseOffset, res.LastOffset, res.Duplicate}); got != tc.want || hwm(t, s, 0) != tc.hwm {
			t.Fatalf("%s: %+v and high watermark %d, want %+v and %d", tc.name, got, hwm(t, s, 0), tc.want, tc.hwm)
		}
	}
	// Two Appends to the same partition in one commit: the second is a
	// retry of the first, and answers with the offsets the first gets.
	b4 := idemBatch(5, 0, 8, 2, "b4")
	res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: b4}, {Topic: "t", Batches: b4}}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != (AppendResult{BaseOffset: 10, LastOffset: 11, LogAppendTime: -1}) ||
		res[1] != (AppendResult{BaseOffset: 10, LastOffset: 11, LogAppendTime: -1, Duplicate: true}) {
		t.Fatalf("an Append and its retry in one commit: %+v", res)
	}
	// A batch out of order behind a good one in the same Append rejects both.
	wantRejected(t, s, "a gap inside an Append", ErrOutOfOrderSequence, 0, idemBatch(5, 0, 10, 1, "ok"), idemBatch(5, 0, 12, 1, "gap"))
	got := values(t, s, "t", 0, 0)
	wantVals := []string{"b0-0", "b0-1", "b0-2", "b1-0", "b1-1", "b2-0", "b2-1", "b3-0", "plain-0", "plain-1", "b4-0", "b4-1"}
	if fmt.Sprint(got) != fmt.Sprint(wantVals) {
		t.Fatalf("log %v\nwant %v", got, wantVals)
	}
}

// TestIdempotentCommitOfSeveralProducers covers commits of several
// producers' batches in several partitions: a producer's only batch in a
// partition is checked against the partition's state, its later batches in
// one partition against the state the earlier ones leave, whether they
// share an Append or not, and any batch rejected rejects the commit.
func TestIdempotentCommitOfSeveralProducers(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 2)
	defer s.Close()
	mustProduce(t, s, 0, idemBatch(7, 0, 0, 2, "a"))
	mustProduce(t, s, 1, idemBatch(7, 0, 0, 1, "b"))
	appendTo := func(partition int32, batches ...[]byte) Append {
		return Append{Topic: "t", Partition: partition, Batches: slices.Concat(batches...)}
	}
	// lastBatches sums up what the partitions remember of each producer,
	// without the append times.
	lastBatches := func() string {
		var out []string
		for p := range int32(2) {
			for _, st := range producers(t, s, p) {
				out = append(out, fmt.Sprintf("p%d: producer %d epoch %d seq %d offset %d", p, st.ProducerID, st.Epoch, st.LastSequence, st.LastOffset))
			}
		}
		return strings.Join(out, "; ")
	}

	before := lastBatches()
	_, err := s.Commit(ctx, &Txn{Appends: []Append{
		appendTo(0, idemBatch(7, 0, 2, 1, "c")),
		appendTo(1, idemBatch(7, 0, 1, 1, "d")),
		appendTo(0, idemBatch(8, 0, 0, 1, "e")),
		appendTo(0, idemBatch(8, 0, 2, 1, "gap")), // producer 8 is at 0 in this commit: 1 is next
	}})
	if !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("a gap in a producer's second batch of a commit: %v, want %v", err, ErrOutOfOrderSequence)
	}
	if hwm(t, s, 0) != 2 || hwm(t, s, 1) != 1 || lastBatches() != before {
		t.Fatalf("a rejected commit left high watermarks %d and %d and producers %s, want 2, 1 and %s",
			hwm(t, s, 0), hwm(t, s, 1), lastBatches(), before)
	}

	res, err := s.Commit(ctx, &Txn{Appends: []Append{
		appendTo(0, idemBatch(7, 0, 2, 1, "c")),                             // producer 7's only batch in 0
		appendTo(1, idemBatch(7, 0, 1, 1, "d"), idemBatch(7, 0, 0, 1, "b")), // a new batch, then a retry of one written before
		appendTo(0, idemBatch(8, 0, 0, 1, "e"), idemBatch(8, 0, 1, 2, "f")), // a producer new to 0, twice
		appendTo(0, idemBatch(8, 0, 1, 2, "f")),                             // a retry of the batch before
		appendTo(1, idemBatch(8, 0, 5, 1, "g")),                             // a producer new to 1: any sequence
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []AppendResult{
		{BaseOffset: 2, LastOffset: 2, LogAppendTime: -1},
		{BaseOffset: 1, LastOffset: 1, LogAppendTime: -1},
		{BaseOffset: 3, LastOffset: 5, LogAppendTime: -1},
		{BaseOffset: 4, LastOffset: 5, LogAppendTime: -1, Duplicate: true},
		{BaseOffset: 2, LastOffset: 2, LogAppendTime: -1},
	}
	if !slices.Equal(res, want) {
		t.Fatalf("results %+v\nwant %+v", res, want)
	}
	wantBatches := "p0: producer 7 epoch 0 seq 2 offset 2; p0: producer 8 epoch 0 seq 2 offset 5; " +
		"p1: producer 7 epoch 0 seq 1 offset 1; p1: producer 8 epoch 0 seq 5 offset 2"
	if got := lastBatches(); got != wantBatches {
		t.Fatalf("producers %s\nwant %s", got, wantBatches)
	}
	for p, want := range [][]string{{"a-0", "a-1", "c-0", "e-0", "f-0", "f-1"}, {"b-0", "d-0", "g-0"}} {
		if got := values(t, s, "t", int32(p), 0); !slices.Equal(got, want) {
			t.Fatalf("partition %d holds %v, want %v", p, got, want)
		}
	}
}

// TestIdempotentLogAppendTime checks that a duplicate on a LogAppendTime
// topic reports the time its original was stamped with, as Kafka answers.
func TestIdempotentLogAppendTime(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	opts := memOpts(vfs.NewMem())
	opts.Now = func() time.Time { return now }
	opts.RetentionCheck = time.Hour
	s := openTopic(t, "f", opts, 1)
	defer s.Close()
	if err := s.AlterTopic(ctx, "t", []format.ConfigEntry{{Name: ConfigTimestampType, Value: "LogAppendTime"}}); err != nil {
		t.Fatal(err)
	}
	b := idemBatch(1, 0, 0, 1, "x")
	first, err := produce(s, 0, b)
	if err != nil || first.LogAppendTime != now.UnixMilli() {
		t.Fatalf("%+v, %v", first, err)
	}
	now = now.Add(time.Minute)
	again, err := produce(s, 0, b)
	if err != nil || again != (AppendResult{BaseOffset: first.BaseOffset, LastOffset: first.LastOffset, LogAppendTime: first.LogAppendTime, Duplicate: true}) {
		t.Fatalf("retry: %+v, %v; first %+v", again, err, first)
	}
}

// TestInitProducer checks that ids are unique and increasing across
// processes, reopens and checkpoints.
func TestInitProducer(t *testing.T) {
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.CheckpointBytes = 1 << 30
	a := mustOpen(t, "f", opts)
	b := mustOpen(t, "f", opts)
	var mu sync.Mutex
	var ids []int64
	next := func(s *Store) {
		id, err := s.InitProducer(ctx)
		if err != nil || id.Epoch != 0 {
			t.Errorf("InitProducer: %+v, %v", id, err)
			return
		}
		mu.Lock()
		ids = append(ids, id.ID)
		mu.Unlock()
	}
	// Two processes, four goroutines in each, at once.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 25 {
				next([]*Store{a, b}[g%2])
			}
		})
	}
	wg.Wait()
	slices.Sort(ids)
	// Reopened from the journal alone (Close checkpoints a longer one).
	b.Close()
	a.Close()
	a = mustOpen(t, "f", opts)
	next(a)
	a.Close()
	// And a checkpoint.
	opts.CheckpointBytes = 1
	a = mustOpen(t, "f", opts)
	if err := a.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	if a.meta.CheckpointExtent == format.NoExtent {
		t.Fatal("no checkpoint")
	}
	opts.CheckpointBytes = 1 << 30
	c := mustOpen(t, "f", opts)
	a.Close()
	next(c)
	c.Close()
	c = mustOpen(t, "f", opts) // alone: from the checkpoint and the journal after it
	defer c.Close()
	next(c)
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("ids %v, want 0, 1, 2...", ids)
		}
	}
}

// TestProducerStateSurvives checks that the producer state is the same after
// a kill -9 (replay of the journal), a checkpoint, a clean close, and in a
// process that caught up on another's commits; and that a retry is
// recognised in each.
func TestProducerStateSurvives(t *testing.T) {
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.CheckpointBytes = 1 << 30
	opts.RetentionCheck = time.Hour // the test sets s.opts.CheckpointBytes between commits
	s := openTopic(t, "f", opts, 2)
	id, err := s.InitProducer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]byte // every batch of producer id to partition 1, by number
	seq := int32(0)
	send := func(s *Store, n int) {
		t.Helper()
		b := idemBatch(id.ID, id.Epoch, seq, n, fmt.Sprint("s", len(sent)))
		mustProduce(t, s, 1, b)
		sent = append(sent, b)
		seq += int32(n)
	}
	for i := range 8 {
		send(s, 1+i%3)
		mustProduce(t, s, 0, idemBatch(77, 2, int32(i), 1, "p77"))
	}
	want := fmt.Sprint(producers(t, s, 0), producers(t, s, 1))
	// check compares the state, then retries the last batch sent: a
	// duplicate, at its original offsets.
	check := func(what string, s *Store) {
		t.Helper()
		if got := fmt.Sprint(producers(t, s, 0), producers(t, s, 1)); got != want {
			t.Fatalf("%s: producers\n%s\nwant\n%s", what, got, want)
		}
		h := hwm(t, s, 1)
		res, err := produce(s, 1, sent[len(sent)-1])
		if err != nil || !res.Duplicate || res.LastOffset != h-1 || hwm(t, s, 1) != h {
			t.Fatalf("%s: a retry of the last batch: %+v, %v (high watermark %d)", what, res, err, h)
		}
		wantRejected(t, s, what+": a retry of a batch forgotten", ErrOutOfOrderSequence, 1, sent[0])
	}
	check("running", s)

	// killed reopens the file as a kill -9 of s leaves it.
	killed := func(s *Store) *Store {
		t.Helper()
		o := opts
		o.FS = fs.CrashClean()
		s.Close()
		return mustOpen(t, "f", o)
	}
	s2 := killed(s)
	check("after a kill -9", s2)
	s2.Close()

	// A second process catches up on the first's commits.
	s = mustOpen(t, "f", opts)
	other := mustOpen(t, "f", opts)
	send(s, 2)
	want = fmt.Sprint(producers(t, s, 0), producers(t, s, 1))
	check("in another process", other)
	// And the other way round: the first learns of the other's batch.
	send(other, 1)
	want = fmt.Sprint(producers(t, other, 0), producers(t, other, 1))
	check("back in the first process", s)
	other.Close()

	// A checkpoint while running, then reopen from it.
	s.opts.CheckpointBytes = 1
	send(s, 1)
	if s.meta.CheckpointExtent == format.NoExtent {
		t.Fatal("no checkpoint")
	}
	want = fmt.Sprint(producers(t, s, 0), producers(t, s, 1))
	s2 = killed(s)
	check("from a checkpoint", s2)
	s2.Close()

	// A clean close checkpoints when the journal is long enough.
	s = mustOpen(t, "f", opts)
	for range 100 {
		send(s, 1)
	}
	want = fmt.Sprint(producers(t, s, 0), producers(t, s, 1))
	s.opts.CheckpointBytes = 1 // Close checkpoints past min(this, 256 KiB)
	s.Close()
	s = mustOpen(t, "f", opts)
	defer s.Close()
	if s.ckptLen > 128 {
		t.Fatalf("%d bytes of journal after a clean close: no checkpoint", s.ckptLen)
	}
	check("after a clean close", s)
}

// TestProducerExpiration moves a fake clock past the expiration of one of
// two producers and checks that a checkpoint forgets it, in the process that
// checkpoints, in another process, and after a reopen; and that retention
// alone does not.
func TestProducerExpiration(t *testing.T) {
	fs := vfs.NewMem()
	var now time.Time = time.Unix(1_700_000_000, 0)
	opts := memOpts(fs)
	opts.Now = func() time.Time { return now }
	opts.CheckpointBytes = 1 << 30
	opts.RetentionCheck = time.Hour
	opts.ProducerIDExpiration = 2 * time.Hour
	s := openTopic(t, "f", opts, 1)
	other := mustOpen(t, "f", opts)
	defer other.Close()
	mustProduce(t, s, 0, idemBatch(1, 0, 0, 1, "old"))
	now = now.Add(time.Hour)
	mustProduce(t, s, 0, idemBatch(2, 0, 0, 1, "young"))
	// DeleteRecords past both producers' batches keeps their state.
	if _, err := s.DeleteRecords(ctx, "t", 0, -1); err != nil {
		t.Fatal(err)
	}
	ids := func(s *Store) string {
		var out []int64
		for _, p := range producers(t, s, 0) {
			out = append(out, p.ProducerID)
		}
		return fmt.Sprint(out)
	}
	if got := ids(s); got != "[1 2]" {
		t.Fatalf("after DeleteRecords: producers %s", got)
	}
	// A checkpoint a nanosecond before producer 1's expiration keeps it.
	now = now.Add(time.Hour - time.Nanosecond)
	s.opts.CheckpointBytes = 1
	mustProduce(t, s, 0, batch("tick", 1))
	if s.meta.CheckpointExtent == format.NoExtent {
		t.Fatal("no checkpoint")
	}
	if got := ids(s); got != "[1 2]" {
		t.Fatalf("a nanosecond before the expiration: producers %s", got)
	}
	// At 2h, as in Kafka (now - last >= expiration), the next drops it;
	// producer 2's last batch is 1h old.
	now = now.Add(time.Nanosecond)
	mustProduce(t, s, 0, batch("tick", 1))
	for _, x := range []struct {
		what string
		s    *Store
	}{{"the process that checkpointed", s}, {"another process", other}} {
		if got := ids(x.s); got != "[2]" {
			t.Fatalf("%s: producers %s after the expiration, want [2]", x.what, got)
		}
	}
	killed := fs.CrashClean()
	s.Close()
	o := opts
	o.FS = killed
	s = mustOpen(t, "f", o)
	defer s.Close()
	if got := ids(s); got != "[2]" {
		t.Fatalf("reopened: producers %s, want [2]", got)
	}
	// The forgotten producer may start anywhere; the other may not.
	if _, err := produce(s, 0, idemBatch(1, 0, 50, 1, "back")); err != nil {
		t.Fatalf("an expired producer's next batch: %v", err)
	}
	wantRejected(t, s, "a live producer's gap", ErrOutOfOrderSequence, 0, idemBatch(2, 0, 50, 1, "gap"))
}

// TestProducerStateTopicDelete checks that deleting a topic drops its
// producers: a topic created again under the name starts without them.
func TestProducerStateTopicDelete(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	mustProduce(t, s, 0, idemBatch(1, 0, 0, 3, "a"))
	if err := s.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	if ps := producers(t, s, 0); len(ps) != 0 {
		t.Fatalf("producers %+v in a new topic", ps)
	}
	if res, err := produce(s, 0, idemBatch(1, 0, 0, 3, "a")); err != nil || res.Duplicate || res.BaseOffset != 0 {
		t.Fatalf("the old topic's batch again: %+v, %v", res, err)
	}
}

// TestProducerApplyRejects checks that apply refuses ProducerBatch and
// ProducerInit operations that no writer emits.
func TestProducerApplyRejects(t *testing.T) {
	st := newState(format.MinExtentSize)
	if err := st.apply(format.TopicCreate{ID: 1, Name: "t", Partitions: 1}, 1); err != nil {
		t.Fatal(err)
	}
	for _, op := range []format.Op{
		format.ProducerInit{ProducerID: -1},
		format.ProducerInit{ProducerID: math.MaxInt64},
		format.ProducerInit{ProducerID: 1, Epoch: -1},
		format.ProducerBatch{Topic: 2, ProducerID: 1},
		format.ProducerBatch{Topic: 1, Partition: 1, ProducerID: 1},
		format.ProducerBatch{Topic: 1, ProducerID: -1},
		format.ProducerBatch{Topic: 1, ProducerID: 1, FirstSeq: -1},
		format.ProducerBatch{Topic: 1, ProducerID: 1}, // offset 0 lies past the log end
	} {
		if err := st.apply(op, 2); err == nil {
			t.Errorf("%+v applied", op)
		}
	}
}

func TestLastSequence(t *testing.T) {
	for _, tc := range []struct{ base, delta, want int32 }{
		{0, 0, 0}, {5, 3, 8}, {math.MaxInt32, 0, math.MaxInt32}, {math.MaxInt32, 1, 0},
		{math.MaxInt32 - 1, 3, 1}, {math.MaxInt32, math.MaxInt32, math.MaxInt32 - 1},
	} {
		if got := lastSequence(tc.base, tc.delta); got != tc.want {
			t.Errorf("lastSequence(%d, %d) = %d, want %d", tc.base, tc.delta, got, tc.want)
		}
	}
	if nextSequence(math.MaxInt32) != 0 || nextSequence(7) != 8 {
		t.Error("nextSequence")
	}
}

// TestCrashIdempotentRetry is the crash loop of an idempotent producer. It
// keeps up to five commits in flight to one partition (CommitAsync, each
// batch synced before it is acknowledged), beside a writer of plain batches
// in every durability mode, and the power fails (or the process is killed)
// at a random point. After recovery the producer resends, in order, every
// batch it had not seen acknowledged, as a Kafka producer does with a
// request whose outcome it does not know: each must be accepted, as a
// duplicate or as new, and the log must hold every batch of the producer
// exactly once, in order. Checkpoints are frequent, so the producer state
// often comes back from one.
func TestCrashIdempotentRetry(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	fs := vfs.NewMem()
	opts := func() Options {
		return Options{FS: fs, ExtentSize: format.MinExtentSize, Logger: quietLogger, RetentionCheck: time.Hour,
			CheckpointBytes: int64(2<<10 + rng.IntN(14<<10)), SyncInterval: time.Duration(1+rng.IntN(5)) * time.Millisecond}
	}
	s := openTopic(t, "f", opts(), 1)
	id, err := s.InitProducer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// sent holds the producer's batches from number first on; the log
	// holds those and plain batches, the older ones deleted.
	var sent [][]byte
	first := 0
	var seq int32
	acked := 0 // batches [0, acked) were acknowledged
	var resent, dups int
	newBatch := func(rng *rand.Rand) []byte {
		k := first + len(sent)
		var bb format.BatchBuilder
		bb.Reset(1000)
		bb.SetProducer(id.ID, id.Epoch, seq)
		n := 1 + rng.IntN(4)
		for i := range n {
			bb.Append(1000, nil, fmt.Appendf(nil, "k%d.i%d|%s", k, i, strings.Repeat("x", rng.IntN(300))))
		}
		seq = nextSequence(lastSequence(seq, int32(n-1)))
		sent = append(sent, bb.Build(nil))
		return sent[k-first]
	}
	rounds := rounds(40, 2000)
	for round := range rounds {
		var mu sync.Mutex // guards ackedNow
		ackedNow := acked
		acks := make(chan struct{}, 1<<16)
		stop := make(chan struct{})
		prng := rand.New(rand.NewPCG(seed, uint64(round)+10))
		wrng := rand.New(rand.NewPCG(seed, uint64(round)+1<<32))
		var wg sync.WaitGroup
		wg.Go(func() { // the producer
			inflight := make(chan struct{}, producerBatchesKept)
			for {
				select {
				case <-stop:
					return
				case inflight <- struct{}{}:
				}
				k := first + len(sent)
				txn := &Txn{Appends: []Append{{Topic: "t", Batches: newBatch(prng)}}, Durability: DurabilitySync}
				err := s.CommitAsync(ctx, txn, func(res []AppendResult, err error) {
					if err != nil || res[0].Duplicate {
						t.Errorf("round %d: batch %d: %+v, %v", round, k, res, err)
					}
					mu.Lock()
					if k != ackedNow {
						t.Errorf("round %d: batch %d acknowledged after %d", round, k, ackedNow)
					}
					ackedNow = k + 1
					mu.Unlock()
					<-inflight
					acks <- struct{}{}
				})
				if err != nil {
					t.Errorf("round %d: batch %d: %v", round, k, err)
					return
				}
			}
		})
		wg.Go(func() { // plain batches in the same partition
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				d := []Durability{DurabilitySync, DurabilityInterval, DurabilityNone}[wrng.IntN(3)]
				txn := &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint("plain", n), 1+wrng.IntN(3))}}, Durability: d}
				if _, err := s.Commit(ctx, txn); err != nil {
					t.Errorf("round %d: plain commit: %v", round, err)
					return
				}
			}
		})
		for range 1 + rng.IntN(30) {
			select {
			case <-acks:
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: no progress", round)
			}
		}
		for range rng.IntN(300) {
			runtime.Gosched()
		}
		clean := rng.IntN(4) == 0
		mu.Lock()
		var c *vfs.MemFS
		if clean {
			c = fs.CrashClean()
		} else {
			c = fs.Crash(rng)
		}
		acked = ackedNow
		mu.Unlock()
		close(stop)
		wg.Wait()
		s.Close() // on the old file system, which the crash no longer concerns
		if t.Failed() {
			t.FailNow()
		}
		fs = c
		s = mustOpen(t, "f", opts())
		// Resend what was not acknowledged.
		for k := acked; k < first+len(sent); k++ {
			res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: sent[k-first]}}})
			if err != nil {
				t.Fatalf("round %d (clean %v): resending batch %d (%d acknowledged, %d sent): %v", round, clean, k, acked, first+len(sent), err)
			}
			resent++
			if res[0].Duplicate {
				dups++
			}
			if h, _ := format.ParseBatchHeader(sent[k-first]); res[0].LastOffset-res[0].BaseOffset != int64(h.LastOffsetDelta) {
				t.Fatalf("round %d: resent batch %d landed at %+v", round, k, res[0])
			}
		}
		acked = first + len(sent)
		recs, _, _, err := readLog(s, "t", 0)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// The producer's records, in order, each once.
		var want, got []string
		for j, b := range sent {
			h, _ := format.ParseBatchHeader(b)
			for i := range h.RecordCount {
				want = append(want, fmt.Sprintf("k%d.i%d", first+j, i))
			}
		}
		for _, r := range recs {
			if v, _, ok := strings.Cut(r.val, "|"); ok {
				got = append(got, v)
			}
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("round %d: the producer's record %d is %s, want %s (%d records, %d sent)", round, i, got[i], want[i], len(got), len(want))
				}
			}
			t.Fatalf("round %d: %d records of the producer, %d sent", round, len(got), len(want))
		}
		if err := checkExtents(s); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Delete what was checked, so that the log to check stays short
		// (the producer's state outlives its records).
		if _, err := s.DeleteRecords(ctx, "t", 0, -1); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		first, sent = first+len(sent), nil
	}
	s.Close()
	t.Logf("%d rounds, %d batches, %d resent after a crash, %d of them duplicates", rounds, first, resent, dups)
}

// TestDuplicateIsDurable retries, with DurabilitySync, a batch that another
// process (or this one) committed with DurabilityNone: the retry writes
// nothing, but its acknowledgement promises the batch is durable, so a power
// loss right after it must find the batch.
func TestDuplicateIsDurable(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	for i := range 40 {
		fs := vfs.NewMem()
		opts := memOpts(fs)
		opts.RetentionCheck = time.Hour
		opts.CheckpointBytes = 1 << 30
		opts.Logger = quietLogger
		s := openTopic(t, "f", opts, 1)
		retrier := s
		if i%2 == 0 {
			retrier = mustOpen(t, "f", opts) // another process
		}
		b := idemBatch(1, 0, 0, 2, "x")
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: b}}, Durability: DurabilityNone}); err != nil {
			t.Fatal(err)
		}
		res, err := retrier.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: b}}, Durability: DurabilitySync})
		if err != nil || !res[0].Duplicate {
			t.Fatalf("retry: %+v, %v", res, err)
		}
		crashed := fs.Crash(rng)
		retrier.Close()
		s.Close()
		o := opts
		o.FS = crashed
		s = mustOpen(t, "f", o)
		if h := hwm(t, s, 0); h != 2 {
			t.Fatalf("iteration %d (another process %v): the batch acknowledged durable by its retry is gone after a power loss (high watermark %d)", i, i%2 == 0, h)
		}
		s.Close()
	}
}
