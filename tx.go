package spool

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// Tx holds the records a Workers handler produces while it handles one
// record. They are appended in the same atomic commit as that record's
// acknowledgement: after a crash, either the record is acknowledged and its
// output is in the file, or neither, and the record is delivered again.
// That is exactly-once for everything a pipeline writes back to the file.
type Tx struct {
	w          *Workers
	records    []*Record
	generation int32
}

// Generation returns the group's generation when this member took the
// record's partition. Whoever owns the partition after it took it in a
// later generation, so an OffsetStore that keeps the generation with the
// position can refuse the save of a handler whose partition moved on (a
// zombie). A static member that comes back takes its partitions in the
// generation they had.
func (tx *Tx) Generation() int32 { return tx.generation }

// Produce adds r to the transaction. r's partition is chosen as the
// default partitioner chooses it: by key, or sticky without one. Produce
// keeps r; do not change it after.
func (tx *Tx) Produce(r *Record) error {
	n, err := tx.w.partitions(r.Topic)
	if err != nil {
		return err
	}
	tx.w.pmu.Lock()
	p, ok := tx.w.parts[r.Topic]
	if !ok {
		p = DefaultPartitioner().instance()
		tx.w.parts[r.Topic] = p
	}
	r.Partition = p.partition(r, n)
	p.batchDone(r.Partition)
	tx.w.pmu.Unlock()
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	tx.records = append(tx.records, r)
	return nil
}

// outputs encodes records as the appends of a commit: one batch per
// partition, in the order the records came.
func outputs(records []*Record) []store.Append {
	type key struct {
		topic     string
		partition int32
	}
	var order []key
	builders := map[key]*format.BatchBuilder{}
	var hs []format.RecordHeader
	for _, r := range records {
		k := key{r.Topic, r.Partition}
		bb := builders[k]
		if bb == nil {
			bb = &format.BatchBuilder{}
			bb.Reset(r.Timestamp.UnixMilli())
			builders[k] = bb
			order = append(order, k)
		}
		hs = hs[:0]
		for _, h := range r.Headers {
			hs = append(hs, format.RecordHeader{Key: unsafe.Slice(unsafe.StringData(h.Key), len(h.Key)), Value: h.Value})
		}
		bb.Append(r.Timestamp.UnixMilli(), r.Key, r.Value, hs...)
	}
	out := make([]store.Append, len(order))
	for i, k := range order {
		out[i] = store.Append{Topic: k.topic, Partition: k.partition, Batches: builders[k].Build(nil)}
	}
	return out
}

// partitionCounts caches topics' partition counts for Tx.Produce.
type partitionCounts struct {
	mu sync.Mutex
	n  map[string]int32
}

func (w *Workers) partitions(topic string) (int32, error) {
	w.counts.mu.Lock()
	defer w.counts.mu.Unlock()
	if n, ok := w.counts.n[topic]; ok {
		return n, nil
	}
	t, err := w.db.s.Topic(topic)
	if err != nil {
		return 0, fmt.Errorf("spool: output record: %w", err)
	}
	if w.counts.n == nil {
		w.counts.n = map[string]int32{}
	}
	w.counts.n[topic] = int32(len(t.Partitions))
	return int32(len(t.Partitions)), nil
}
