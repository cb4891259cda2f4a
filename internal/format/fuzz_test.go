package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// The fuzz targets of spool's own layouts. Each may reseal its input's
// checksum, since random mutations almost never keep one right and would not
// reach the checks behind it.

func FuzzDecodeMeta(f *testing.F) {
	m := sampleMeta()
	enc := m.AppendTo(nil)
	f.Add(enc, false)
	f.Add(append(bytes.Clone(enc), make([]byte, 64)...), false)
	f.Add(enc[:MetaSize-1], false)
	f.Add(make([]byte, MetaSize), false)
	bad := bytes.Clone(enc)
	binary.LittleEndian.PutUint32(bad[8:], Version+1)
	f.Add(bad, true)
	m.ExtentSize = MaxExtentSize
	f.Add(m.AppendTo(nil), false)
	f.Fuzz(func(t *testing.T, b []byte, reseal bool) {
		if reseal && len(b) >= MetaSize {
			b = bytes.Clone(b) // the fuzzer's input must not change
			resealMeta(b)
		}
		m, err := DecodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrMetaCorrupt) && !errors.Is(err, ErrNotSpool) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if ValidExtentSize(m.ExtentSize) != nil {
			t.Fatalf("accepted extent size %d", m.ExtentSize)
		}
		// The flags and reserved bytes are not decoded; every other byte
		// is, so the re-encoding is the input with those zeroed.
		want := bytes.Clone(b[:MetaSize])
		clear(want[20:24])
		clear(want[80:124])
		resealMeta(want)
		enc := m.AppendTo(nil)
		if !bytes.Equal(enc, want) {
			t.Fatalf("re-encoding differs:\n% x\n% x", enc, want)
		}
		if isZero(b[20:24]) && isZero(b[80:124]) && !bytes.Equal(enc, b[:MetaSize]) {
			t.Fatalf("re-encoding differs from the input")
		}
		if again, err := DecodeMeta(enc); err != nil || again != m {
			t.Fatalf("re-decoded %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzDecodeExtentHeader(f *testing.F) {
	for _, h := range []ExtentHeader{sampleExtentHeader(), {Kind: KindJournal, Generation: 1, Base: 1},
		{Kind: KindCheckpoint, Generation: 1 << 63, Base: -1}} {
		enc := h.AppendTo(nil)
		f.Add(enc, false)
		f.Add(enc[:ExtentHeaderSize-1], false)
	}
	f.Add(make([]byte, ExtentHeaderSize), true)
	f.Fuzz(func(t *testing.T, b []byte, reseal bool) {
		if reseal && len(b) >= ExtentHeaderSize {
			b = bytes.Clone(b)
			resealExtentHeader(b)
		}
		h, err := DecodeExtentHeader(b)
		if err != nil {
			if !errors.Is(err, ErrExtentHeader) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h.Kind != KindJournal && h.Kind != KindData && h.Kind != KindCheckpoint {
			t.Fatalf("accepted kind %d", h.Kind)
		}
		want := bytes.Clone(b[:ExtentHeaderSize])
		clear(want[5:8])
		clear(want[32:60])
		resealExtentHeader(want)
		enc := h.AppendTo(nil)
		if !bytes.Equal(enc, want) {
			t.Fatalf("re-encoding differs:\n% x\n% x", enc, want)
		}
		if isZero(b[5:8]) && isZero(b[32:60]) && !bytes.Equal(enc, b[:ExtentHeaderSize]) {
			t.Fatalf("re-encoding differs from the input")
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	chain, _ := sampleChain()
	f.Add(chain, uint32(0x5eed), uint64(10), false)
	f.Add(chain[:len(chain)-1], uint32(0x5eed), uint64(10), false)
	f.Add(chain, uint32(0x5eed), uint64(11), true)
	ops := AppendOp(nil, ExtentAlloc{Extent: 3, Generation: 4, Topic: 1, Partition: 0, BaseOffset: 100})
	ops = AppendOp(ops, Append{Topic: 1, Partition: 0, Extent: 3, End: 80, FirstOffset: 100, NextOffset: 110})
	rec, _ := AppendRecord(nil, 1, 1, 0, 5, ops)
	f.Add(append(rec, make([]byte, 16)...), uint32(1), uint64(1), false)
	f.Add(make([]byte, 40), uint32(0), uint64(1), true)
	f.Fuzz(func(t *testing.T, b []byte, prev uint32, lsn uint64, reseal bool) {
		if reseal && len(b) >= RecordFrameSize {
			if n := binary.LittleEndian.Uint32(b); uint64(n) <= uint64(len(b)-RecordFrameSize) {
				sum := ChainChecksum(ChainChecksum(prev, b[:4]), b[RecordFrameSize:RecordFrameSize+int(n)])
				b = bytes.Clone(b)
				binary.LittleEndian.PutUint32(b[4:], sum)
			}
		}
		// Follow the chain as a reader does, to its end.
		for i := 0; ; i++ {
			r, n, err := DecodeRecord(b, prev, lsn)
			if err != nil {
				if !errors.Is(err, ErrChainEnd) {
					t.Fatalf("record %d: error wraps no sentinel: %v", i, err)
				}
				return
			}
			if n < RecordSize(0) || n > len(b) || n != RecordSize(len(r.Ops)) || r.LSN != lsn {
				t.Fatalf("record %d: %d bytes of %d, %d bytes of ops, LSN %d, want %d", i, n, len(b), len(r.Ops), r.LSN, lsn)
			}
			enc, sum := AppendRecord(nil, prev, r.LSN, r.SyncedLSN, r.Time, r.Ops)
			if !bytes.Equal(enc, b[:n]) || sum != r.Checksum {
				t.Fatalf("record %d re-encodes differently:\n% x\n% x", i, enc, b[:n])
			}
			prev, lsn, b = r.Checksum, lsn+1, b[n:]
		}
	})
}

func FuzzOpReader(f *testing.F) {
	var all []byte
	for _, op := range sampleOps() {
		enc := AppendOp(nil, op)
		if len(enc) < 1000 { // large inputs slow the fuzzer down
			f.Add(enc)
		}
		all = AppendOp(all, op)
	}
	f.Add(all[:2000])
	f.Add([]byte{byte(OpCheckpoint), 3, 1, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewOpReader(b)
		for {
			before := r.Remaining()
			op, err := r.Next()
			if err != nil {
				if !errors.Is(err, ErrOpCorrupt) {
					t.Fatalf("error wraps no sentinel: %v", err)
				}
				return
			}
			if op == nil {
				if len(before) != 0 {
					t.Fatalf("end of operations with %d bytes left", len(before))
				}
				return
			}
			read := before[:len(before)-len(r.Remaining())]
			// Varints may be written longer than they need to be, and decode
			// all the same; the encoder writes the shortest. So the
			// re-encoding is never longer, and of the same length only when
			// it is the same bytes.
			enc := AppendOp(nil, op)
			if len(enc) > len(read) || len(enc) == len(read) && !bytes.Equal(enc, read) {
				t.Fatalf("%T re-encodes as\n% x\nfrom\n% x", op, enc, read)
			}
			if enc[0] != read[0] || op.Type() != OpType(read[0]) {
				t.Fatalf("%T has type %d, read from type %d", op, op.Type(), read[0])
			}
			again := NewOpReader(enc)
			op2, err := again.Next()
			if err != nil || !sameOp(op2, op) || len(again.Remaining()) != 0 {
				t.Fatalf("re-encoded %T decodes as %+v, %v", op, op2, err)
			}
		}
	})
}
