package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

var ctx = context.Background()

// openDB opens a new file in a temporary directory with topic "t" of
// partitions partitions, kept forever (the tests' timestamps may be old).
func openDB(t testing.TB, partitions int) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "test.spool"), &Options{Durability: DurabilityNone, ExtentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if partitions > 0 {
		if err := db.CreateTopic(ctx, "t", partitions, map[string]string{"retention.ms": "-1"}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func newProducer(t testing.TB, db *DB, opts *ProducerOptions) *Producer {
	t.Helper()
	p, err := db.NewProducer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newConsumer(t testing.TB, db *DB, opts *ConsumerOptions) *Consumer {
	t.Helper()
	c, err := db.NewConsumer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// produceValues produces records with values prefix-0 ... prefix-(n-1) to
// topic "t" and waits for them.
func produceValues(t testing.TB, p *Producer, prefix string, n int) []*Record {
	t.Helper()
	rs := make([]*Record, n)
	for i := range rs {
		rs[i] = &Record{Topic: "t", Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	return rs
}

// pollAll polls c until it has n records, and returns clones of them; more
// than n fails the test.
func pollAll(t testing.TB, c *Consumer, n int) []*Record {
	t.Helper()
	out := pollAtLeast(t, c, n)
	if len(out) != n {
		t.Fatalf("polled %d records, want %d", len(out), n)
	}
	return out
}

// pollAtLeast polls c until it has n records or more, and returns clones.
func pollAtLeast(t testing.TB, c *Consumer, n int) []*Record {
	t.Helper()
	var out []*Record
	for len(out) < n {
		f, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d of %d records: %v", len(out), n, err)
		}
		for r := range f.Records() {
			out = append(out, r.Clone())
		}
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestSmoke(t *testing.T) {
	db := openDB(t, 3)
	p := newProducer(t, db, nil)
	sent := produceValues(t, p, "v", 1000)
	c := newConsumer(t, db, &ConsumerOptions{Group: "g"})
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	got := pollAll(t, c, 1000)
	seen := map[string]bool{}
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	for _, r := range sent {
		if !seen[string(r.Value)] {
			t.Fatalf("%s not consumed", r.Value)
		}
	}
}
