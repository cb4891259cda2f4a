package codec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/spooldb/spool/internal/format"
)

// benchSection returns the records section of a 1 MiB batch of 100-byte
// JSON-like values, with a fixed seed so that runs compare.
func benchSection(b *testing.B) []byte {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	events := []string{"click", "view", "purchase", "logout"}
	var bb format.BatchBuilder
	bb.Reset(1_700_000_000_000)
	for i := 0; bb.Size() < 1<<20-200; i++ {
		v := fmt.Sprintf(`{"id":%d,"user":"%s","event":"%s","amount":%d.%02d,"ts":%d}`,
			i, names[r.IntN(len(names))], events[r.IntN(len(events))], r.IntN(1000), r.IntN(100), 1_700_000_000_000+int64(i))
		for len(v) < 100 {
			v += " "
		}
		bb.Append(1_700_000_000_000+int64(i), nil, []byte(v[:100]))
	}
	return bb.Build(nil)[format.BatchHeaderSize:]
}

func BenchmarkCompress(b *testing.B) {
	src := benchSection(b)
	for _, c := range codecs {
		b.Run(c.String(), func(b *testing.B) {
			dst, _ := Compress(nil, c, src)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = Compress(dst[:0], c, src)
			}
			// After the loop: b.Loop's timer reset drops metrics.
			b.ReportMetric(float64(len(src))/float64(len(dst)), "ratio")
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	src := benchSection(b)
	// A zstd frame as the Java producer streams it, without a content
	// size, beside spool's own, which states it.
	var stream bytes.Buffer
	zw, _ := zstd.NewWriter(&stream, zstd.WithEncoderCRC(false), zstd.WithWindowSize(2<<20))
	zw.Write(src)
	zw.Close()
	inputs := []struct {
		name string
		c    format.Compression
		in   []byte
	}{{"zstd-stream", format.CompressionZstd, stream.Bytes()}}
	for _, c := range codecs {
		in, _ := Compress(nil, c, src)
		inputs = append(inputs, struct {
			name string
			c    format.Compression
			in   []byte
		}{c.String(), c, in})
	}
	for _, in := range inputs {
		c, compressed := in.c, in.in
		b.Run(in.name, func(b *testing.B) {
			dst, err := Decompress(nil, c, compressed)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = Decompress(dst[:0], c, compressed)
			}
		})
	}
}
