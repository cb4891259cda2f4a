package spool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// Tx is a transaction: records to append to any topics and consumed
// offsets to commit, in one atomic commit. Readers see all of it or none,
// and a transaction that is aborted, or whose process dies before Commit
// returns, leaves no trace: nothing of it is written before Commit.
//
// A Workers handler gets one for the record it handles: the pool commits it
// with that record's acknowledgement, so the record is acknowledged exactly
// when its output is in the file. A poll loop makes one with DB.Begin,
// adds the consumer's positions with SendOffsets (Kafka's
// sendOffsetsToTransaction), and commits: consume, transform, produce,
// exactly once.
type Tx struct {
	db         *DB
	records    []*Record
	offsets    []store.Offset
	pool       bool // a Workers handler's: the pool commits it
	done       bool
	generation int32
}

// ErrTxDone is returned for a use of a transaction after its Commit or
// Abort, and for a Commit or Abort of a Workers handler's transaction,
// which its pool commits.
var ErrTxDone = errors.New("spool: transaction committed or aborted already, or committed by its Workers pool")

// Begin starts a transaction.
func (db *DB) Begin() *Tx { return &Tx{db: db} }

// Generation returns, for a Workers handler's transaction, the group's
// generation when the member took the record's partition. Whoever owns
// the partition after it took it in a later generation, so an OffsetStore
// that keeps the generation with the position can refuse the save of a
// handler whose partition moved on (a zombie). A static member that comes
// back takes its partitions in the generation they had. It is 0 for a
// transaction from Begin.
func (tx *Tx) Generation() int32 { return tx.generation }

// Produce adds r to the transaction. r's partition is chosen as the
// default partitioner chooses it: by key, or sticky without one. Produce
// keeps r; do not change it after.
func (tx *Tx) Produce(r *Record) error {
	if tx.done {
		return ErrTxDone
	}
	if err := tx.db.outputs.choose(tx.db, r); err != nil {
		return err
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	tx.records = append(tx.records, r)
	return nil
}

// SendOffsets adds the consumer's positions to the transaction: the offset
// after the last record each of its partitions returned, committed as its
// group's offsets with the transaction. A member's offsets are fenced as
// its own commits are: the transaction fails with ErrNotOwner if a
// partition moved to another member first.
func (tx *Tx) SendOffsets(c *Consumer) error {
	if tx.done || tx.pool {
		return ErrTxDone
	}
	if c.opts.Group == "" {
		return ErrNoGroup
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConsumerClosed
	}
	offsets, _ := c.positions()
	tx.offsets = append(tx.offsets, offsets...)
	return nil
}

// Commit commits the transaction: its records and offsets are all in the
// file, or, when it returns an error, none is.
func (tx *Tx) Commit(ctx context.Context) error {
	if tx.done || tx.pool {
		return ErrTxDone
	}
	tx.done = true
	if len(tx.records) == 0 && len(tx.offsets) == 0 {
		return nil
	}
	_, err := tx.db.s.Commit(ctx, &store.Txn{Appends: tx.db.encodeOutputs(tx.records), Offsets: tx.offsets, Built: true})
	return err
}

// Abort drops the transaction.
func (tx *Tx) Abort() error {
	if tx.done || tx.pool {
		return ErrTxDone
	}
	tx.done, tx.records, tx.offsets = true, nil, nil
	return nil
}

// outputPartitioners choose the partitions of records produced in
// transactions: one default partitioner per topic, shared by the DB's
// transactions.
type outputPartitioners struct {
	mu       sync.Mutex
	parts    map[string]partitioner
	counts   map[string]int32
	maxBytes map[string]int // max.message.bytes
}

// maxBatch returns the largest batch topic takes, as last looked up.
func (o *outputPartitioners) maxBatch(topic string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n, ok := o.maxBytes[topic]; ok {
		return n
	}
	return store.DefaultMaxMessageBytes
}

func (o *outputPartitioners) choose(db *DB, r *Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, ok := o.counts[r.Topic]
	if !ok {
		t, err := db.s.Topic(r.Topic)
		if err != nil {
			return fmt.Errorf("spool: transaction record: %w", err)
		}
		n = int32(len(t.Partitions))
		if o.counts == nil {
			o.counts, o.parts, o.maxBytes = map[string]int32{}, map[string]partitioner{}, map[string]int{}
		}
		o.counts[r.Topic] = n
		o.maxBytes[r.Topic] = int(t.Config.MaxMessageBytes)
		o.parts[r.Topic] = DefaultPartitioner().instance()
	}
	p := o.parts[r.Topic]
	r.Partition = p.partition(r, n)
	p.batchDone(r.Partition)
	return nil
}

// encodeOutputs encodes records as the appends of a commit: per partition, in
// the order the records came, batches that stay within the topic's
// max.message.bytes as the partitioners last saw it.
func (db *DB) encodeOutputs(records []*Record) []store.Append {
	type key struct {
		topic     string
		partition int32
	}
	var out []store.Append
	open := map[key]*format.BatchBuilder{}
	at := map[key]int{} // the index in out of the open batch's append
	seal := func(k key) {
		if bb := open[k]; bb != nil && bb.Len() > 0 {
			i := at[k]
			out[i].Batches = bb.Build(out[i].Batches)
		}
	}
	var hs []format.RecordHeader
	for _, r := range records {
		k := key{r.Topic, r.Partition}
		limit := db.outputs.maxBatch(r.Topic)
		if bb := open[k]; bb != nil && bb.Len() > 0 && bb.Size()+recordSize(r) > limit {
			seal(k)
			bb.Reset(r.Timestamp.UnixMilli())
		}
		bb := open[k]
		if bb == nil {
			bb = &format.BatchBuilder{}
			bb.Reset(r.Timestamp.UnixMilli())
			open[k] = bb
			at[k] = len(out)
			out = append(out, store.Append{Topic: k.topic, Partition: k.partition})
		}
		hs = hs[:0]
		for _, h := range r.Headers {
			hs = append(hs, format.RecordHeader{Key: unsafe.Slice(unsafe.StringData(h.Key), len(h.Key)), Value: h.Value})
		}
		bb.Append(r.Timestamp.UnixMilli(), r.Key, r.Value, hs...)
	}
	for k := range open {
		seal(k)
	}
	return out
}
