package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spooldb/spool/internal/vfs"
)

// TestCommitAsyncOrderAndClose queues commits from one goroutine without
// waiting, closes the store at once, and checks that every commit was
// completed exactly once, in the order queued, and is in the file.
func TestCommitAsyncOrderAndClose(t *testing.T) {
	fs := vfs.NewMem()
	s := openWithTopic(t, fs, 1)
	const n = 500
	outcomes := make(chan AppendResult, n)
	for i := range n {
		txn := &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint(i), 1)}}, Durability: DurabilityNone}
		err := s.CommitAsync(ctx, txn, func(res []AppendResult, err error) {
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
			}
			outcomes <- res[0]
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	close(outcomes)
	next := int64(0)
	for res := range outcomes {
		if res.BaseOffset != next {
			t.Fatalf("commit completed at offset %d, want %d: completions out of queue order", res.BaseOffset, next)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d of %d commits completed", next, n)
	}
	if err := s.CommitAsync(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("late", 1)}}}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("CommitAsync after Close: %v, want ErrClosed", err)
	}

	s, err := Open("f", memOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := values(t, s, "t", 0, 0)
	if len(got) != n || got[0] != "0-0" || got[n-1] != fmt.Sprintf("%d-0", n-1) {
		t.Fatalf("after reopen: %d records, first %q", len(got), got[0])
	}
}
