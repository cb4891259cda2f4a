package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// fuzzSeeds returns whole batches of several shapes for the corpora.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{mustHex(t, kaCompacted), mustHex(t, kaProduced)}
	var bb BatchBuilder
	// Small batches: the fuzzer mutates and minimizes large inputs slowly.
	bb.Reset(1000)
	seeds = append(seeds, bb.Build(nil))
	bb.SetProducer(7, 1, 0)
	bb.SetTransactional(true)
	for i := range 5 {
		bb.Append(1000+int64(i*i)-8, bytes.Repeat([]byte{'k'}, i), []byte("value"),
			RecordHeader{Key: []byte("h"), Value: bytes.Repeat([]byte{'v'}, i)}, RecordHeader{})
	}
	seeds = append(seeds, bb.Build(nil))
	z, _ := bb.BuildCompressed(nil, CompressionZstd, reverse)
	return append(seeds, z)
}

func FuzzValidateBatch(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
		f.Add(s[:len(s)-1], false)
	}
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, reseal bool) {
		// Mutations rarely keep the CRC right; resealing lets them reach
		// the structural checks behind it.
		if reseal && len(b) >= BatchHeaderSize {
			binary.BigEndian.PutUint32(b[batchOffCRC:], crc32.Checksum(b[batchOffAttributes:], crcTable))
		}
		h, err := ValidateBatch(b)
		if err != nil {
			if !isBatchError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.Size() != len(b) || h.Magic != BatchMagic {
			t.Fatalf("accepted %+v in %d bytes", h, len(b))
		}
		batch, rest, err := NextBatch(b)
		if err != nil || len(batch) != len(b) || len(rest) != 0 {
			t.Fatalf("NextBatch disagrees: %d, %d, %v", len(batch), len(rest), err)
		}
		it, err := NewRecordIter(b)
		if h.Compression() != CompressionNone {
			if !errors.Is(err, ErrCompressedBatch) {
				t.Fatalf("compressed batch gave %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkIterWithin(t, &it, h)
	})
}

func FuzzRecordIter(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		h, err := ParseBatchHeader(s)
		if err == nil && h.Compression() == CompressionNone {
			f.Add(s[BatchHeaderSize:], h.RecordCount, h.LastOffsetDelta, false)
		}
	}
	f.Add([]byte{0x80}, int32(1), int32(0), true)
	f.Fuzz(func(t *testing.T, records []byte, count, lastDelta int32, logAppend bool) {
		// Decoding: arbitrary sections decode or fail cleanly, and every
		// field lies within the section.
		h := BatchHeader{BaseOffset: 100, RecordCount: count, LastOffsetDelta: lastDelta, BaseTimestamp: 10, MaxTimestamp: 20}
		if logAppend {
			h.Attributes = batchAttrLogAppendTime
		}
		it := NewRecordIterRaw(h, records)
		var r BatchRecord
		n := int32(0)
		within := func(b []byte) {
			if len(b) > len(records) || cap(b) != len(b) {
				t.Fatalf("field of %d bytes (cap %d) from a section of %d", len(b), cap(b), len(records))
			}
		}
		for it.Next(&r) {
			n++
			if n > count || r.Offset < 100 || r.Offset > 100+int64(lastDelta) {
				t.Fatalf("record %d of %d at offset %d", n, count, r.Offset)
			}
			if logAppend && r.Timestamp != 20 {
				t.Fatalf("timestamp %d under LogAppendTime", r.Timestamp)
			}
			within(r.Key)
			within(r.Value)
			for _, hd := range r.Headers {
				within(hd.Key)
				within(hd.Value)
			}
		}
		if err := it.Err(); err != nil && !errors.Is(err, ErrBatchCorrupt) {
			t.Fatalf("unexpected error %v", err)
		} else if err == nil && n != count {
			t.Fatalf("%d records of %d without an error", n, count)
		}

		// Encoding: the fuzzed bytes as record contents come back intact.
		var bb BatchBuilder
		bb.Reset(int64(lastDelta))
		split := min(int(uint32(count)%64), len(records))
		key, value := records[:split], records[split:]
		if logAppend {
			key = nil
		}
		bb.Append(int64(count), key, value, RecordHeader{Key: value, Value: key})
		batch := bb.Build(nil)
		if _, err := ValidateBatch(batch); err != nil {
			t.Fatal(err)
		}
		it, _ = NewRecordIter(batch)
		if !it.Next(&r) || r.Timestamp != int64(count) || !sameBytes(r.Key, key) || !sameBytes(r.Value, value) ||
			len(r.Headers) != 1 || !bytes.Equal(r.Headers[0].Key, value) || !sameBytes(r.Headers[0].Value, key) {
			t.Fatalf("round trip: %+v, %v", r, it.Err())
		}
	})
}

func FuzzNextBatch(f *testing.F) {
	seeds := fuzzSeeds(f)
	f.Add(bytes.Join(seeds, nil))
	f.Add(append(bytes.Clone(seeds[0]), seeds[1][:40]...))
	f.Add(seeds[2][:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		var joined []byte
		rest := b
		for len(rest) > 0 {
			batch, r, err := NextBatch(rest)
			if err != nil {
				if !isBatchError(err) || batch != nil || len(r) != len(rest) {
					t.Fatalf("error %v with %d, %d bytes", err, len(batch), len(r))
				}
				break
			}
			h, err := ParseBatchHeader(batch)
			if err != nil || h.Size() != len(batch) || cap(batch) != len(batch) {
				t.Fatalf("batch of %d bytes (cap %d): %+v, %v", len(batch), cap(batch), h, err)
			}
			joined = append(joined, batch...)
			rest = r
		}
		if !bytes.Equal(append(joined, rest...), b) {
			t.Fatal("batches and rest do not add up to the input")
		}
	})
}
