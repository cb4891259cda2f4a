package spool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func values(rs []*Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}

func TestConsumerStartPositions(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, &ProducerOptions{Linger: time.Hour})
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 10 {
		p.Produce(ctx, &Record{Topic: "t", Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		from Offset
		want int64
	}{
		{Earliest(), 0},
		{Latest(), 10},
		{At(4), 4},
		{At(-5), 0},
		{At(99), 10},
		{AtTime(base.Add(6500 * time.Millisecond)), 7},
		{AtTime(base.Add(time.Hour)), 10},
		{AtTime(time.UnixMilli(0)), 0},
	}
	for _, tc := range cases {
		t.Run(tc.from.String(), func(t *testing.T) {
			c := newConsumer(t, db, &ConsumerOptions{Reset: tc.from})
			if err := c.Assign("t"); err != nil {
				t.Fatal(err)
			}
			if pos, err := c.Position("t", 0); err != nil || pos != tc.want {
				t.Fatalf("position %d, %v; want %d", pos, err, tc.want)
			}
			// Seek gives the same answer as Reset.
			if err := c.Seek("t", 0, tc.from); err != nil {
				t.Fatal(err)
			}
			if pos, _ := c.Position("t", 0); pos != tc.want {
				t.Fatalf("after Seek: position %d, want %d", pos, tc.want)
			}
			if tc.want < 10 {
				if got := pollAll(t, c, int(10-tc.want)); got[0].Offset != tc.want {
					t.Fatalf("first record polled at %d, want %d", got[0].Offset, tc.want)
				}
			}
		})
	}
}

// TestPollDeadline: with nothing to read, Poll waits until its context ends.
func TestPollDeadline(t *testing.T) {
	db := openDB(t, 2)
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := c.Poll(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll of empty partitions: %v, want DeadlineExceeded", err)
	}
	empty := newConsumer(t, db, nil)
	if _, err := empty.Poll(ctx); !errors.Is(err, errNoPartitions) {
		t.Fatalf("poll without partitions: %v", err)
	}
}

// TestPollFollows: a Poll waiting on the tail returns the record produced
// while it waits.
func TestPollFollows(t *testing.T) {
	db := openDB(t, 3)
	c := newConsumer(t, db, &ConsumerOptions{Reset: Latest()})
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	// Latest is resolved at the first Poll: fix it now, before producing.
	for part := range int32(3) {
		if _, err := c.Position("t", part); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		polled := make(chan []*Record)
		go func() {
			f, err := c.Poll(ctx)
			if err != nil {
				t.Error(err)
			}
			var rs []*Record
			for r := range f.Records() {
				rs = append(rs, r.Clone())
			}
			polled <- rs
		}()
		p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
		want := fmt.Sprint("tail-", round)
		if err := p.ProduceSync(ctx, &Record{Topic: "t", Partition: int32(round % 3), Value: []byte(want)}); err != nil {
			t.Fatal(err)
		}
		if got := <-polled; len(got) != 1 || string(got[0].Value) != want {
			t.Fatalf("round %d: polled %v, want [%s]", round, values(got), want)
		}
	}
}

func TestPauseResume(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
	for i := range 6 {
		if err := p.ProduceSync(ctx, &Record{Topic: "t", Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	c.Pause("t", 0)
	for _, r := range pollAll(t, c, 3) {
		if r.Partition != 1 {
			t.Fatalf("record of paused partition 0 polled: %s", r.Value)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := c.Poll(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll with partition 0 paused and 1 drained: %v", err)
	}
	c.Resume("t")
	for _, r := range pollAll(t, c, 3) {
		if r.Partition != 0 {
			t.Fatalf("record of partition 1 polled again: %s", r.Value)
		}
	}
	c.Pause("t")
	if _, err := c.Poll(ctx); !errors.Is(err, errNoPartitions) {
		t.Fatalf("poll with every partition paused: %v", err)
	}
}

// TestCommitAndResume: a group's consumer commits, closes, and the next
// consumer of the group resumes exactly there; another group starts over.
func TestCommitAndResume(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, &ProducerOptions{Partitioner: RoundRobinPartitioner()})
	produceValues(t, p, "a", 20)

	c := newConsumer(t, db, &ConsumerOptions{Group: "g", DisableAutoCommit: true})
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	first := pollAll(t, c, 20)
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, part := range []int32{0, 1} {
		got, ok, err := c.Committed("t", part)
		if err != nil || !ok || got.Offset != 10 {
			t.Fatalf("committed offset of partition %d: %+v %v %v, want 10", part, got, ok, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	produceValues(t, p, "b", 4)
	again := newConsumer(t, db, &ConsumerOptions{Group: "g"})
	if err := again.Assign("t"); err != nil {
		t.Fatal(err)
	}
	rest := pollAll(t, again, 4)
	for _, r := range rest {
		if r.Offset < 10 {
			t.Fatalf("record %s at offset %d was consumed and committed already", r.Value, r.Offset)
		}
	}
	// Auto-commit commits at Close.
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	lags, err := db.Lag("g")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lags {
		if l.Lag != 0 || l.Committed != 12 {
			t.Fatalf("lag after auto-commit at Close: %+v", l)
		}
	}

	other := newConsumer(t, db, &ConsumerOptions{Group: "other"})
	if err := other.Assign("t"); err != nil {
		t.Fatal(err)
	}
	if replay := pollAll(t, other, 24); len(replay) != len(first)+len(rest) {
		t.Fatalf("a new group replayed %d records, want 24", len(replay))
	}
}

func TestCommitOffsetsMetadataAndAsync(t *testing.T) {
	db := openDB(t, 1)
	produceValues(t, newProducer(t, db, nil), "x", 5)
	c := newConsumer(t, db, &ConsumerOptions{Group: "g", DisableAutoCommit: true})
	if err := c.CommitOffsets(ctx, PartitionOffset{Topic: "t", Partition: 0, Offset: 3, Metadata: "batch 7"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Committed("t", 0)
	if err != nil || !ok || got.Offset != 3 || got.Metadata != "batch 7" {
		t.Fatalf("committed %+v %v %v", got, ok, err)
	}
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	if rs := pollAll(t, c, 2); rs[0].Offset != 3 {
		t.Fatalf("resumed at %d, want the committed 3", rs[0].Offset)
	}
	done := make(chan error)
	c.CommitAsync(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Committed("t", 0); got.Offset != 5 {
		t.Fatalf("after CommitAsync: committed %d, want 5", got.Offset)
	}
	lag, err := c.Lag()
	if err != nil || len(lag) != 1 || lag[0].Lag != 0 || lag[0].HighWatermark != 5 {
		t.Fatalf("consumer lag %+v %v", lag, err)
	}

	nogroup := newConsumer(t, db, nil)
	if err := nogroup.Commit(ctx); !errors.Is(err, ErrNoGroup) {
		t.Fatalf("commit without a group: %v", err)
	}
	if _, err := db.NewConsumer(&ConsumerOptions{Group: string(make([]byte, 2000))}); !errors.Is(err, ErrInvalidGroup) {
		t.Fatalf("oversized group id: %v", err)
	}
	if err := c.Seek("t", 5, Earliest()); !errors.Is(err, ErrNotAssigned) {
		t.Fatalf("seek of an unassigned partition: %v", err)
	}
	if err := c.Assign("t", 3); !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("assign of a partition the topic lacks: %v", err)
	}
	if err := c.Assign("none"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("assign of an unknown topic: %v", err)
	}
}

// TestLag follows a group's lag as records are produced and committed.
func TestLag(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
	for i := range 7 {
		if err := p.ProduceSync(ctx, &Record{Topic: "t", Partition: int32(i % 2), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsumer(t, db, &ConsumerOptions{Group: "g", DisableAutoCommit: true})
	if err := c.CommitOffsets(ctx, PartitionOffset{Topic: "t", Partition: 0, Offset: 1}); err != nil {
		t.Fatal(err)
	}
	lags, err := db.Lag("g")
	if err != nil {
		t.Fatal(err)
	}
	want := []Lag{
		{Topic: "t", Partition: 0, Committed: 1, HighWatermark: 4, Lag: 3},
		{Topic: "t", Partition: 1, Committed: -1, HighWatermark: 3, Lag: 3},
	}
	if fmt.Sprint(lags) != fmt.Sprint(want) {
		t.Fatalf("lag %+v, want %+v", lags, want)
	}
	if _, err := db.DeleteRecords(ctx, "t", 1, 2); err != nil {
		t.Fatal(err)
	}
	lags, _ = db.Lag("g")
	if lags[1].Lag != 1 || lags[1].LogStartOffset != 2 {
		t.Fatalf("lag after DeleteRecords: %+v", lags[1])
	}
	if lags, err := db.Lag("nobody"); err != nil || len(lags) != 0 {
		t.Fatalf("lag of an unknown group: %v %v", lags, err)
	}
}

// TestPositionPastRetention: when DeleteRecords passes a consumer's
// position, the consumer goes on from the new log start.
func TestPositionPastRetention(t *testing.T) {
	db := openDB(t, 1)
	produceValues(t, newProducer(t, db, nil), "x", 10)
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Seek("t", 0, At(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteRecords(ctx, "t", 0, 6); err != nil {
		t.Fatal(err)
	}
	if rs := pollAll(t, c, 4); rs[0].Offset != 6 {
		t.Fatalf("polled from %d after the log start moved to 6", rs[0].Offset)
	}
}

// TestMaxPollBytes: a Poll returns no more than MaxPollBytes (but at least
// one batch), and fairly across partitions.
func TestMaxPollBytes(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner(), Linger: time.Hour, BatchBytes: 2000})
	for i := range 200 {
		p.Produce(ctx, &Record{Topic: "t", Partition: int32(i % 2), Value: make([]byte, 100)}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, db, &ConsumerOptions{MaxPollBytes: 4000})
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	seen := map[int32]int{}
	total := 0
	for total < 200 {
		f, err := c.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Len() > 4000/100 {
			t.Fatalf("a poll of %d records of 100 bytes with MaxPollBytes 4000", f.Len())
		}
		n := 0
		for r := range f.Records() {
			seen[r.Partition]++
			n++
		}
		if n != f.Len() {
			t.Fatalf("Len %d, iterated %d", f.Len(), n)
		}
		total += n
		if total < 100 && (seen[0] == 0) != (seen[1] == 0) && total > 40 {
			t.Fatalf("after %d records one partition was never read: %v", total, seen)
		}
	}
}

// TestIterateWithoutAllocating: iterating a fetch allocates nothing per
// record, headers included.
func TestIterateWithoutAllocating(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, &ProducerOptions{Linger: time.Hour})
	for i := range 1000 {
		p.Produce(ctx, &Record{Topic: "t", Key: []byte("k"), Value: []byte(fmt.Sprint(i)),
			Headers: []Header{{Key: "trace", Value: []byte("t")}, {Key: "span", Value: []byte("s")}}}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	f, err := c.Poll(ctx)
	if err != nil || f.Len() != 1000 {
		t.Fatalf("poll: %d records, %v", f.Len(), err)
	}
	var sum int
	iterate := func() {
		for r := range f.Records() {
			sum += len(r.Value) + len(r.Headers[0].Key)
		}
	}
	iterate() // interns the header keys
	if allocs := testing.AllocsPerRun(10, iterate); allocs > 2 {
		t.Fatalf("iterating 1000 records allocated %v times", allocs)
	}
}
