package codec

import (
	"bytes"
	"testing"

	"github.com/spooldb/spool/internal/format"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoCodecs pairs each codec with franz-go's option for it.
var kgoCodecs = map[format.Compression]kgo.CompressionCodec{
	format.CompressionGzip:   kgo.GzipCompression(),
	format.CompressionSnappy: kgo.SnappyCompression(),
	format.CompressionLZ4:    kgo.Lz4Compression(),
	format.CompressionZstd:   kgo.ZstdCompression(),
}

// TestFranzGo cross-checks against franz-go's exported default compressor
// and decompressor, the ones its client uses: spool reads what franz-go
// writes and franz-go reads what spool writes, for records sections of
// real batches.
func TestFranzGo(t *testing.T) {
	r := newRand(t)
	dec := kgo.DefaultDecompressor()
	for _, c := range codecs {
		comp, err := kgo.DefaultCompressor(kgoCodecs[c])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 10, 500} {
			recs := randomRecords(r, n)
			var bb format.BatchBuilder
			bb.Reset(1_700_000_000_000)
			for _, rec := range recs {
				bb.Append(rec.ts, rec.key, rec.value, rec.headers...)
			}
			section := bb.Build(nil)[format.BatchHeaderSize:]

			// franz-go compresses, spool decompresses.
			theirs, used := comp.Compress(new(bytes.Buffer), section)
			if used != kgo.CompressionCodecType(c) {
				t.Fatalf("%v: franz-go compressed with codec %d", c, used)
			}
			out, err := Decompress(nil, c, theirs)
			if err != nil || !bytes.Equal(out, section) {
				t.Fatalf("%v, %d records: spool failed on franz-go's output: %v", c, n, err)
			}
			// And as a whole batch, through Records.
			batch, err := bb.BuildCompressed(nil, c, func(dst, _ []byte) ([]byte, error) {
				return append(dst, theirs...), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, batch, recs, nil)

			// spool compresses, franz-go decompresses.
			ours, err := Compress(nil, c, section)
			if err != nil {
				t.Fatal(err)
			}
			out, err = dec.Decompress(ours, kgo.CompressionCodecType(c))
			if err != nil || !bytes.Equal(out, section) {
				t.Fatalf("%v, %d records: franz-go failed on spool's output: %v", c, n, err)
			}
		}
	}
}

// TestFranzGoSnappyIsRaw records what franz-go's whole-batch compressor
// writes for snappy, the unframed block that spool must also read.
func TestFranzGoSnappyIsRaw(t *testing.T) {
	comp, _ := kgo.DefaultCompressor(kgo.SnappyCompression())
	out, _ := comp.Compress(new(bytes.Buffer), bytes.Repeat([]byte("x"), 100<<10))
	if bytes.HasPrefix(out, xerialMagic[:]) {
		t.Skip("franz-go now writes xerial framing for whole batches")
	}
	if _, err := Decompress(nil, format.CompressionSnappy, out); err != nil {
		t.Fatal(err)
	}
}

// TestFranzGoEmptySnappy backs Compress's choice for an empty section: a
// raw empty block, because franz-go cannot read a bare xerial header.
func TestFranzGoEmptySnappy(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	if _, err := dec.Decompress(xerialHeader, kgo.CodecSnappy); err == nil {
		t.Log("franz-go now reads a bare xerial header; Compress could write one")
	}
	ours, _ := Compress(nil, format.CompressionSnappy, nil)
	if out, err := dec.Decompress(ours, kgo.CodecSnappy); err != nil || len(out) != 0 {
		t.Fatalf("franz-go on spool's empty snappy section: %q, %v", out, err)
	}
}
