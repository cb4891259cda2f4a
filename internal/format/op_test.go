package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// genOpString draws a name or value: usually short, sometimes long enough
// that the operation's payload needs a two- or three-byte length.
func genOpString(t *rapid.T, label string) string {
	if rapid.IntRange(0, 7).Draw(t, label+" long") == 0 {
		n := rapid.IntRange(100, maxString).Draw(t, label+" length")
		pattern := rapid.SliceOfN(rapid.Byte(), 1, 4).Draw(t, label+" pattern")
		return strings.Repeat(string(pattern), n/len(pattern)+1)[:n]
	}
	return string(rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, label))
}

func genConfig(t *rapid.T) []ConfigEntry {
	c := make([]ConfigEntry, rapid.IntRange(0, 4).Draw(t, "config entries"))
	for i := range c {
		c[i] = ConfigEntry{Name: genOpString(t, "config name"), Value: genOpString(t, "config value")}
	}
	return c
}

func genExtents(t *rapid.T) []uint32 {
	if rapid.IntRange(0, 7).Draw(t, "many extents") == 0 {
		v := make([]uint32, rapid.IntRange(20, 20000).Draw(t, "extent count"))
		base, step := rapid.Uint32().Draw(t, "extent base"), rapid.Uint32().Draw(t, "extent step")
		for i := range v {
			v[i] = base + uint32(i)*step
		}
		return v
	}
	return rapid.SliceOfN(rapid.Uint32(), 0, 20).Draw(t, "extents")
}

// lastOpType is the highest operation type defined.
const lastOpType = OpAppendData

// genOp draws an operation of any type with any field values.
func genOp(t *rapid.T) Op {
	switch OpType(rapid.IntRange(int(OpTopicCreate), int(lastOpType)).Draw(t, "type")) {
	case OpTopicCreate:
		return TopicCreate{ID: rapid.Uint32().Draw(t, "id"), Name: genOpString(t, "name"),
			Partitions: rapid.Uint32().Draw(t, "partitions"), Config: genConfig(t), Created: rapid.Int64().Draw(t, "created")}
	case OpTopicConfig:
		return TopicConfig{ID: rapid.Uint32().Draw(t, "id"), Config: genConfig(t)}
	case OpTopicDelete:
		return TopicDelete{ID: rapid.Uint32().Draw(t, "id")}
	case OpExtentAlloc:
		return ExtentAlloc{Extent: rapid.Uint32().Draw(t, "extent"), Generation: rapid.Uint64().Draw(t, "generation"),
			Topic: rapid.Uint32().Draw(t, "topic"), Partition: rapid.Uint32().Draw(t, "partition"),
			BaseOffset: rapid.Int64().Draw(t, "base offset")}
	case OpExtentFree:
		return ExtentFree{Extent: rapid.Uint32().Draw(t, "extent")}
	case OpContinue:
		return Continue{Extent: rapid.Uint32().Draw(t, "extent"), Generation: rapid.Uint64().Draw(t, "generation")}
	case OpAppend:
		return Append{Topic: rapid.Uint32().Draw(t, "topic"), Partition: rapid.Uint32().Draw(t, "partition"),
			Extent: rapid.Uint32().Draw(t, "extent"), Start: rapid.Uint32().Draw(t, "start"), End: rapid.Uint32().Draw(t, "end"),
			FirstOffset: rapid.Int64().Draw(t, "first offset"), NextOffset: rapid.Int64().Draw(t, "next offset"),
			MaxTimestamp: rapid.Int64().Draw(t, "max timestamp")}
	case OpAppendData:
		data := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "data")
		start := rapid.Uint32Range(0, 1<<32-1-uint32(len(data))).Draw(t, "start")
		return AppendData{Append: Append{Topic: rapid.Uint32().Draw(t, "topic"), Partition: rapid.Uint32().Draw(t, "partition"),
			Extent: rapid.Uint32().Draw(t, "extent"), Start: start, End: start + uint32(len(data)),
			FirstOffset: rapid.Int64().Draw(t, "first offset"), NextOffset: rapid.Int64().Draw(t, "next offset"),
			MaxTimestamp: rapid.Int64().Draw(t, "max timestamp")}, Data: data}
	case OpLogStart:
		return LogStart{Topic: rapid.Uint32().Draw(t, "topic"), Partition: rapid.Uint32().Draw(t, "partition"),
			Offset: rapid.Int64().Draw(t, "offset")}
	case OpOffsetCommit:
		return OffsetCommit{Group: genOpString(t, "group"), Topic: rapid.Uint32().Draw(t, "topic"),
			Partition: rapid.Uint32().Draw(t, "partition"), Offset: rapid.Int64().Draw(t, "offset"),
			LeaderEpoch: rapid.Int32().Draw(t, "leader epoch"), Metadata: genOpString(t, "metadata"),
			Time: rapid.Int64().Draw(t, "time")}
	case OpGroupDelete:
		return GroupDelete{Group: genOpString(t, "group")}
	case OpCheckpoint:
		return Checkpoint{LSN: rapid.Uint64().Draw(t, "lsn"), JournalExtent: rapid.Uint32().Draw(t, "journal extent"),
			Extents: genExtents(t)}
	case OpCounters:
		return Counters{NextTopicID: rapid.Uint32().Draw(t, "next topic id"),
			NextGeneration: rapid.Uint64().Draw(t, "next generation"), ExtentCount: rapid.Uint32().Draw(t, "extent count")}
	case OpProducerInit:
		return ProducerInit{ProducerID: rapid.Int64().Draw(t, "producer id"), Epoch: rapid.Int16().Draw(t, "epoch")}
	case OpProducerBatch:
		return ProducerBatch{Topic: rapid.Uint32().Draw(t, "topic"), Partition: rapid.Uint32().Draw(t, "partition"),
			ProducerID: rapid.Int64().Draw(t, "producer id"), Epoch: rapid.Int16().Draw(t, "epoch"),
			FirstSeq: rapid.Int32().Draw(t, "first seq"), LastSeq: rapid.Int32().Draw(t, "last seq"),
			FirstOffset: rapid.Int64().Draw(t, "first offset"), LastOffset: rapid.Int64().Draw(t, "last offset"),
			Time: rapid.Int64().Draw(t, "time")}
	case OpProducerExpire:
		return ProducerExpire{Until: rapid.Int64().Draw(t, "until")}
	case OpMemberJoin:
		return MemberJoin{Group: genOpString(t, "group"), Member: genOpString(t, "member"), Instance: genOpString(t, "instance"),
			Slot: rapid.Uint32().Draw(t, "slot"), Assignor: genOpString(t, "assignor"),
			Topics:         rapid.SliceOfN(rapid.StringN(0, 20, -1), 0, 5).Draw(t, "topics"),
			SessionTimeout: rapid.Int64().Draw(t, "session"), RebalanceTimeout: rapid.Int64().Draw(t, "rebalance"),
			Time: rapid.Int64().Draw(t, "time")}
	case OpMemberLeave:
		return MemberLeave{Group: genOpString(t, "group"), Member: genOpString(t, "member"),
			Reason: LeaveReason(rapid.Byte().Draw(t, "reason"))}
	case OpGroupAssign:
		o := GroupAssign{Group: genOpString(t, "group"), Generation: rapid.Int32().Draw(t, "generation"),
			Assignor: genOpString(t, "assignor")}
		for range rapid.IntRange(0, 4).Draw(t, "members") {
			m := MemberTarget{Member: genOpString(t, "member")}
			for range rapid.IntRange(0, 3).Draw(t, "topics") {
				m.Partitions = append(m.Partitions, TopicPartitions{Topic: rapid.Uint32().Draw(t, "topic"), Partitions: genExtents(t)})
			}
			o.Targets = append(o.Targets, m)
		}
		return o
	case OpPartitionOwner:
		return PartitionOwner{Group: genOpString(t, "group"), Topic: rapid.Uint32().Draw(t, "topic"),
			Partition: rapid.Uint32().Draw(t, "partition"), Member: genOpString(t, "member"),
			Generation: rapid.Int32().Draw(t, "generation")}
	default:
		o := OffsetAcks{Group: genOpString(t, "group"), Topic: rapid.Uint32().Draw(t, "topic"),
			Partition: rapid.Uint32().Draw(t, "partition")}
		for range rapid.IntRange(0, 6).Draw(t, "ranges") {
			o.Ranges = append(o.Ranges, OffsetRange{Start: rapid.Int64().Draw(t, "start"), End: rapid.Int64().Draw(t, "end")})
		}
		return o
	}
}

// normOp makes empty slices nil, so that operations compare by value: the
// decoder cannot tell an empty list from a nil one.
func normOp(op Op) Op {
	switch o := op.(type) {
	case TopicCreate:
		if len(o.Config) == 0 {
			o.Config = nil
		}
		return o
	case TopicConfig:
		if len(o.Config) == 0 {
			o.Config = nil
		}
		return o
	case Checkpoint:
		if len(o.Extents) == 0 {
			o.Extents = nil
		}
		return o
	case MemberJoin:
		if len(o.Topics) == 0 {
			o.Topics = nil
		}
		return o
	case GroupAssign:
		for i := range o.Targets {
			for j := range o.Targets[i].Partitions {
				if len(o.Targets[i].Partitions[j].Partitions) == 0 {
					o.Targets[i].Partitions[j].Partitions = nil
				}
			}
		}
		return o
	}
	return op
}

func sameOp(a, b Op) bool { return reflect.DeepEqual(normOp(a), normOp(b)) }

// opEncoding is what AppendOp must produce: type, payload length, payload.
func opEncoding(op Op) []byte {
	p := op.appendPayload(nil)
	b := []byte{byte(op.Type())}
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// sampleOps holds one operation of every type, small and large.
func sampleOps() []Op {
	long := strings.Repeat("g", 300)
	return []Op{
		TopicCreate{ID: 1, Name: "orders", Partitions: 3, Config: []ConfigEntry{{"retention.ms", "1000"}, {"cleanup.policy", "delete"}}, Created: -5},
		TopicCreate{ID: 2, Name: long, Partitions: 1},
		TopicConfig{ID: 1, Config: []ConfigEntry{{"retention.ms", "-1"}}},
		TopicConfig{ID: 1},
		TopicDelete{ID: 1<<32 - 1},
		ExtentAlloc{Extent: 7, Generation: 1 << 40, Topic: 1, Partition: 2, BaseOffset: 1 << 50},
		ExtentFree{Extent: 0},
		Continue{Extent: 9, Generation: 12},
		Append{Topic: 1, Partition: 2, Extent: 7, Start: 100, End: 900, FirstOffset: 10, NextOffset: 20, MaxTimestamp: -1},
		AppendData{Append: Append{Topic: 1, Partition: 2, Extent: 7, Start: 100, End: 108, FirstOffset: 10, NextOffset: 11, MaxTimestamp: -1}, Data: []byte("8 bytes!")},
		LogStart{Topic: 1, Partition: 0, Offset: 99},
		OffsetCommit{Group: "g", Topic: 1, Partition: 2, Offset: 3, LeaderEpoch: -1, Metadata: "", Time: 1},
		OffsetCommit{Group: long, Topic: 1, Partition: 2, Offset: 3, LeaderEpoch: 1<<31 - 1, Metadata: strings.Repeat("m", 20000), Time: 1},
		GroupDelete{Group: "g"},
		Checkpoint{LSN: 100, JournalExtent: 4, Extents: []uint32{5, 6, 1<<32 - 2}},
		Checkpoint{LSN: 1},
		Counters{NextTopicID: 3, NextGeneration: 1 << 62, ExtentCount: 1000},
		ProducerInit{ProducerID: 0, Epoch: 0},
		ProducerInit{ProducerID: 1<<63 - 1, Epoch: -1 << 15},
		ProducerBatch{Topic: 1, Partition: 2, ProducerID: 7, Epoch: 3, FirstSeq: 10, LastSeq: 14, FirstOffset: 100, LastOffset: 104, Time: 1 << 60},
		ProducerBatch{Topic: 1<<32 - 1, Partition: 1<<32 - 1, ProducerID: -1 << 63, Epoch: 1<<15 - 1, FirstSeq: 1<<31 - 1, LastSeq: 0,
			FirstOffset: -1 << 63, LastOffset: 1<<63 - 1, Time: -1},
		ProducerExpire{Until: 1700000000000000000},
		MemberJoin{Group: "g", Member: "m-1", Instance: "web-1", Slot: 3, Assignor: "cooperative-sticky",
			Topics: []string{"orders", "payments"}, SessionTimeout: 10000, RebalanceTimeout: 30000, Time: 1},
		MemberJoin{Group: long, Member: long, Slot: 511},
		MemberLeave{Group: "g", Member: "m-1", Reason: LeaveDied},
		GroupAssign{Group: "g", Generation: 7, Assignor: "range", Targets: []MemberTarget{
			{Member: "m-1", Partitions: []TopicPartitions{{Topic: 1, Partitions: []uint32{0, 2}}, {Topic: 2, Partitions: []uint32{1}}}},
			{Member: "m-2"}}},
		GroupAssign{Group: "g", Generation: -1},
		PartitionOwner{Group: "g", Topic: 1, Partition: 2, Member: "m-1", Generation: 7},
		PartitionOwner{Group: "g", Topic: 1, Partition: 2},
		OffsetAcks{Group: "g", Topic: 1, Partition: 0, Ranges: []OffsetRange{{101, 103}, {200, 1000}}},
		OffsetAcks{Group: "g", Topic: 1, Partition: 0, Ranges: []OffsetRange{{-1 << 63, 1<<63 - 1}}},
	}
}

func TestOpRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := make([]Op, rapid.IntRange(1, 6).Draw(t, "ops"))
		for i := range ops {
			ops[i] = genOp(t)
		}
		// With spare capacity AppendOp moves a long payload in place; without,
		// the append that makes room for the length reallocates.
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		b := append(make([]byte, 0, len(prefix)+rapid.IntRange(0, 1<<17).Draw(t, "spare")), prefix...)
		var want []byte
		for _, op := range ops {
			enc := opEncoding(op)
			if got := AppendOp(nil, op); !bytes.Equal(got, enc) {
				t.Fatalf("AppendOp(%T) = % x..., want % x...", op, got[:min(len(got), 8)], enc[:min(len(enc), 8)])
			}
			want = append(want, enc...)
			b = AppendOp(b, op)
		}
		if !bytes.Equal(b[:len(prefix)], prefix) || !bytes.Equal(b[len(prefix):], want) {
			t.Fatalf("AppendOp onto a buffer wrote something else")
		}
		r := NewOpReader(b[len(prefix):])
		for i, op := range ops {
			got, err := r.Next()
			if err != nil {
				t.Fatalf("op %d (%T): %v", i, op, err)
			}
			if !sameOp(got, op) {
				t.Fatalf("op %d decoded as %+v, want %+v", i, got, op)
			}
		}
		if op, err := r.Next(); op != nil || err != nil || len(r.Remaining()) != 0 {
			t.Fatalf("after the last op: %v, %v, %d bytes left", op, err, len(r.Remaining()))
		}
	})
}

func TestOpSamples(t *testing.T) {
	var b []byte
	for _, op := range sampleOps() {
		b = AppendOp(b, op)
	}
	r := NewOpReader(b)
	for i, op := range sampleOps() {
		before := len(r.Remaining())
		got, err := r.Next()
		if err != nil || !sameOp(got, op) {
			t.Fatalf("op %d: %+v, %v; want %+v", i, got, err, op)
		}
		if n := before - len(r.Remaining()); n != len(opEncoding(op)) {
			t.Fatalf("op %d: read %d bytes, encoding has %d", i, n, len(opEncoding(op)))
		}
	}
}

// TestOpTypes pins the type numbers, which are part of the format.
func TestOpTypes(t *testing.T) {
	want := map[string]byte{"TopicCreate": 1, "TopicConfig": 2, "TopicDelete": 3, "ExtentAlloc": 4, "ExtentFree": 5,
		"Continue": 6, "Append": 7, "LogStart": 8, "OffsetCommit": 9, "GroupDelete": 10, "Checkpoint": 11, "Counters": 12,
		"ProducerInit": 13, "ProducerBatch": 14, "ProducerExpire": 15,
		"MemberJoin": 16, "MemberLeave": 17, "GroupAssign": 18, "PartitionOwner": 19, "OffsetAcks": 20, "AppendData": 21}
	seen := map[string]bool{}
	for _, op := range sampleOps() {
		name := strings.TrimPrefix(fmt.Sprintf("%T", op), "format.")
		if b := AppendOp(nil, op)[0]; b != want[name] {
			t.Errorf("%s is encoded as type %d, want %d", name, b, want[name])
		}
		seen[name] = true
	}
	if len(seen) != len(want) {
		t.Errorf("sampleOps covers %d operation types of %d", len(seen), len(want))
	}
}

// TestOpGolden pins the byte layout of a few operations.
func TestOpGolden(t *testing.T) {
	for _, tt := range []struct {
		op   Op
		want string
	}{
		{ExtentAlloc{Extent: 1, Generation: 2, Topic: 3, Partition: 4, BaseOffset: -1}, "04 05 01 02 03 04 01"},
		{Continue{Extent: 300, Generation: 1}, "06 03 ac 02 01"},
		{OffsetCommit{Group: "g", Topic: 1, Partition: 0, Offset: 5, LeaderEpoch: -1, Metadata: "m", Time: 2},
			"09 09 01 67 01 00 0a 01 01 6d 04"},
		{Checkpoint{LSN: 7, JournalExtent: 2, Extents: []uint32{3, 4}}, "0b 05 07 02 02 03 04"},
		{TopicConfig{ID: 1, Config: []ConfigEntry{{"a", "b"}}}, "02 06 01 01 01 61 01 62"},
		{ProducerInit{ProducerID: 5, Epoch: 1}, "0d 02 0a 02"}, // as in FORMAT.md
		{ProducerBatch{Topic: 1, Partition: 0, ProducerID: 5, Epoch: 0, FirstSeq: 3, LastSeq: 5, FirstOffset: 64, LastOffset: 66, Time: 2},
			"0e 0b 01 00 0a 00 06 0a 80 01 84 01 04"}, // as in FORMAT.md
		{ProducerExpire{Until: -2}, "0f 01 03"},
	} {
		if got := fmt.Sprintf("% x", AppendOp(nil, tt.op)); got != tt.want {
			t.Errorf("%T: %s, want %s", tt.op, got, tt.want)
		}
	}
}

// TestAppendOpLengthBoundaries crosses the payload sizes where the length
// takes one more byte (128 and 16384), where AppendOp moves the payload it
// wrote after a one-byte guess.
func TestAppendOpLengthBoundaries(t *testing.T) {
	var lengths []int
	for _, edge := range []int{128, 1 << 14, maxString} {
		for n := edge - 5; n <= min(edge+5, maxString); n++ {
			lengths = append(lengths, n)
		}
	}
	lengths = append(lengths, 0, 1, 200, 1000)
	for _, n := range lengths {
		group := make([]byte, n)
		for i := range group {
			group[i] = byte(i*7 + i>>8) // no run of equal bytes hides a misplaced copy
		}
		op := GroupDelete{Group: string(group)}
		enc := opEncoding(op)
		for _, spare := range []int{0, 1, 3, 1 << 17} {
			prefix := []byte("prefix")
			b := append(make([]byte, 0, len(prefix)+spare), prefix...)
			b = AppendOp(b, op)
			b = AppendOp(b, ExtentFree{Extent: 5}) // something after it
			if !bytes.Equal(b[:len(prefix)], prefix) || !bytes.Equal(b[len(prefix):len(prefix)+len(enc)], enc) {
				t.Fatalf("group of %d bytes, %d spare: wrong encoding", n, spare)
			}
			r := NewOpReader(b[len(prefix):])
			got, err := r.Next()
			if err != nil || !sameOp(got, op) {
				t.Fatalf("group of %d bytes, %d spare: decoded %d bytes, %v", n, spare, len(fmt.Sprint(got)), err)
			}
			if got, err := r.Next(); err != nil || got != (ExtentFree{Extent: 5}) {
				t.Fatalf("group of %d bytes: the next op reads as %+v, %v", n, got, err)
			}
		}
	}
}

func TestOpReaderTruncated(t *testing.T) {
	for _, op := range sampleOps() {
		enc := AppendOp(nil, op)
		for k := 1; k < len(enc); k++ {
			r := NewOpReader(enc[:k])
			if got, err := r.Next(); !errors.Is(err, ErrOpCorrupt) {
				t.Fatalf("%T cut to %d of %d bytes: %+v, %v", op, k, len(enc), got, err)
			}
		}
		r := NewOpReader(enc[:0])
		if got, err := r.Next(); got != nil || err != nil {
			t.Fatalf("empty: %v, %v", got, err)
		}
	}
}

// TestOpReaderShortPayload gives every operation a consistent length that
// cuts its payload short: each field is then truncated or missing.
func TestOpReaderShortPayload(t *testing.T) {
	for _, op := range sampleOps() {
		p := op.appendPayload(nil)
		for k := range len(p) {
			b := binary.AppendUvarint([]byte{byte(op.Type())}, uint64(k))
			b = append(b, p[:k]...)
			r := NewOpReader(b)
			if got, err := r.Next(); !errors.Is(err, ErrOpCorrupt) {
				t.Fatalf("%T with %d of %d payload bytes: %+v, %v", op, k, len(p), got, err)
			}
		}
	}
}

func TestOpReaderStrayBytes(t *testing.T) {
	for _, op := range sampleOps() {
		p := append(op.appendPayload(nil), 0)
		b := binary.AppendUvarint([]byte{byte(op.Type())}, uint64(len(p)))
		r := NewOpReader(append(b, p...))
		if got, err := r.Next(); !errors.Is(err, ErrOpCorrupt) {
			t.Fatalf("%T with a stray byte: %+v, %v", op, got, err)
		}
	}
}

func TestOpReaderUnknownType(t *testing.T) {
	for _, typ := range []int{0, int(lastOpType) + 1, 100, 255} {
		r := NewOpReader([]byte{byte(typ), 1, 0})
		if got, err := r.Next(); !errors.Is(err, ErrOpCorrupt) {
			t.Fatalf("type %d: %+v, %v", typ, got, err)
		}
	}
}

func TestOpReaderFieldLimits(t *testing.T) {
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	sv := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	str := func(n int) []byte { return append(uv(uint64(n)), make([]byte, n)...) }
	frame := func(t OpType, p []byte) []byte {
		return append(binary.AppendUvarint([]byte{byte(t)}, uint64(len(p))), p...)
	}
	for _, tt := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"u32 max", frame(OpTopicDelete, uv(1<<32-1)), true},
		{"u32 overflow", frame(OpTopicDelete, uv(1<<32)), false},
		{"uvarint overflow", frame(OpTopicDelete, bytes.Repeat([]byte{0xff}, 11)), false},
		{"i32 min", frame(OpOffsetCommit, cat(str(1), uv(0), uv(0), sv(0), sv(-1<<31), str(0), sv(0))), true},
		{"i32 below", frame(OpOffsetCommit, cat(str(1), uv(0), uv(0), sv(0), sv(-1<<31-1), str(0), sv(0))), false},
		{"i32 above", frame(OpOffsetCommit, cat(str(1), uv(0), uv(0), sv(0), sv(1<<31), str(0), sv(0))), false},
		{"i16 min", frame(OpProducerInit, cat(sv(0), sv(-1<<15))), true},
		{"i16 max", frame(OpProducerInit, cat(sv(0), sv(1<<15-1))), true},
		{"i16 below", frame(OpProducerInit, cat(sv(0), sv(-1<<15-1))), false},
		{"i16 above", frame(OpProducerInit, cat(sv(0), sv(1<<15))), false},
		{"sequence above i32", frame(OpProducerBatch, cat(uv(1), uv(0), sv(1), sv(0), sv(1<<31), sv(0), sv(0), sv(0), sv(0))), false},
		{"string at the limit", frame(OpGroupDelete, str(maxString)), true},
		{"string over the limit", frame(OpGroupDelete, str(maxString+1)), false},
		{"string longer than the payload", frame(OpGroupDelete, cat(uv(5), []byte("abc"))), false},
		{"extent count past the payload", frame(OpCheckpoint, cat(uv(1), uv(2), uv(4), uv(1), uv(2), uv(3))), false},
		{"huge extent count", frame(OpCheckpoint, cat(uv(1), uv(2), uv(1<<62), uv(1))), false},
		{"extent overflow", frame(OpCheckpoint, cat(uv(1), uv(2), uv(1), uv(1<<32))), false},
		{"config count past the payload", frame(OpTopicConfig, cat(uv(1), uv(2), str(0), str(0), str(0))), false},
		{"huge config count", frame(OpTopicConfig, cat(uv(1), uv(1<<40))), false},
		{"length past the buffer", cat([]byte{byte(OpTopicDelete)}, uv(2), uv(1)), false},
		{"length overflow", cat([]byte{byte(OpTopicDelete)}, bytes.Repeat([]byte{0xff}, 10), []byte{1}), false},
		{"no length", []byte{byte(OpTopicDelete)}, false},
	} {
		r := NewOpReader(tt.b)
		op, err := r.Next()
		if tt.ok && (err != nil || op == nil) {
			t.Errorf("%s: %v, %v; want it decoded", tt.name, op, err)
		}
		if !tt.ok && !errors.Is(err, ErrOpCorrupt) {
			t.Errorf("%s: %+v, %v; want ErrOpCorrupt", tt.name, op, err)
		}
	}
}

// TestOpReaderStopsAfterError checks that a reader reports nothing more after
// an operation that does not decode, rather than resynchronising on bytes
// that may be anything.
func TestOpReaderStopsAfterError(t *testing.T) {
	b := AppendOp(nil, ExtentFree{Extent: 1})
	b = append(b, 0xee, 0, 0)
	b = AppendOp(b, ExtentFree{Extent: 2})
	r := NewOpReader(b)
	if op, err := r.Next(); err != nil || op != (ExtentFree{Extent: 1}) {
		t.Fatalf("first: %v, %v", op, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrOpCorrupt) {
		t.Fatalf("second: %v, want ErrOpCorrupt", err)
	}
	if op, err := r.Next(); op != nil || err != nil || len(r.Remaining()) != 0 {
		t.Fatalf("after the error: %v, %v, %d bytes", op, err, len(r.Remaining()))
	}
}
