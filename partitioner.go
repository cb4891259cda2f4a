package spool

import "github.com/spooldb/spool/internal/partition"

// Partitioner chooses the partition of each record a producer sends. The
// zero Partitioner is DefaultPartitioner.
type Partitioner struct {
	// forTopic returns a new partitioner for one topic: Kafka's stickiness
	// and round robin are per topic.
	forTopic func() partition.Partitioner
	// fn is PartitionFunc's function, which sees the whole record.
	fn func(r *Record, partitions int32) int32
}

// DefaultPartitioner is Kafka's default: a keyed record goes to the
// partition murmur2 of its key gives, exactly as the Java client and
// franz-go compute it, so a key lands in the same partition number as in
// Kafka; records without a key stick to one partition until its batch is
// sent (KIP-480), then move to another.
func DefaultPartitioner() Partitioner {
	return Partitioner{forTopic: func() partition.Partitioner { return partition.NewDefault(nil) }}
}

// StickyPartitioner sends every record, keyed or not, to one partition until
// its batch is sent, then moves to another.
func StickyPartitioner() Partitioner {
	return Partitioner{forTopic: func() partition.Partitioner { return partition.NewSticky(nil) }}
}

// RoundRobinPartitioner sends each record to the partition after the
// previous record's.
func RoundRobinPartitioner() Partitioner {
	return Partitioner{forTopic: func() partition.Partitioner { return new(partition.RoundRobin) }}
}

// ManualPartitioner sends each record to its own Record.Partition.
func ManualPartitioner() Partitioner {
	return Partitioner{forTopic: func() partition.Partitioner { return partition.Manual{} }}
}

// PartitionFunc partitions by f, which returns a partition in
// [0, partitions) for r; a result out of range fails the record with
// ErrUnknownPartition.
func PartitionFunc(f func(r *Record, partitions int32) int32) Partitioner {
	return Partitioner{fn: f}
}

// PartitionForKey returns the partition Kafka's default partitioner gives
// key among partitions: murmur2 of the key, made positive, modulo the count.
func PartitionForKey(key []byte, partitions int32) int32 {
	return partition.ForKey(key, partitions)
}

// partitioner is a topic's instance of a Partitioner.
type partitioner struct {
	p  partition.Partitioner
	fn func(r *Record, partitions int32) int32
	// manual is set when p is partition.Manual: the record's own partition
	// is read without a call through the interface, which copies the
	// record's fields (a tenth of a small record's cost in Produce).
	manual bool
}

func (p Partitioner) instance() partitioner {
	switch {
	case p.fn != nil:
		return partitioner{fn: p.fn}
	case p.forTopic != nil:
		pp := p.forTopic()
		_, manual := pp.(partition.Manual)
		return partitioner{p: pp, manual: manual}
	}
	return partitioner{p: partition.NewDefault(nil)}
}

func (p partitioner) partition(r *Record, partitions int32) int32 {
	switch {
	case p.manual:
		return r.Partition
	case p.fn != nil:
		return p.fn(r, partitions)
	}
	return p.p.Partition(partition.Record{Key: r.Key, Value: r.Value, Partition: r.Partition}, partitions)
}

// batchDone reports whether records may now go elsewhere than partition.
func (p partitioner) batchDone(partition int32) bool {
	return p.fn == nil && p.p.OnBatchDone(partition)
}
