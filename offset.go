package spool

import (
	"fmt"
	"time"
)

// Offset names where a consumer starts reading a partition: Earliest,
// Latest, At an offset, or AtTime.
type Offset struct {
	kind   offsetKind
	offset int64 // kind offsetAt
	time   time.Time
}

type offsetKind uint8

const (
	offsetEarliest offsetKind = iota
	offsetLatest
	offsetAt
	offsetTime
)

// Earliest is the log start offset: the oldest record retained. It is the
// zero Offset.
func Earliest() Offset { return Offset{kind: offsetEarliest} }

// Latest is the high watermark: only records produced from now on.
func Latest() Offset { return Offset{kind: offsetLatest} }

// At is the record at offset; an offset outside the log is clamped into it,
// as Kafka's consumer does with auto.offset.reset.
func At(offset int64) Offset { return Offset{kind: offsetAt, offset: offset} }

// AtTime is the first record whose timestamp is at or after t (Kafka's
// offsetsForTimes); Latest when there is none.
func AtTime(t time.Time) Offset { return Offset{kind: offsetTime, time: t} }

func (o Offset) String() string {
	switch o.kind {
	case offsetLatest:
		return "latest"
	case offsetAt:
		return fmt.Sprint(o.offset)
	case offsetTime:
		return o.time.Format(time.RFC3339Nano)
	}
	return "earliest"
}

// resolve returns the offset o names in a partition.
func (o Offset) resolve(db *DB, topic string, partition int32) (int64, error) {
	logStart, hwm, err := db.s.Offsets(topic, partition)
	if err != nil {
		return 0, err
	}
	switch o.kind {
	case offsetLatest:
		return hwm, nil
	case offsetAt:
		return min(max(o.offset, logStart), hwm), nil
	case offsetTime:
		return db.s.OffsetForTime(topic, partition, o.time.UnixMilli())
	}
	return logStart, nil
}
