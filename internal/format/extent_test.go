package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// genExtentHeader draws a header of a kind in use, with any other field values.
func genExtentHeader(t *rapid.T) ExtentHeader {
	return ExtentHeader{
		Kind:       ExtentKind(rapid.IntRange(int(KindJournal), int(KindCheckpoint)).Draw(t, "kind")),
		Generation: rapid.Uint64().Draw(t, "generation"),
		Topic:      rapid.Uint32().Draw(t, "topic"),
		Partition:  rapid.Uint32().Draw(t, "partition"),
		Base:       rapid.Int64().Draw(t, "base"),
	}
}

func sampleExtentHeader() ExtentHeader {
	return ExtentHeader{Kind: KindData, Generation: 0x0102030405060708, Topic: 9, Partition: 3, Base: 123456789}
}

// resealExtentHeader rewrites the checksum of the header at the start of b.
func resealExtentHeader(b []byte) {
	binary.LittleEndian.PutUint32(b[ExtentHeaderSize-4:], Checksum(b[:ExtentHeaderSize-4]))
}

func TestExtentHeaderRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genExtentHeader(t)
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "prefix")
		b := h.AppendTo(bytes.Clone(prefix))
		if len(b) != len(prefix)+ExtentHeaderSize || !bytes.Equal(b[:len(prefix)], prefix) {
			t.Fatalf("AppendTo wrote %d bytes after a prefix of %d", len(b)-len(prefix), len(prefix))
		}
		enc := b[len(prefix):]
		if string(enc[:4]) != "SPEX" || enc[4] != byte(h.Kind) || !isZero(enc[5:8]) || !isZero(enc[32:60]) {
			t.Fatalf("layout: % x", enc)
		}
		got, err := DecodeExtentHeader(enc)
		if err != nil {
			t.Fatalf("DecodeExtentHeader: %v", err)
		}
		if got != h {
			t.Fatalf("decoded %+v, want %+v", got, h)
		}
		// Decoding the start of a whole extent ignores the payload after it.
		long := append(bytes.Clone(enc), 0xff, 0xff)
		if got, err := DecodeExtentHeader(long); err != nil || got != h {
			t.Fatalf("with payload after it: %+v, %v", got, err)
		}
		if again := got.AppendTo(nil); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding differs:\n% x\n% x", again, enc)
		}
	})
}

func TestExtentHeaderBitFlips(t *testing.T) {
	h0 := sampleExtentHeader()
	enc := h0.AppendTo(nil)
	for i := range ExtentHeaderSize {
		for bit := range 8 {
			b := bytes.Clone(enc)
			b[i] ^= 1 << bit
			if h, err := DecodeExtentHeader(b); !errors.Is(err, ErrExtentHeader) {
				t.Fatalf("byte %d bit %d flipped: %+v, %v", i, bit, h, err)
			}
		}
	}
}

func TestExtentHeaderTruncated(t *testing.T) {
	h0 := sampleExtentHeader()
	enc := h0.AppendTo(nil)
	for n := range ExtentHeaderSize {
		if _, err := DecodeExtentHeader(enc[:n]); !errors.Is(err, ErrExtentHeader) {
			t.Fatalf("%d bytes: %v, want ErrExtentHeader", n, err)
		}
	}
}

func TestExtentHeaderKinds(t *testing.T) {
	// A never-written extent reads as zeros.
	if _, err := DecodeExtentHeader(make([]byte, ExtentHeaderSize)); !errors.Is(err, ErrExtentHeader) {
		t.Fatalf("zeros: %v", err)
	}
	for k := range 256 {
		h0 := sampleExtentHeader()
		b := h0.AppendTo(nil)
		b[4] = byte(k)
		resealExtentHeader(b)
		h, err := DecodeExtentHeader(b)
		valid := ExtentKind(k) == KindJournal || ExtentKind(k) == KindData || ExtentKind(k) == KindCheckpoint
		if valid && (err != nil || h.Kind != ExtentKind(k)) {
			t.Fatalf("kind %d: %+v, %v", k, h, err)
		}
		if !valid && !errors.Is(err, ErrExtentHeader) {
			t.Fatalf("kind %d accepted: %+v, %v", k, h, err)
		}
	}
}

func TestExtentKindString(t *testing.T) {
	for k, want := range map[ExtentKind]string{KindFree: "free", KindJournal: "journal", KindData: "data",
		KindCheckpoint: "checkpoint", 9: "kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("ExtentKind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestExtentOffset(t *testing.T) {
	if got := ExtentOffset(0, MinExtentSize); got != ExtentsStart {
		t.Fatalf("extent 0 at %d, want %d", got, ExtentsStart)
	}
	// The largest extent number of the largest extents does not overflow.
	if got, want := ExtentOffset(NoExtent-1, MaxExtentSize), int64(ExtentsStart)+int64(NoExtent-1)*MaxExtentSize; got != want || got < 0 {
		t.Fatalf("last extent at %d, want %d", got, want)
	}
}
