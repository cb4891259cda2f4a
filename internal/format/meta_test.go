package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// genMeta draws a Meta with a valid extent size and any other field values.
func genMeta(t *rapid.T) Meta {
	var id [16]byte
	copy(id[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "file id"))
	return Meta{
		ExtentSize:         1 << rapid.IntRange(16, 30).Draw(t, "extent size shift"),
		Sequence:           rapid.Uint64().Draw(t, "sequence"),
		FileID:             id,
		Created:            rapid.Int64().Draw(t, "created"),
		CheckpointLSN:      rapid.Uint64().Draw(t, "checkpoint lsn"),
		CheckpointExtent:   rapid.Uint32().Draw(t, "checkpoint extent"),
		CheckpointChecksum: rapid.Uint32().Draw(t, "checkpoint checksum"),
		JournalExtent:      rapid.Uint32().Draw(t, "journal extent"),
		JournalSeed:        rapid.Uint32().Draw(t, "journal seed"),
	}
}

// sampleMeta is a meta record with every field set.
func sampleMeta() Meta {
	return Meta{ExtentSize: DefaultExtentSize, Sequence: 7, FileID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Created: 1700000000123456789, CheckpointLSN: 1234, CheckpointExtent: 3, CheckpointChecksum: 0xdeadbeef,
		JournalExtent: 5, JournalSeed: 0x01020304}
}

// resealMeta rewrites the checksum of the meta record at the start of b.
func resealMeta(b []byte) {
	binary.LittleEndian.PutUint32(b[MetaSize-4:], Checksum(b[:MetaSize-4]))
}

func TestMetaRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMeta(t)
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "prefix")
		b := m.AppendTo(bytes.Clone(prefix))
		if len(b) != len(prefix)+MetaSize {
			t.Fatalf("AppendTo wrote %d bytes, want %d", len(b)-len(prefix), MetaSize)
		}
		if !bytes.Equal(b[:len(prefix)], prefix) {
			t.Fatalf("AppendTo changed the bytes before it")
		}
		enc := b[len(prefix):]
		if string(enc[:8]) != Magic || !isZero(enc[20:24]) || !isZero(enc[80:124]) {
			t.Fatalf("layout: magic %q, flags % x, reserved not zero: %v", enc[:8], enc[20:24], !isZero(enc[80:124]))
		}
		got, err := DecodeMeta(enc)
		if err != nil {
			t.Fatalf("DecodeMeta: %v", err)
		}
		if got != m {
			t.Fatalf("decoded %+v, want %+v", got, m)
		}
		// A whole page decodes the same: the rest of it is ignored.
		page := append(bytes.Clone(enc), make([]byte, PageSize-MetaSize)...)
		if got, err := DecodeMeta(page); err != nil || got != m {
			t.Fatalf("from a page: %+v, %v", got, err)
		}
		if again := got.AppendTo(nil); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding differs:\n% x\n% x", again, enc)
		}
	})
}

func TestMetaBitFlips(t *testing.T) {
	good := sampleMeta()
	enc := good.AppendTo(nil)
	for i := range MetaSize {
		for bit := range 8 {
			b := bytes.Clone(enc)
			b[i] ^= 1 << bit
			m, err := DecodeMeta(b)
			want := ErrMetaCorrupt
			if i < len(Magic) {
				want = ErrNotSpool
			}
			if !errors.Is(err, want) {
				t.Fatalf("byte %d bit %d flipped: %+v, %v; want %v", i, bit, m, err, want)
			}
		}
	}
}

func TestMetaTruncated(t *testing.T) {
	m0 := sampleMeta()
	enc := m0.AppendTo(nil)
	for n := range MetaSize {
		if _, err := DecodeMeta(enc[:n]); !errors.Is(err, ErrMetaCorrupt) {
			t.Fatalf("%d bytes: %v, want ErrMetaCorrupt", n, err)
		}
	}
	if _, err := DecodeMeta(nil); !errors.Is(err, ErrMetaCorrupt) {
		t.Fatalf("nil: %v, want ErrMetaCorrupt", err)
	}
}

func TestMetaFields(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"zero page", func(b []byte) { clear(b) }, ErrNotSpool},
		{"other magic", func(b []byte) { copy(b, "SQLite f"); resealMeta(b) }, ErrNotSpool},
		{"version 0", func(b []byte) { le.PutUint32(b[8:], 0); resealMeta(b) }, ErrVersion},
		{"version 2", func(b []byte) { le.PutUint32(b[8:], Version+1); resealMeta(b) }, ErrVersion},
		{"page size", func(b []byte) { le.PutUint32(b[12:], 2*PageSize); resealMeta(b) }, ErrMetaCorrupt},
		{"extent size 0", func(b []byte) { le.PutUint32(b[16:], 0); resealMeta(b) }, ErrMetaCorrupt},
		{"extent size too small", func(b []byte) { le.PutUint32(b[16:], MinExtentSize/2); resealMeta(b) }, ErrMetaCorrupt},
		{"extent size too large", func(b []byte) { le.PutUint32(b[16:], MaxExtentSize*2); resealMeta(b) }, ErrMetaCorrupt},
		{"extent size not a power of two", func(b []byte) { le.PutUint32(b[16:], 3*MinExtentSize); resealMeta(b) }, ErrMetaCorrupt},
		{"checksum", func(b []byte) { le.PutUint32(b[124:], le.Uint32(b[124:])+1) }, ErrMetaCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m0 := sampleMeta()
			b := m0.AppendTo(nil)
			tt.edit(b)
			if _, err := DecodeMeta(b); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// The bounds themselves are valid.
	for _, size := range []uint32{MinExtentSize, DefaultExtentSize, MaxExtentSize} {
		m := sampleMeta()
		m.ExtentSize = size
		if got, err := DecodeMeta(m.AppendTo(nil)); err != nil || got.ExtentSize != size {
			t.Fatalf("extent size %d: %+v, %v", size, got, err)
		}
	}
}

func TestValidExtentSize(t *testing.T) {
	for _, tt := range []struct {
		size uint32
		ok   bool
	}{
		{0, false}, {1, false}, {MinExtentSize - 1, false}, {MinExtentSize, true}, {MinExtentSize + 1, false},
		{3 << 16, false}, {DefaultExtentSize, true}, {MaxExtentSize, true}, {MaxExtentSize + 1, false},
		{MaxExtentSize << 1, false}, {^uint32(0), false},
	} {
		if err := ValidExtentSize(tt.size); (err == nil) != tt.ok {
			t.Errorf("ValidExtentSize(%d) = %v, want ok %v", tt.size, err, tt.ok)
		}
	}
}

func TestJournalOrigin(t *testing.T) {
	a, b := [16]byte{1}, [16]byte{2}
	if JournalOrigin(a) == JournalOrigin(b) {
		t.Fatalf("two file ids give the same journal origin %08x", JournalOrigin(a))
	}
	if JournalOrigin(a) != Checksum(a[:]) {
		t.Fatalf("JournalOrigin is not the checksum of the file id")
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
