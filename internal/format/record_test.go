package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestReadKafkaVarint(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt32, math.MinInt32} {
		b := binary.AppendVarint(nil, v)
		got, n := readKafkaVarint(b)
		if n != len(b) || int64(got) != v {
			t.Errorf("%d: got %d in %d bytes, want %d bytes", v, got, n, len(b))
		}
		if _, n := readKafkaVarint(b[:len(b)-1]); n > 0 {
			t.Errorf("%d truncated: read %d bytes", v, n)
		}
	}
	for _, b := range [][]byte{
		binary.AppendVarint(nil, math.MaxInt32+1),
		binary.AppendVarint(nil, math.MinInt32-1),
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
		bytes.Repeat([]byte{0xff}, 11),
		nil,
	} {
		if v, n := readKafkaVarint(b); n > 0 {
			t.Errorf("% x: accepted as %d", b, v)
		}
	}
}

func TestKafkaVarintLen(t *testing.T) {
	rng := newRand(t)
	check := func(v int64) {
		if got, want := kafkaVarintLen(v), len(binary.AppendVarint(nil, v)); got != want {
			t.Fatalf("kafkaVarintLen(%d) = %d, want %d", v, got, want)
		}
	}
	for _, v := range []int64{0, -1, 1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64} {
		check(v)
	}
	for range 10000 {
		check(int64(rng.Uint64()) >> rng.IntN(64))
	}
}

// TestRecordIterAllocs proves decoding allocates nothing per record: once a
// BatchRecord's header array has grown, whole batches decode without
// allocating at all.
func TestRecordIterAllocs(t *testing.T) {
	var bb BatchBuilder
	bb.Reset(0)
	for i := range 1000 {
		var hs []RecordHeader
		for j := range i % 4 {
			hs = append(hs, RecordHeader{Key: []byte{byte(j)}, Value: []byte("v")})
		}
		bb.Append(int64(i), []byte("key"), bytes.Repeat([]byte("x"), i%50), hs...)
	}
	batch := bb.Build(nil)
	var r BatchRecord
	n := 0
	iterate := func() {
		it, err := NewRecordIter(batch)
		if err != nil {
			t.Fatal(err)
		}
		for it.Next(&r) {
			n++
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	}
	if a := testing.AllocsPerRun(20, iterate); a != 0 {
		t.Fatalf("%v allocations per batch of 1000 records", a)
	}
	if n != 21*1000 {
		t.Fatalf("decoded %d records", n)
	}
}

// TestRecordAliasing checks that appending to a decoded key or value cannot
// write into the batch.
func TestRecordAliasing(t *testing.T) {
	var bb BatchBuilder
	bb.Append(0, []byte("k"), []byte("v"), RecordHeader{Key: []byte("h"), Value: []byte("x")})
	bb.Append(0, []byte("k2"), []byte("v2"))
	batch := bb.Build(nil)
	orig := bytes.Clone(batch)
	it, _ := NewRecordIter(batch)
	var r BatchRecord
	for it.Next(&r) {
		_ = append(r.Key, "!!!!"...)
		_ = append(r.Value, "!!!!"...)
		for _, h := range r.Headers {
			_ = append(h.Key, "!!!!"...)
			_ = append(h.Value, "!!!!"...)
		}
	}
	if !bytes.Equal(batch, orig) {
		t.Fatal("appending to a decoded field changed the batch")
	}
}
