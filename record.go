package spool

import (
	"slices"
	"time"
)

// Record is one Kafka record: what a producer sends and a consumer receives.
type Record struct {
	// Topic is the topic the record is produced to or was read from.
	Topic string
	// Partition is the record's partition: set by the producer's
	// partitioner, or read by ManualPartitioner.
	Partition int32
	// Offset is the record's position in its partition, set once it is
	// written.
	Offset int64
	// Key is the record's key; nil means no key, which the default
	// partitioner spreads rather than hashes.
	Key []byte
	// Value is the record's value; nil is a null value.
	Value []byte
	// Headers are the record's headers, in order.
	Headers []Header
	// Timestamp is the record's time. Produced with the zero value, it is
	// the time of Produce; in a topic with message.timestamp.type=
	// LogAppendTime it is the time of the commit, once written.
	Timestamp time.Time
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Clone returns a copy of r that shares no memory with it. A consumer's
// records alias its read buffer until the next Poll: Clone keeps one longer.
func (r *Record) Clone() *Record {
	c := *r
	c.Key = slices.Clone(r.Key)
	c.Value = slices.Clone(r.Value)
	if r.Headers != nil {
		c.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: slices.Clone(h.Value)}
		}
	}
	return &c
}
