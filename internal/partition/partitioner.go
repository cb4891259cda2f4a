// Package partition chooses the partition a produced record goes to, the
// way Kafka's clients do, so that a keyed record lands in the partition a
// Java or franz-go producer would have put it in.
//
// A producer keeps one Partitioner per topic and drives it as it batches
// records per partition:
//
//	p := part.Partition(rec, n)
//	if !batch[p].fits(rec) {
//		batch[p].close()
//		if part.OnBatchDone(p) {
//			p = part.Partition(rec, n) // the sticky partition moved on
//		}
//	}
//	batch[p].append(rec)
//
// and also calls OnBatchDone(p) whenever it closes the batch of p for
// another reason (linger expired, flush), so that the next keyless record
// starts a batch elsewhere. Asking again only when OnBatchDone says so keeps
// round robin from skipping a partition, the bug Kafka fixed in KAFKA-9965.
//
// Every Partition result must be range-checked by the producer: Manual and
// Func return what they are given or compute, as Java's KafkaProducer checks
// a record's own partition ("Invalid partition given with record").
package partition

import "sync/atomic"

// Record is what a partitioner may look at. It is passed by value so that
// partitioning allocates nothing.
type Record struct {
	// Key is the serialized key. Nil means the record has no key, which
	// Kafka treats differently from an empty key: an empty key is hashed
	// like any other, a nil key is spread without hashing.
	Key []byte
	// Value is the serialized value, for a Func that partitions by content.
	Value []byte
	// Partition is the record's own partition, read only by Manual (and
	// whatever Func chooses to read).
	Partition int32
}

// Partitioner chooses among a topic's partitions. Implementations in this
// package are safe for concurrent use; one value serves one topic, because
// Kafka's stickiness and round robin are per topic.
type Partitioner interface {
	// Partition returns the partition in [0, partitions) for r.
	// partitions must be positive.
	Partition(r Record, partitions int32) int32
	// OnBatchDone tells the partitioner that the batch being filled for
	// partition was closed: full, or handed off to be written. It reports
	// whether records the partitioner would have sent to partition may now
	// go elsewhere, so that a producer holding a record that did not fit
	// should call Partition again.
	OnBatchDone(partition int32) (moved bool)
}

// Manual sends every record to its own Record.Partition, unchecked, like
// franz-go's ManualPartitioner. The zero value is ready to use.
type Manual struct{}

// Partition returns r.Partition.
func (Manual) Partition(r Record, _ int32) int32 { return r.Partition }

// OnBatchDone returns false: a record's own partition never moves.
func (Manual) OnBatchDone(int32) bool { return false }

// Func adapts a function to a Partitioner that ignores batch boundaries.
// It is as safe for concurrent use as the function is.
type Func func(r Record, partitions int32) int32

// Partition returns f(r, partitions).
func (f Func) Partition(r Record, partitions int32) int32 { return f(r, partitions) }

// OnBatchDone returns false: a function of the record alone answers the
// same after a batch boundary, so asking again would change nothing.
func (Func) OnBatchDone(int32) bool { return false }

// RoundRobin sends each record, keyed or not, to the partition after the
// previous record's, like the Java client's RoundRobinPartitioner and
// franz-go's RoundRobinPartitioner. The zero value starts at partition 0.
// It is safe for concurrent use.
type RoundRobin struct {
	next atomic.Int32
}

// Partition returns the next partition in turn.
func (rr *RoundRobin) Partition(_ Record, partitions int32) int32 {
	mustPositive(partitions)
	// The counter wraps past MaxInt32 to MinInt32; clearing the sign bit
	// (Java's Utils.toPositive, as RoundRobinPartitioner does) restarts
	// the turn at 0 instead of producing a negative partition.
	return ((rr.next.Add(1) - 1) & 0x7fffffff) % partitions
}

// OnBatchDone returns false: the turn advances per record, not per batch,
// and asking again would skip a partition.
func (*RoundRobin) OnBatchDone(int32) bool { return false }

// These assertions keep the types in step with the interface.
var (
	_ Partitioner = Manual{}
	_ Partitioner = Func(nil)
	_ Partitioner = (*RoundRobin)(nil)
	_ Partitioner = (*Sticky)(nil)
)
