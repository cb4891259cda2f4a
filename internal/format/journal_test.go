package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// journalEntry is the input of one AppendRecord call.
type journalEntry struct {
	synced uint64
	time   int64
	ops    []byte
}

// genOpsBytes draws the ops of a record: usually short, sometimes long enough
// for a multi-byte length.
func genOpsBytes(t *rapid.T, label string) []byte {
	if rapid.IntRange(0, 9).Draw(t, label+" long") == 0 {
		n := rapid.IntRange(0, 70000).Draw(t, label+" length")
		return bytes.Repeat([]byte{rapid.Byte().Draw(t, label+" fill")}, n)
	}
	return rapid.SliceOfN(rapid.Byte(), 0, 200).Draw(t, label)
}

// appendChain appends entries as a chain of records from prev and firstLSN,
// returning the buffer and each record's checksum.
func appendChain(b []byte, prev uint32, firstLSN uint64, entries []journalEntry) ([]byte, []uint32) {
	sums := make([]uint32, len(entries))
	for i, e := range entries {
		b, prev = AppendRecord(b, prev, firstLSN+uint64(i), e.synced, e.time, e.ops)
		sums[i] = prev
	}
	return b, sums
}

func TestRecordChainRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Uint32().Draw(t, "seed")
		first := rapid.Uint64Max(1<<62).Draw(t, "first lsn")
		entries := make([]journalEntry, rapid.IntRange(1, 5).Draw(t, "records"))
		for i := range entries {
			entries[i] = journalEntry{synced: rapid.Uint64().Draw(t, "synced"), time: rapid.Int64().Draw(t, "time"),
				ops: genOpsBytes(t, "ops")}
		}
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		b, sums := appendChain(bytes.Clone(prefix), seed, first, entries)
		if !bytes.Equal(b[:len(prefix)], prefix) {
			t.Fatalf("AppendRecord changed the bytes before it")
		}
		// The unwritten rest of an extent reads as zeros.
		b = append(b, make([]byte, rapid.IntRange(0, 64).Draw(t, "zeros"))...)

		rest := b[len(prefix):]
		prev := seed
		for i, e := range entries {
			lsn := first + uint64(i)
			if _, _, err := DecodeRecord(rest, prev^1, lsn); !errors.Is(err, ErrChainEnd) {
				t.Fatalf("record %d decodes with the wrong prev checksum: %v", i, err)
			}
			if _, _, err := DecodeRecord(rest, prev, lsn+1); !errors.Is(err, ErrChainEnd) {
				t.Fatalf("record %d decodes with the wrong LSN: %v", i, err)
			}
			r, n, err := DecodeRecord(rest, prev, lsn)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if n != RecordSize(len(e.ops)) {
				t.Fatalf("record %d is %d bytes, RecordSize says %d", i, n, RecordSize(len(e.ops)))
			}
			if r.LSN != lsn || r.SyncedLSN != e.synced || r.Time != e.time || !bytes.Equal(r.Ops, e.ops) || r.Checksum != sums[i] {
				t.Fatalf("record %d decoded as %+v, want lsn %d %+v checksum %08x", i, r, lsn, e, sums[i])
			}
			again, sum := AppendRecord(nil, prev, r.LSN, r.SyncedLSN, r.Time, r.Ops)
			if !bytes.Equal(again, rest[:n]) || sum != r.Checksum {
				t.Fatalf("record %d re-encodes differently", i)
			}
			prev = r.Checksum
			rest = rest[n:]
		}
		if _, _, err := DecodeRecord(rest, prev, first+uint64(len(entries))); !errors.Is(err, ErrChainEnd) {
			t.Fatalf("past the last record: %v, want ErrChainEnd", err)
		}
	})
}

// sampleChain is two records from seed 0x5eed and LSN 10.
func sampleChain() ([]byte, []uint32) {
	return appendChain(nil, 0x5eed, 10, []journalEntry{
		{synced: 9, time: 1700000000000000000, ops: []byte("first record's operations")},
		{synced: 10, time: 1700000000000000001, ops: []byte("second")},
	})
}

func TestRecordBitFlips(t *testing.T) {
	b, _ := sampleChain()
	n := RecordSize(len("first record's operations"))
	for i := range n {
		for bit := range 8 {
			d := bytes.Clone(b)
			d[i] ^= 1 << bit
			if r, _, err := DecodeRecord(d, 0x5eed, 10); !errors.Is(err, ErrChainEnd) {
				t.Fatalf("byte %d bit %d flipped: %+v, %v", i, bit, r, err)
			}
		}
	}
}

func TestRecordTruncated(t *testing.T) {
	b, _ := sampleChain()
	n := RecordSize(len("first record's operations"))
	for k := range n {
		if _, _, err := DecodeRecord(b[:k], 0x5eed, 10); !errors.Is(err, ErrChainEnd) {
			t.Fatalf("%d of %d bytes: %v, want ErrChainEnd", k, n, err)
		}
	}
	if _, m, err := DecodeRecord(b[:n], 0x5eed, 10); err != nil || m != n {
		t.Fatalf("exactly one record: %d, %v", m, err)
	}
}

func TestRecordFrame(t *testing.T) {
	le := binary.LittleEndian
	// reseal rewrites the chain checksum of the record at the start of b
	// over n bytes of body, so that only the frame's own checks remain.
	reseal := func(b []byte, n int) {
		le.PutUint32(b[4:], ChainChecksum(ChainChecksum(0x5eed, b[:4]), b[RecordFrameSize:RecordFrameSize+n]))
	}
	for _, tt := range []struct {
		name string
		edit func(b []byte)
	}{
		{"zero frame", func(b []byte) { clear(b[:RecordFrameSize]) }},
		{"zero length", func(b []byte) { le.PutUint32(b, 0); reseal(b, 0) }},
		{"length below the fixed fields", func(b []byte) { le.PutUint32(b, recordFixedSize-1); reseal(b, recordFixedSize-1) }},
		{"length past the buffer", func(b []byte) { le.PutUint32(b, uint32(len(b))) }},
		{"huge length", func(b []byte) { le.PutUint32(b, ^uint32(0)) }},
		{"wrong LSN", func(b []byte) { le.PutUint64(b[RecordFrameSize:], 11); reseal(b, int(le.Uint32(b))) }},
		{"second record without the first", func(b []byte) {
			n := RecordSize(len("first record's operations"))
			copy(b, b[n:])
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := sampleChain()
			tt.edit(b)
			if r, _, err := DecodeRecord(b, 0x5eed, 10); !errors.Is(err, ErrChainEnd) {
				t.Fatalf("decoded %+v, %v; want ErrChainEnd", r, err)
			}
		})
	}
}

// TestRecordStaleBytes writes a chain over the longer chain of an earlier use
// of the same space, as a recycled extent holds: reading stops at the end of
// the new chain instead of running on into the old one.
func TestRecordStaleBytes(t *testing.T) {
	old, _ := appendChain(nil, 1, 1, []journalEntry{{ops: []byte("a")}, {ops: []byte("b")}, {ops: []byte("c")}, {ops: []byte("d")}})
	// The new chain's records have the same sizes, so the third old record
	// starts exactly where the new chain ends, with the LSN that comes next.
	cur, sums := appendChain(nil, 2, 1, []journalEntry{{ops: []byte("x")}, {ops: []byte("y")}})
	b := bytes.Clone(old)
	copy(b, cur)
	prev, rest := uint32(2), b
	for i := range 2 {
		r, n, err := DecodeRecord(rest, prev, uint64(i+1))
		if err != nil {
			t.Fatalf("new record %d: %v", i, err)
		}
		prev, rest = r.Checksum, rest[n:]
	}
	if prev != sums[1] {
		t.Fatalf("chain checksum %08x, want %08x", prev, sums[1])
	}
	if r, _, err := DecodeRecord(rest, prev, 3); !errors.Is(err, ErrChainEnd) {
		t.Fatalf("stale record read as part of the chain: %+v, %v", r, err)
	}
}

func TestRecordOpsAlias(t *testing.T) {
	b, _ := AppendRecord(nil, 0, 1, 0, 0, []byte("ops"))
	r, _, err := DecodeRecord(b, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if &r.Ops[0] != &b[RecordFrameSize+recordFixedSize] {
		t.Fatalf("Record.Ops does not alias the buffer")
	}
}
