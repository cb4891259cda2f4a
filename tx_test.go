package spool

import (
	"errors"
	"testing"
)

// TestTxConsumeTransformProduce: a poll loop's transaction appends its
// output and commits the consumer's positions in one commit; an aborted one
// leaves no trace.
func TestTxConsumeTransformProduce(t *testing.T) {
	db := openDB(t, 2)
	if err := db.CreateTopic(ctx, "out", 3, nil); err != nil {
		t.Fatal(err)
	}
	produceKeyed(t, newProducer(t, db, nil), "in", 100)
	c := newConsumer(t, db, &ConsumerOptions{Group: "g", DisableAutoCommit: true})
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	in := pollAll(t, c, 100)

	aborted := db.Begin()
	for _, r := range in {
		if err := aborted.Produce(&Record{Topic: "out", Key: r.Key, Value: r.Value}); err != nil {
			t.Fatal(err)
		}
	}
	if err := aborted.SendOffsets(c); err != nil {
		t.Fatal(err)
	}
	if err := aborted.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := aborted.Commit(ctx); !errors.Is(err, ErrTxDone) {
		t.Fatalf("commit after abort: %v", err)
	}
	if n := outputCount(t, db); n != 0 {
		t.Fatalf("an aborted transaction wrote %d records", n)
	}
	if _, ok, _ := c.Committed("t", 0); ok {
		t.Fatal("an aborted transaction committed an offset")
	}

	tx := db.Begin()
	for _, r := range in {
		if err := tx.Produce(&Record{Topic: "out", Key: r.Key, Value: r.Value}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.SendOffsets(c); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outputCount(t, db); n != 100 {
		t.Fatalf("the transaction wrote %d records, want 100", n)
	}
	for part := range int32(2) {
		pos, err := c.Position("t", part)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Committed("t", part)
		if err != nil || !ok || got.Offset != pos {
			t.Fatalf("partition %d: committed %+v (%v, %v), want the position %d", part, got, ok, err, pos)
		}
	}
	if err := tx.Produce(&Record{Topic: "out"}); !errors.Is(err, ErrTxDone) {
		t.Fatalf("produce after commit: %v", err)
	}
	if err := db.Begin().Produce(&Record{Topic: "nope"}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("produce to a topic that does not exist: %v", err)
	}
}

// outputCount returns the records in topic "out".
func outputCount(t *testing.T, db *DB) int64 {
	t.Helper()
	var n int64
	for part := range int32(3) {
		start, end, err := db.Offsets("out", part)
		if err != nil {
			t.Fatal(err)
		}
		n += end - start
	}
	return n
}

// TestTxLargerThanABatch: a transaction's records for one partition are cut
// into batches the topic takes, however many there are.
func TestTxLargerThanABatch(t *testing.T) {
	db := openDB(t, 1)
	tx := db.Begin()
	value := make([]byte, 10_000)
	for range 300 { // 3 MB, about three times max.message.bytes
		if err := tx.Produce(&Record{Topic: "t", Key: []byte("k"), Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, end, err := db.Offsets("t", 0); err != nil || end != 300 {
		t.Fatalf("log end %d (%v), want 300", end, err)
	}
}
