package spool

import (
	"context"
	"slices"
	"sync"

	"github.com/spooldb/spool/internal/store"
)

// partitionAcks tracks the acknowledgements of one partition a Workers
// member owns. Its durable form is the group's committed offset, the lowest
// offset neither acknowledged nor passed over, plus the acknowledged
// offsets above it:
//
//	offsets   ... 97 98 99 100 101 102 103 104 105 ...
//	state         ack ack ack  -   ack ack  -  ack  (delivered up to 105)
//	committed     offset 100, acked [101,103) [104,105)
//
// so that whoever owns the partition next skips exactly the records that
// were acknowledged.
type partitionAcks struct {
	tp TopicPartition
	// generation is the group's generation when the member took the
	// partition: a later owner's is higher.
	generation int32
	ctx        context.Context // handlers' context, cancelled when the partition goes
	// cancel ends ctx.
	cancel context.CancelFunc

	mu        sync.Mutex
	idle      sync.Cond // broadcast when inflight drops to zero
	next      int64
	acked     []store.OffsetRange
	delivered int64     // the offset after the last record handed to a worker
	outputs   []*Record // Tx output of acknowledged records, not committed yet
	seq       uint64    // acknowledgements made
	durable   uint64    // acknowledgements committed
	inflight  int       // records handed to a worker and not finished
	gone      bool      // released or lost: acknowledgements no longer count

	commitMu sync.Mutex // serializes commits, so that each carries all before it
}

func newPartitionAcks(ctx context.Context, tp TopicPartition, position int64, acked []store.OffsetRange) *partitionAcks {
	a := &partitionAcks{tp: tp, next: position, delivered: position, acked: slices.Clone(acked)}
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.idle.L = &a.mu
	return a
}

// deliver records that the record at offset goes to a worker: the offsets
// passed over since the last (control records, records acknowledged
// before) count as acknowledged.
func (a *partitionAcks) deliver(offset int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if offset > a.delivered {
		a.add(a.delivered, offset)
	}
	a.delivered = max(a.delivered, offset+1)
	a.inflight++
}

// ack acknowledges offset with the Tx output of its record, and returns
// the acknowledgement's number, for waiting until it is durable; false
// when the partition is gone and the acknowledgement does not count.
func (a *partitionAcks) ack(offset int64, outputs []*Record) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finish()
	if a.gone {
		return 0, false
	}
	a.add(offset, offset+1)
	a.outputs = append(a.outputs, outputs...)
	a.seq++
	return a.seq, true
}

// abandon ends a record that was not acknowledged.
func (a *partitionAcks) abandon() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finish()
}

func (a *partitionAcks) finish() {
	a.inflight--
	if a.inflight == 0 {
		a.idle.Broadcast()
	}
}

// add acknowledges [start, end); a.mu is held.
func (a *partitionAcks) add(start, end int64) {
	if end <= a.next {
		return
	}
	start = max(start, a.next)
	i, _ := slices.BinarySearchFunc(a.acked, start, func(r store.OffsetRange, s int64) int {
		if r.End < s {
			return -1
		}
		return 1
	})
	// Ranges i.. end at or after start; merge those that touch [start, end).
	j := i
	for j < len(a.acked) && a.acked[j].Start <= end {
		start, end = min(start, a.acked[j].Start), max(end, a.acked[j].End)
		j++
	}
	a.acked = slices.Replace(a.acked, i, j, store.OffsetRange{Start: start, End: end})
	if a.acked[0].Start <= a.next {
		a.next = a.acked[0].End
		a.acked = a.acked[1:]
	}
}

// state returns the partition's durable form and the acknowledgement
// number it includes; a.mu is held.
func (a *partitionAcks) state() (int64, []store.OffsetRange, uint64) {
	return a.next, slices.Clone(a.acked), a.seq
}

// waitIdle waits until no record of the partition is with a worker, or ctx
// ends.
func (a *partitionAcks) waitIdle(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.idle.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.inflight > 0 && ctx.Err() == nil {
		a.idle.Wait()
	}
}

// flush commits the acknowledgements up to number upTo (and any after it),
// with their Tx output, unless a commit carried them already. Commits of a
// partition are serial: each carries every acknowledgement before it, so
// one that fails leaves nothing acknowledged without its output.
func (w *Workers) flush(ctx context.Context, a *partitionAcks, upTo uint64) error {
	a.commitMu.Lock()
	defer a.commitMu.Unlock()
	a.mu.Lock()
	if a.durable >= upTo {
		a.mu.Unlock()
		return nil
	}
	next, acked, seq := a.state()
	outs := a.outputs
	a.outputs = nil
	a.mu.Unlock()
	txn := &store.Txn{Appends: w.db.encodeOutputs(outs), Built: true, Durability: store.Durability(w.opts.Durability),
		Offsets: []store.Offset{{Group: w.opts.Group, Topic: a.tp.Topic, Partition: a.tp.Partition, Offset: next,
			LeaderEpoch: -1, Acked: acked, Member: w.c.memberID()}}}
	_, err := w.db.s.Commit(ctx, txn)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.outputs = append(outs, a.outputs...)
		return err
	}
	a.durable = max(a.durable, seq)
	return nil
}

// pending returns the number of the partition's last acknowledgement, and
// whether a commit has yet to carry it.
func (a *partitionAcks) pending() (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq, a.seq > a.durable
}
