package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/spooldb/spool/internal/format"
)

// compressZeros compresses n zero bytes with c, streaming them so that the
// test never holds n bytes.
func compressZeros(t testing.TB, c format.Compression, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch c {
	case format.CompressionGzip:
		w, _ = gzip.NewWriterLevel(&b, gzip.BestCompression)
	case format.CompressionLZ4:
		w = lz4.NewWriter(&b) // 4 MiB blocks, the default: fewer bytes per GiB
	case format.CompressionZstd:
		zw, err := zstd.NewWriter(&b, zstd.WithEncoderCRC(false))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	case format.CompressionSnappy:
		// One framed 32 KiB block of zeros, repeated.
		b.Write(xerialHeader)
		block := s2.EncodeSnappy(nil, make([]byte, xerialBlockSize))
		for range n / xerialBlockSize {
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			b.Write(block)
		}
		if rest := n % xerialBlockSize; rest > 0 {
			block := s2.EncodeSnappy(nil, make([]byte, rest))
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			b.Write(block)
		}
		return b.Bytes()
	}
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zeros) {
		if _, err := w.Write(zeros[:min(left, len(zeros))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// allocated runs f and returns how many bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// zstdRLEBomb builds a zstd frame of n bytes of zeros from RLE blocks of
// 128 KiB, 4 bytes each: no content size, a 128 KiB window. It costs
// nothing to build, so it can describe far more than a test could
// compress.
func zstdRLEBomb(n int64) []byte {
	const block = 128 << 10
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3} // magic, FHD, window 2^17
	for left := n; left > 0; left -= block {
		size := min(left, block)
		hdr := uint32(size)<<3 | 1<<1 // RLE
		if left == size {
			hdr |= 1 // last block
		}
		out = append(out, byte(hdr), byte(hdr>>8), byte(hdr>>16), 0)
	}
	return out
}

func TestDecompressionBomb(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compresses twice the limit per codec; test.sh runs it without -race")
	}
	// Twice the limit and a byte proves a decoder stops at the limit, at a
	// quarter of the CPU time of a gibibyte.
	const size = 2*MaxDecompressedSize + 1
	type bomb struct {
		name  string
		c     format.Compression
		in    func() []byte
		bound uint64 // in multiples of the limit
	}
	var bombs []bomb
	for _, c := range codecs {
		// Stream decoders write into a buffer that doubles: the last
		// doubling reaches the limit, the ones before sum to it.
		// zstd: the decoder starts from a buffer of the limit and
		// grows it once, by a quarter, before it fails.
		bombs = append(bombs, bomb{"2xlimit-" + c.String(), c, func() []byte { return compressZeros(t, c, size) }, 3})
	}
	// Frames of RLE blocks state their size: they fail before decoding.
	bombs = append(bombs,
		bomb{"2xlimit-zstd-rle", format.CompressionZstd, func() []byte { return zstdRLEBomb(size) }, 1},
		bomb{"32xlimit-zstd-rle", format.CompressionZstd, func() []byte { return zstdRLEBomb(16 * size) }, 1},
	)
	for _, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			in := b.in()
			var err error
			alloc := allocated(func() { _, err = Decompress(nil, b.c, in) })
			t.Logf("%d compressed bytes: %d bytes allocated (%.1f times the limit), %v",
				len(in), alloc, float64(alloc)/MaxDecompressedSize, err)
			if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v, want ErrTooLarge and ErrCodec", err)
			}
			if alloc > b.bound*MaxDecompressedSize {
				t.Fatalf("allocated %d bytes, more than %d times the %d limit", alloc, b.bound, MaxDecompressedSize)
			}
		})
	}
}

// TestDecompressLimitBoundary checks that the limit is exact: a section
// of MaxDecompressedSize bytes decodes, one byte more does not.
func TestDecompressLimitBoundary(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("decompresses 128 MiB per codec; test.sh runs it without -race")
	}
	for _, c := range codecs {
		in := compressZeros(t, c, MaxDecompressedSize)
		out, err := Decompress(nil, c, in)
		if err != nil || len(out) != MaxDecompressedSize {
			t.Fatalf("%v: %d bytes, %v; want the limit", c, len(out), err)
		}
		out = nil
		in = compressZeros(t, c, MaxDecompressedSize+1)
		if _, err := Decompress(nil, c, in); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v: limit+1: error %v, want ErrTooLarge", c, err)
		}
	}
	// Frames that state their size: zstd single-segment, raw snappy.
	zeros := make([]byte, MaxDecompressedSize+1)
	for _, c := range []format.Compression{format.CompressionZstd, format.CompressionSnappy} {
		var in []byte
		if c == format.CompressionZstd {
			in = compressZstd(nil, zeros)
		} else {
			in = s2.EncodeSnappy(nil, zeros)
		}
		if _, err := Decompress(nil, c, in); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v with stated size: limit+1: error %v, want ErrTooLarge", c, err)
		}
		if _, err := Decompress(nil, c, in[:len(in)-1]); !errors.Is(err, ErrCodec) {
			t.Fatalf("%v: truncated: error %v, want ErrCodec", c, err)
		}
	}
}

// TestLyingClaims feeds headers that claim 1 GiB from a few bytes: they
// must fail before anything near that is allocated.
func TestLyingClaims(t *testing.T) {
	// zstd: single segment, 8-byte content size of 1 GiB, then one RLE
	// block.
	zstdFrame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}
	zstdFrame = binary.LittleEndian.AppendUint64(zstdFrame, 1<<30)
	zstdFrame = append(zstdFrame, 0x23, 0x03, 0, 0) // last, RLE, 100 bytes of 0
	// The same claiming 100 MiB, within the limit: the decoder would
	// allocate it before finding the blocks short.
	zstdFrame100 := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}
	zstdFrame100 = binary.LittleEndian.AppendUint64(zstdFrame100, 100<<20)
	zstdFrame100 = append(zstdFrame100, 0x23, 0x03, 0, 0)
	// snappy: raw block claiming 1 GiB, and a xerial block claiming it.
	raw := append(binary.AppendUvarint(nil, 1<<30), make([]byte, 1000)...)
	xerial := binary.BigEndian.AppendUint32(append([]byte{}, xerialHeader...), uint32(len(raw)))
	xerial = append(xerial, raw...)
	// lz4: a frame whose content size field says 1 GiB, with one tiny
	// block: the decoder must not trust the field.
	lz4Frame := kafkaLZ4([]byte("tiny"), kafkaLZ4Options{contentSize: true})
	binary.LittleEndian.PutUint64(lz4Frame[6:], 1<<30)
	lz4Frame[14] = byte(xxh32(lz4Frame[4:14], 0) >> 8)
	for name, tc := range map[string]struct {
		c  format.Compression
		in []byte
	}{
		"zstd content size":      {format.CompressionZstd, zstdFrame},
		"zstd content size 100M": {format.CompressionZstd, zstdFrame100},
		"snappy raw":             {format.CompressionSnappy, raw},
		"snappy xerial":          {format.CompressionSnappy, xerial},
		"lz4 content size":       {format.CompressionLZ4, lz4Frame},
	} {
		var err error
		alloc := allocated(func() { _, err = Decompress(nil, tc.c, tc.in) })
		if !errors.Is(err, ErrCodec) {
			t.Errorf("%s: error %v, want ErrCodec", name, err)
		}
		if alloc > 8<<20 {
			t.Errorf("%s: allocated %d bytes", name, alloc)
		}
		t.Logf("%s: %v, %d bytes allocated", name, err, alloc)
	}
}

// TestZstdLargeWindowMemory checks that a small section in a frame that
// declares a 128 MiB window, as the Java producer writes at zstd level 22,
// decodes without allocating the window.
func TestZstdLargeWindowMemory(t *testing.T) {
	var b bytes.Buffer
	zw, _ := zstd.NewWriter(&b, zstd.WithWindowSize(1<<27), zstd.WithEncoderCRC(false))
	src := bytes.Repeat([]byte(`{"id":1,"name":"x"}`), 1000)
	zw.Write(src)
	zw.Close()
	var out []byte
	var err error
	Decompress(nil, format.CompressionZstd, b.Bytes()) // warm the decoder
	alloc := allocated(func() { out, err = Decompress(nil, format.CompressionZstd, b.Bytes()) })
	if err != nil || !bytes.Equal(out, src) {
		t.Fatalf("round trip failed: %v", err)
	}
	if alloc > 4<<20 {
		t.Fatalf("allocated %d bytes for a %d byte section", alloc, len(src))
	}
}
