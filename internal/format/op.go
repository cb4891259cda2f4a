package format

import (
	"encoding/binary"
	"fmt"
)

// OpType names a journal operation. Each is encoded as
//
//	type u8 | payload length uvarint | payload
//
// with the payload's integers as (zig-zag for signed) varints and strings as a
// uvarint length and the bytes.
type OpType uint8

// The journal operations. Values are part of the format: never reuse one.
const (
	OpTopicCreate  OpType = 1
	OpTopicConfig  OpType = 2
	OpTopicDelete  OpType = 3
	OpExtentAlloc  OpType = 4
	OpExtentFree   OpType = 5
	OpContinue     OpType = 6
	OpAppend       OpType = 7
	OpLogStart     OpType = 8
	OpOffsetCommit OpType = 9
	OpGroupDelete  OpType = 10
	OpCheckpoint   OpType = 11
	OpCounters     OpType = 12
	// Idempotent producers.
	OpProducerInit   OpType = 13
	OpProducerBatch  OpType = 14
	OpProducerExpire OpType = 15
	// Consumer-group membership (op_group.go).
	OpMemberJoin     OpType = 16
	OpMemberLeave    OpType = 17
	OpGroupAssign    OpType = 18
	OpPartitionOwner OpType = 19
	OpOffsetAcks     OpType = 20
	// An Append that carries its batches (op_data.go).
	OpAppendData OpType = 21
)

// Op is one change of state inside a journal record or a checkpoint.
type Op interface {
	Type() OpType
	appendPayload(b []byte) []byte
}

// ConfigEntry is one topic configuration value, by Kafka's name.
type ConfigEntry struct{ Name, Value string }

// TopicCreate creates topic ID with Partitions partitions.
type TopicCreate struct {
	ID         uint32
	Name       string
	Partitions uint32
	Config     []ConfigEntry
	Created    int64 // Unix nanoseconds
}

// TopicConfig replaces the configuration of topic ID.
type TopicConfig struct {
	ID     uint32
	Config []ConfigEntry
}

// TopicDelete deletes topic ID, its data extents and committed offsets.
type TopicDelete struct{ ID uint32 }

// ExtentAlloc gives Extent to a partition as its new last segment, whose first
// offset is BaseOffset.
type ExtentAlloc struct {
	Extent     uint32
	Generation uint64
	Topic      uint32
	Partition  uint32
	BaseOffset int64
}

// ExtentFree returns Extent to the free space.
type ExtentFree struct{ Extent uint32 }

// Continue ends the records of the current extent of a chain (the journal or
// a checkpoint): the chain goes on at the start of Extent's payload, which is
// allocated to the chain with this record.
type Continue struct {
	Extent     uint32
	Generation uint64
}

// Append publishes the batches in bytes [Start, End) of Extent's payload as
// offsets [FirstOffset, NextOffset) of a partition, whose log end offset
// becomes NextOffset.
type Append struct {
	Topic        uint32
	Partition    uint32
	Extent       uint32
	Start, End   uint32
	FirstOffset  int64
	NextOffset   int64
	MaxTimestamp int64
}

// LogStart advances a partition's log start offset, the first offset a reader
// may fetch; extents wholly before it are freed by separate ExtentFree ops.
type LogStart struct {
	Topic     uint32
	Partition uint32
	Offset    int64
}

// OffsetCommit records a consumer group's committed offset for a partition.
type OffsetCommit struct {
	Group       string
	Topic       uint32
	Partition   uint32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Time        int64 // Unix nanoseconds
}

// GroupDelete deletes a consumer group and its committed offsets.
type GroupDelete struct{ Group string }

// Checkpoint says that a checkpoint of the state as of journal record LSN is
// durable, that the journal goes on from JournalExtent, and that the
// checkpoint occupies Extents. Earlier journal and checkpoint extents are free
// from here on.
type Checkpoint struct {
	LSN           uint64
	JournalExtent uint32
	Extents       []uint32
}

// Counters carries the allocation counters in a checkpoint: the next topic id,
// the next extent generation, and how many extents the file spans.
type Counters struct {
	NextTopicID    uint32
	NextGeneration uint64
	ExtentCount    uint32
}

// ProducerInit records that producer id ProducerID was handed out with
// Epoch: the next id allocated lies past it. A checkpoint carries the next
// free id as the ProducerInit of the id before it.
type ProducerInit struct {
	ProducerID int64
	Epoch      int16
}

// ProducerBatch records that an idempotent producer's batch, sequences
// [FirstSeq, LastSeq] (LastSeq wraps past MaxInt32 to 0), was appended to a
// partition as offsets [FirstOffset, LastOffset], at Time (Unix nanoseconds,
// the writer's clock). A commit emits it in the record of the Append that
// publishes the batch, after it.
type ProducerBatch struct {
	Topic       uint32
	Partition   uint32
	ProducerID  int64
	Epoch       int16
	FirstSeq    int32
	LastSeq     int32
	FirstOffset int64
	LastOffset  int64
	Time        int64
}

// ProducerExpire forgets, in every partition, the producers whose last
// batch was appended at Until (Unix nanoseconds) or earlier.
type ProducerExpire struct{ Until int64 }

func (TopicCreate) Type() OpType    { return OpTopicCreate }
func (TopicConfig) Type() OpType    { return OpTopicConfig }
func (TopicDelete) Type() OpType    { return OpTopicDelete }
func (ExtentAlloc) Type() OpType    { return OpExtentAlloc }
func (ExtentFree) Type() OpType     { return OpExtentFree }
func (Continue) Type() OpType       { return OpContinue }
func (Append) Type() OpType         { return OpAppend }
func (LogStart) Type() OpType       { return OpLogStart }
func (OffsetCommit) Type() OpType   { return OpOffsetCommit }
func (GroupDelete) Type() OpType    { return OpGroupDelete }
func (Checkpoint) Type() OpType     { return OpCheckpoint }
func (Counters) Type() OpType       { return OpCounters }
func (ProducerInit) Type() OpType   { return OpProducerInit }
func (ProducerBatch) Type() OpType  { return OpProducerBatch }
func (ProducerExpire) Type() OpType { return OpProducerExpire }

func (o TopicCreate) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.ID))
	b = appendStr(b, o.Name)
	b = binary.AppendUvarint(b, uint64(o.Partitions))
	b = appendConfig(b, o.Config)
	return binary.AppendVarint(b, o.Created)
}

func (o TopicConfig) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.ID))
	return appendConfig(b, o.Config)
}

func (o TopicDelete) appendPayload(b []byte) []byte {
	return binary.AppendUvarint(b, uint64(o.ID))
}

func (o ExtentAlloc) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.Extent))
	b = binary.AppendUvarint(b, o.Generation)
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	return binary.AppendVarint(b, o.BaseOffset)
}

func (o ExtentFree) appendPayload(b []byte) []byte {
	return binary.AppendUvarint(b, uint64(o.Extent))
}

func (o Continue) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.Extent))
	return binary.AppendUvarint(b, o.Generation)
}

func (o Append) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	b = binary.AppendUvarint(b, uint64(o.Extent))
	b = binary.AppendUvarint(b, uint64(o.Start))
	b = binary.AppendUvarint(b, uint64(o.End))
	b = binary.AppendVarint(b, o.FirstOffset)
	b = binary.AppendVarint(b, o.NextOffset)
	return binary.AppendVarint(b, o.MaxTimestamp)
}

func (o LogStart) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	return binary.AppendVarint(b, o.Offset)
}

func (o OffsetCommit) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	b = binary.AppendVarint(b, o.Offset)
	b = binary.AppendVarint(b, int64(o.LeaderEpoch))
	b = appendStr(b, o.Metadata)
	return binary.AppendVarint(b, o.Time)
}

func (o GroupDelete) appendPayload(b []byte) []byte { return appendStr(b, o.Group) }

func (o Checkpoint) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, o.LSN)
	b = binary.AppendUvarint(b, uint64(o.JournalExtent))
	return appendU32s(b, o.Extents)
}

func (o Counters) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.NextTopicID))
	b = binary.AppendUvarint(b, o.NextGeneration)
	return binary.AppendUvarint(b, uint64(o.ExtentCount))
}

func (o ProducerInit) appendPayload(b []byte) []byte {
	b = binary.AppendVarint(b, o.ProducerID)
	return binary.AppendVarint(b, int64(o.Epoch))
}

func (o ProducerBatch) appendPayload(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	b = binary.AppendVarint(b, o.ProducerID)
	b = binary.AppendVarint(b, int64(o.Epoch))
	b = binary.AppendVarint(b, int64(o.FirstSeq))
	b = binary.AppendVarint(b, int64(o.LastSeq))
	b = binary.AppendVarint(b, o.FirstOffset)
	b = binary.AppendVarint(b, o.LastOffset)
	return binary.AppendVarint(b, o.Time)
}

func (o ProducerExpire) appendPayload(b []byte) []byte { return binary.AppendVarint(b, o.Until) }

// AppendOp appends the encoding of op to b.
func AppendOp(b []byte, op Op) []byte {
	// The payload is written after a one-byte length guess and moved if the
	// guess was short, which spares a scratch buffer per operation.
	b = append(b, byte(op.Type()), 0)
	start := len(b)
	b = op.appendPayload(b)
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	var lenBuf [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lenBuf[:], uint64(n))
	b = append(b, lenBuf[:ln-1]...)
	copy(b[start+ln-1:], b[start:start+n])
	copy(b[start-1:], lenBuf[:ln])
	return b
}

// OpReader decodes the operations of a record or checkpoint one at a time.
type OpReader struct{ b []byte }

// NewOpReader returns a reader over encoded operations.
func NewOpReader(ops []byte) OpReader { return OpReader{b: ops} }

// Next returns the next operation, or nil and nil at the end.
func (r *OpReader) Next() (Op, error) {
	if len(r.b) == 0 {
		return nil, nil
	}
	t := OpType(r.b[0])
	n, ln := binary.Uvarint(r.b[1:])
	if ln <= 0 || n > uint64(len(r.b)-1-ln) {
		r.b = nil
		return nil, fmt.Errorf("%w: operation %d has a bad length", ErrOpCorrupt, t)
	}
	d := opDecoder{b: r.b[1+ln : 1+ln+int(n)]}
	r.b = r.b[1+ln+int(n):]
	op := decodeOp(t, &d)
	if d.err == nil && op == nil {
		d.err = fmt.Errorf("%w: unknown operation type %d (written by a newer spool?)", ErrOpCorrupt, t)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d stray bytes after operation %d", ErrOpCorrupt, len(d.b), t)
	}
	if d.err != nil {
		r.b = nil
		return nil, d.err
	}
	return op, nil
}

func decodeOp(t OpType, d *opDecoder) Op {
	switch t {
	case OpTopicCreate:
		return TopicCreate{ID: d.u32("topic id"), Name: d.str("topic name"), Partitions: d.u32("partitions"),
			Config: d.config(), Created: d.varint("created")}
	case OpTopicConfig:
		return TopicConfig{ID: d.u32("topic id"), Config: d.config()}
	case OpTopicDelete:
		return TopicDelete{ID: d.u32("topic id")}
	case OpExtentAlloc:
		return ExtentAlloc{Extent: d.u32("extent"), Generation: d.uvarint("generation"), Topic: d.u32("topic id"),
			Partition: d.u32("partition"), BaseOffset: d.varint("base offset")}
	case OpExtentFree:
		return ExtentFree{Extent: d.u32("extent")}
	case OpContinue:
		return Continue{Extent: d.u32("extent"), Generation: d.uvarint("generation")}
	case OpAppend:
		return decodeAppend(d)
	case OpAppendData:
		return decodeAppendData(d)
	case OpLogStart:
		return LogStart{Topic: d.u32("topic id"), Partition: d.u32("partition"), Offset: d.varint("offset")}
	case OpOffsetCommit:
		return OffsetCommit{Group: d.str("group"), Topic: d.u32("topic id"), Partition: d.u32("partition"),
			Offset: d.varint("offset"), LeaderEpoch: d.i32("leader epoch"), Metadata: d.str("metadata"),
			Time: d.varint("time")}
	case OpGroupDelete:
		return GroupDelete{Group: d.str("group")}
	case OpCheckpoint:
		return Checkpoint{LSN: d.uvarint("lsn"), JournalExtent: d.u32("journal extent"), Extents: d.u32s("extents")}
	case OpCounters:
		return Counters{NextTopicID: d.u32("next topic id"), NextGeneration: d.uvarint("next generation"),
			ExtentCount: d.u32("extent count")}
	case OpProducerInit:
		return ProducerInit{ProducerID: d.varint("producer id"), Epoch: d.i16("producer epoch")}
	case OpProducerBatch:
		return ProducerBatch{Topic: d.u32("topic id"), Partition: d.u32("partition"), ProducerID: d.varint("producer id"),
			Epoch: d.i16("producer epoch"), FirstSeq: d.i32("first sequence"), LastSeq: d.i32("last sequence"),
			FirstOffset: d.varint("first offset"), LastOffset: d.varint("last offset"), Time: d.varint("time")}
	case OpProducerExpire:
		return ProducerExpire{Until: d.varint("until")}
	case OpMemberJoin:
		return decodeMemberJoin(d)
	case OpMemberLeave:
		return MemberLeave{Group: d.str("group"), Member: d.str("member"), Reason: LeaveReason(d.byte1("leave reason"))}
	case OpGroupAssign:
		return decodeGroupAssign(d)
	case OpPartitionOwner:
		return PartitionOwner{Group: d.str("group"), Topic: d.u32("topic id"), Partition: d.u32("partition"),
			Member: d.str("member"), Generation: d.i32("generation")}
	case OpOffsetAcks:
		return decodeOffsetAcks(d)
	}
	return nil
}

func decodeAppend(d *opDecoder) Append {
	return Append{Topic: d.u32("topic id"), Partition: d.u32("partition"), Extent: d.u32("extent"),
		Start: d.u32("start"), End: d.u32("end"), FirstOffset: d.varint("first offset"),
		NextOffset: d.varint("next offset"), MaxTimestamp: d.varint("max timestamp")}
}

// Remaining returns the operations not yet read.
func (r *OpReader) Remaining() []byte { return r.b }
