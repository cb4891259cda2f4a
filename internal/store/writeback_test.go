package store

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// TestWriteback: the flusher starts the writeback of what asynchronous
// commits wrote, about once a writebackStep, without waiting for a sync.
func TestWriteback(t *testing.T) {
	counted := &writebackCounter{}
	opts := journalOpts(wrappedFS{vfs.NewMem(), counted.file})
	opts.Durability = DurabilityNone
	opts.SyncInterval = time.Hour
	s := openWithTopics(t, opts, 1, "t")
	value := strings.Repeat("x", 16<<10)
	now := time.Now().UnixMilli()
	for range 4 * writebackStep / len(value) {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: valuesBatch(now, []string{value})}}}); err != nil {
			t.Fatal(err)
		}
	}
	crashWaitFor(t, "a writeback", func() bool { return counted.n.Load() > 0 })
	if n := counted.n.Load(); n > 4 {
		t.Fatalf("%d writebacks for 4 steps written", n)
	}
}

// writebackCounter makes files that count their StartWriteback calls.
type writebackCounter struct {
	n atomic.Int32
}

func (c *writebackCounter) file(f vfs.File) vfs.File { return countedFile{f, c} }

type countedFile struct {
	vfs.File
	c *writebackCounter
}

func (f countedFile) StartWriteback() error {
	f.c.n.Add(1)
	return f.File.StartWriteback()
}
