package codec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/spooldb/spool/internal/format"
)

// checkDecompress decompresses in after a prefix and checks what any input
// must give: no panic, an error wrapping ErrCodec that leaves dst as it
// was, or output within the limit that survives a round trip through
// Compress.
func checkDecompress(t testing.TB, c format.Compression, in []byte) {
	t.Helper()
	prefix := []byte("prefix")
	dst := append(make([]byte, 0, 64), prefix...)
	out, err := Decompress(dst, c, in)
	if err != nil {
		if !errors.Is(err, ErrCodec) {
			t.Fatalf("%v: error %v does not wrap ErrCodec", c, err)
		}
		if len(out) != len(prefix) || !bytes.Equal(out, prefix) {
			t.Fatalf("%v: failed Decompress returned %d bytes, not dst", c, len(out))
		}
		return
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("%v: Decompress overwrote dst", c)
	}
	got := out[len(prefix):]
	if len(got) > MaxDecompressedSize {
		t.Fatalf("%v: %d bytes out, over the limit", c, len(got))
	}
	if len(got) > 1<<20 {
		return // a round trip of a bomb just short of the limit is slow
	}
	again, err := Compress(nil, c, got)
	if err != nil {
		t.Fatalf("%v: Compress: %v", c, err)
	}
	back, err := Decompress(nil, c, again)
	if err != nil || !bytes.Equal(back, got) {
		t.Fatalf("%v: round trip of decoded output failed: %v", c, err)
	}
}

// fuzzSeeds returns valid inputs for c, from spool and from the hand-built
// Kafka layouts, to start the fuzzer where the decoders do real work.
func fuzzSeeds(c format.Compression) [][]byte {
	plain := [][]byte{
		nil,
		[]byte("a"),
		bytes.Repeat([]byte(`{"id":12,"v":"abc"}`), 50),
		// Several 1 KiB xerial blocks below; kept small, because the
		// fuzzer minimizes every new input it finds, in time that grows
		// fast with its size.
		bytes.Repeat([]byte("0123456789"), 400),
	}
	var seeds [][]byte
	for _, p := range plain {
		out, _ := Compress(nil, c, p)
		seeds = append(seeds, out)
		switch c {
		case format.CompressionSnappy:
			seeds = append(seeds, s2.EncodeSnappy(nil, p), javaSnappy(p, 1<<10))
		case format.CompressionLZ4:
			seeds = append(seeds,
				kafkaLZ4(p, kafkaLZ4Options{blockChecksum: true, contentChecksum: true}),
				kafkaLZ4(p, kafkaLZ4Options{contentSize: true}))
		case format.CompressionGzip:
			seeds = append(seeds, javaGzip(p))
		}
	}
	if c == format.CompressionZstd {
		seeds = append(seeds, zstdRLEBomb(1<<20))
	}
	return seeds
}

func fuzzDecompress(f *testing.F, c format.Compression) {
	for _, s := range fuzzSeeds(c) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecompress(t, c, in) })
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, format.CompressionGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, format.CompressionSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, format.CompressionLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, format.CompressionZstd) }

// FuzzRoundTrip checks that every codec gives back what it was given.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(bytes.Repeat([]byte("records "), 200), uint8(3)) // small: see fuzzSeeds
	f.Fuzz(func(t *testing.T, src []byte, pick uint8) {
		c := codecs[int(pick)%len(codecs)]
		out, err := Compress([]byte("x"), c, src)
		if err != nil {
			t.Fatalf("%v: Compress: %v", c, err)
		}
		back, err := Decompress([]byte("y"), c, out[1:])
		if err != nil || !bytes.Equal(back[1:], src) || back[0] != 'y' {
			t.Fatalf("%v: round trip failed: %v", c, err)
		}
	})
}

// TestCorruptInput damages valid sections, by truncation and by flipped
// bytes, and checks each with checkDecompress: the deterministic
// counterpart of the fuzz targets, run with every go test.
func TestCorruptInput(t *testing.T) {
	r := newRand(t)
	for _, c := range codecs {
		for _, seed := range fuzzSeeds(c) {
			if len(seed) == 0 {
				continue
			}
			for cut := range len(seed) {
				if len(seed) > 2000 && cut%17 != 0 {
					continue
				}
				checkDecompress(t, c, seed[:cut])
			}
			for range 300 {
				in := bytes.Clone(seed)
				for range 1 + r.IntN(4) {
					in[r.IntN(len(in))] ^= byte(1 + r.IntN(255))
				}
				checkDecompress(t, c, in)
			}
		}
		for range 200 {
			junk := make([]byte, r.IntN(300))
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			checkDecompress(t, c, junk)
		}
	}
}
