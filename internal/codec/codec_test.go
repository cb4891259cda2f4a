package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
)

// codecs are the compressed codecs, the ones the tests exercise.
var codecs = []format.Compression{
	format.CompressionGzip,
	format.CompressionSnappy,
	format.CompressionLZ4,
	format.CompressionZstd,
}

// newRand returns a generator seeded from the clock, logging the seed so a
// failure can be replayed by pinning it.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// testRecord is what a test appends to a builder and expects back.
type testRecord struct {
	ts         int64
	key, value []byte
	headers    []format.RecordHeader
}

// randomBytes returns n bytes drawn from a small alphabet, so that they
// compress, or nil (null) now and then.
func randomBytes(r *rand.Rand, n int, nullable bool) []byte {
	if nullable && r.IntN(8) == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefgh{}\":, 0123456789"[r.IntN(24)]
	}
	return b
}

// randomRecords returns records whose sizes vary from empty to a few KiB,
// and now and then one far larger than a 32 KiB snappy or 64 KiB lz4 block.
func randomRecords(r *rand.Rand, n int) []testRecord {
	recs := make([]testRecord, n)
	base := int64(1_700_000_000_000)
	for i := range recs {
		size := r.IntN(200)
		switch r.IntN(20) {
		case 0:
			size = r.IntN(8 << 10)
		case 1:
			size = 70<<10 + r.IntN(100<<10)
		}
		rec := testRecord{
			ts:    base + int64(r.IntN(10_000)) - 5_000,
			key:   randomBytes(r, r.IntN(32), true),
			value: randomBytes(r, size, true),
		}
		for range r.IntN(3) {
			rec.headers = append(rec.headers, format.RecordHeader{
				Key:   randomBytes(r, r.IntN(10), false),
				Value: randomBytes(r, r.IntN(20), true),
			})
		}
		recs[i] = rec
	}
	return recs
}

func buildBatch(t testing.TB, recs []testRecord, c format.Compression) []byte {
	t.Helper()
	var bb format.BatchBuilder
	bb.Reset(1_700_000_000_000)
	for _, rec := range recs {
		bb.Append(rec.ts, rec.key, rec.value, rec.headers...)
	}
	batch, err := bb.BuildCompressed(nil, c, CompressFunc(c))
	if err != nil {
		t.Fatalf("%v: BuildCompressed: %v", c, err)
	}
	return batch
}

// checkRecords decodes batch through Records and NewRecordIterRaw and
// compares it with recs.
func checkRecords(t testing.TB, batch []byte, recs []testRecord, dst []byte) {
	t.Helper()
	h, section, err := Records(dst, batch)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	it := format.NewRecordIterRaw(h, section)
	var r format.BatchRecord
	i := 0
	for it.Next(&r) {
		if i >= len(recs) {
			t.Fatalf("more than %d records", len(recs))
		}
		want := recs[i]
		if r.Offset != int64(i) || r.Timestamp != want.ts {
			t.Fatalf("record %d: offset %d timestamp %d, want %d %d", i, r.Offset, r.Timestamp, i, want.ts)
		}
		if !sameBytes(r.Key, want.key) || !sameBytes(r.Value, want.value) {
			t.Fatalf("record %d: key or value differ", i)
		}
		if len(r.Headers) != len(want.headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(want.headers))
		}
		for j, hd := range r.Headers {
			if !bytes.Equal(hd.Key, want.headers[j].Key) || !sameBytes(hd.Value, want.headers[j].Value) {
				t.Fatalf("record %d: header %d differs", i, j)
			}
		}
		i++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterating: %v", err)
	}
	if i != len(recs) {
		t.Fatalf("%d records, want %d", i, len(recs))
	}
}

// sameBytes is bytes.Equal that also tells null from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestRoundTripBatches(t *testing.T) {
	r := newRand(t)
	counts := []int{0, 1, 2, 10, 100, 1000}
	for _, c := range append([]format.Compression{format.CompressionNone}, codecs...) {
		t.Run(c.String(), func(t *testing.T) {
			var dst []byte
			for _, n := range counts {
				recs := randomRecords(r, n)
				batch := buildBatch(t, recs, c)
				if _, err := format.ValidateBatch(batch); err != nil {
					t.Fatalf("%d records: ValidateBatch: %v", n, err)
				}
				if h, _ := format.ParseBatchHeader(batch); h.Compression() != c {
					t.Fatalf("%d records: batch says %v", n, h.Compression())
				}
				checkRecords(t, batch, recs, dst[:0])
				// And again into a buffer grown by the first call.
				_, section, _ := Records(dst[:0], batch)
				if c != format.CompressionNone {
					dst = section[:0]
				}
				checkRecords(t, batch, recs, dst[:0])
			}
		})
	}
}

func TestDecompressAppends(t *testing.T) {
	r := newRand(t)
	src := randomBytes(r, 300<<10, false)
	prefix := []byte("prefix that must survive")
	for _, c := range codecs {
		compressed, err := Compress(slices.Clone(prefix), c, src)
		if err != nil {
			t.Fatalf("%v: Compress: %v", c, err)
		}
		if !bytes.HasPrefix(compressed, prefix) {
			t.Fatalf("%v: Compress overwrote dst", c)
		}
		compressed = compressed[len(prefix):]
		// Try a dst with no spare room, with too little, and with plenty.
		for _, spare := range []int{0, 100, 1 << 20} {
			dst := append(make([]byte, 0, len(prefix)+spare), prefix...)
			out, err := Decompress(dst, c, compressed)
			if err != nil {
				t.Fatalf("%v: Decompress: %v", c, err)
			}
			if !bytes.HasPrefix(out, prefix) || !bytes.Equal(out[len(prefix):], src) {
				t.Fatalf("%v, spare %d: round trip differs", c, spare)
			}
		}
	}
}

func TestEmptyInput(t *testing.T) {
	for _, c := range codecs {
		compressed, err := Compress(nil, c, nil)
		if err != nil {
			t.Fatalf("%v: Compress: %v", c, err)
		}
		if len(compressed) == 0 {
			t.Fatalf("%v: empty input compressed to nothing", c)
		}
		out, err := Decompress([]byte{}, c, compressed)
		if err != nil || len(out) != 0 {
			t.Fatalf("%v: Decompress(%x) = %q, %v", c, compressed, out, err)
		}
	}
}

func TestNone(t *testing.T) {
	src := []byte("records")
	out, err := Compress([]byte("x"), format.CompressionNone, src)
	if err != nil || string(out) != "xrecords" {
		t.Fatalf("Compress none = %q, %v", out, err)
	}
	out, err = Decompress([]byte("x"), format.CompressionNone, src)
	if err != nil || string(out) != "xrecords" {
		t.Fatalf("Decompress none = %q, %v", out, err)
	}
}

func TestUnknownCodec(t *testing.T) {
	for _, c := range []format.Compression{5, 7, -1} {
		if _, err := Compress(nil, c, []byte("x")); !errors.Is(err, ErrCodec) {
			t.Errorf("Compress(%v) error %v, want ErrCodec", c, err)
		}
		if _, err := Decompress(nil, c, []byte("x")); !errors.Is(err, ErrCodec) {
			t.Errorf("Decompress(%v) error %v, want ErrCodec", c, err)
		}
		if _, err := CompressFunc(c)(nil, []byte("x")); !errors.Is(err, ErrCodec) {
			t.Errorf("CompressFunc(%v) error %v, want ErrCodec", c, err)
		}
	}
}

func TestErrorsNameCodec(t *testing.T) {
	for _, c := range codecs {
		_, err := Decompress(nil, c, []byte("this is no compressed section"))
		if !errors.Is(err, ErrCodec) {
			t.Fatalf("%v: error %v does not wrap ErrCodec", c, err)
		}
		if !bytes.Contains([]byte(err.Error()), []byte(c.String())) {
			t.Fatalf("%v: error %q does not name the codec", c, err)
		}
	}
}

func TestRecordsUncompressedAliases(t *testing.T) {
	recs := []testRecord{{ts: 1, value: []byte("v")}}
	batch := buildBatch(t, recs, format.CompressionNone)
	dst := make([]byte, 0, 64)
	_, section, err := Records(dst, batch)
	if err != nil {
		t.Fatal(err)
	}
	if &section[0] != &batch[format.BatchHeaderSize] || cap(section) != len(section) {
		t.Fatal("uncompressed section is not the batch's own, capped")
	}
}

func TestRecordsErrors(t *testing.T) {
	batch := buildBatch(t, []testRecord{{ts: 1, value: []byte("value")}}, format.CompressionZstd)
	if _, _, err := Records(nil, batch[:len(batch)-1]); !errors.Is(err, format.ErrShortBatch) {
		t.Errorf("truncated batch: %v, want ErrShortBatch", err)
	}
	if _, _, err := Records(nil, append(slices.Clone(batch), 0)); !errors.Is(err, format.ErrBatchCorrupt) {
		t.Errorf("trailing byte: %v, want ErrBatchCorrupt", err)
	}
	if _, _, err := Records(nil, batch[:10]); !errors.Is(err, format.ErrShortBatch) {
		t.Errorf("header only: %v, want ErrShortBatch", err)
	}
	// Damage the compressed section: the codec reports it.
	bad := slices.Clone(batch)
	bad[format.BatchHeaderSize] ^= 0xff
	if _, _, err := Records(nil, bad); !errors.Is(err, ErrCodec) {
		t.Errorf("damaged section: %v, want ErrCodec", err)
	}
	// Codec 5 is not Kafka's.
	bad = slices.Clone(batch)
	binary.BigEndian.PutUint16(bad[21:], 5)
	if _, _, err := Records(nil, bad); !errors.Is(err, ErrCodec) {
		t.Errorf("codec 5: %v, want ErrCodec", err)
	}
}

// TestWireLayout pins the bytes that make each codec's output what Kafka's
// Java producer writes.
func TestWireLayout(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 10<<10) // 160 KiB
	cases := []struct {
		c      format.Compression
		prefix []byte
	}{
		// ID1 ID2 CM=deflate.
		{format.CompressionGzip, []byte{0x1f, 0x8b, 8}},
		{format.CompressionSnappy, xerialHeader},
		// Magic, FLG 0x60 (version 1, independent blocks, no
		// checksums or size), BD 0x40 (64 KiB blocks).
		{format.CompressionLZ4, []byte{0x04, 0x22, 0x4d, 0x18, lz4FrameFlags, 0x40}},
		{format.CompressionZstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	}
	for _, tc := range cases {
		out, err := Compress(nil, tc.c, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, tc.prefix) {
			t.Errorf("%v: starts % x, want % x", tc.c, out[:min(len(out), 16)], tc.prefix)
		}
	}
	// zstd: no content checksum (bit 2 of the frame header descriptor).
	out, _ := Compress(nil, format.CompressionZstd, src)
	if out[4]&0x04 != 0 {
		t.Errorf("zstd: frame has a content checksum, descriptor %#x", out[4])
	}
	// snappy: 32 KiB blocks, so 160 KiB takes five.
	out, _ = Compress(nil, format.CompressionSnappy, src)
	blocks := 0
	for rest := out[xerialHeaderLen:]; len(rest) > 0; blocks++ {
		block, next, err := nextXerialBlock(rest)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := snappyDecodedLen(block); n > xerialBlockSize {
			t.Fatalf("snappy block decodes to %d bytes", n)
		}
		rest = next
	}
	if blocks != 5 {
		t.Errorf("snappy: %d blocks, want 5", blocks)
	}
}

func TestCompressFuncAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	if n := testing.AllocsPerRun(10, func() { _ = CompressFunc(format.CompressionZstd) }); n != 0 {
		t.Errorf("CompressFunc allocates %v times", n)
	}
}

// TestSteadyStateAllocs checks that the pools work: with a reused dst,
// compressing and decompressing allocate (almost) nothing.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	r := newRand(t)
	src := randomBytes(r, 200<<10, false)
	for _, c := range codecs {
		compressed, _ := Compress(nil, c, src)
		cbuf := make([]byte, 0, 2*len(src))
		dbuf := make([]byte, 0, 2*len(src))
		// Warm the pools.
		for range 3 {
			cbuf, _ = Compress(cbuf[:0], c, src)
			dbuf, _ = Decompress(dbuf[:0], c, compressed)
		}
		ca := testing.AllocsPerRun(20, func() { cbuf, _ = Compress(cbuf[:0], c, src) })
		da := testing.AllocsPerRun(20, func() { dbuf, _ = Decompress(dbuf[:0], c, compressed) })
		t.Logf("%v: %.1f allocs per Compress, %.1f per Decompress", c, ca, da)
		// sync.Pool may drop an item on GC; a few allocations on
		// average are the pool refilling, not a leak per call.
		if ca > 2 || da > 2 {
			t.Errorf("%v: %.1f allocs per Compress, %.1f per Decompress", c, ca, da)
		}
	}
}

func ExampleRecords() {
	var bb format.BatchBuilder
	bb.Reset(1_700_000_000_000)
	bb.Append(1_700_000_000_000, []byte("k"), []byte("hello"))
	batch, err := bb.BuildCompressed(nil, format.CompressionZstd, CompressFunc(format.CompressionZstd))
	if err != nil {
		panic(err)
	}

	var buf []byte
	h, recs, err := Records(buf[:0], batch)
	if err != nil {
		panic(err)
	}
	if h.Compression() != format.CompressionNone {
		buf = recs[:0] // keep the grown buffer for the next batch
	}
	it := format.NewRecordIterRaw(h, recs)
	var r format.BatchRecord
	for it.Next(&r) {
		fmt.Printf("%d %s=%s\n", r.Offset, r.Key, r.Value)
	}
	if err := it.Err(); err != nil {
		panic(err)
	}
	_ = buf
	// Output: 0 k=hello
}

// TestNoGoroutines checks that the shared zstd coders and the pooled lz4
// ones run in the caller's goroutine: none is left behind.
func TestNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, c := range codecs {
		out, _ := Compress(nil, c, []byte("hello hello"))
		if _, err := Decompress(nil, c, out); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines before, %d after", before, after)
	}
}

// TestConcurrent runs every codec from several goroutines at once, for the
// pools and the shared zstd coders (run it with -race).
func TestConcurrent(t *testing.T) {
	r := newRand(t)
	srcs := make([][]byte, 8)
	for i := range srcs {
		srcs[i] = randomBytes(r, 1+r.IntN(100<<10), false)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var cbuf, dbuf []byte
			for i := range 50 {
				c := codecs[(g+i)%len(codecs)]
				src := srcs[(g*7+i)%len(srcs)]
				var err error
				if cbuf, err = Compress(cbuf[:0], c, src); err != nil {
					t.Error(err)
					return
				}
				if dbuf, err = Decompress(dbuf[:0], c, cbuf); err != nil || !bytes.Equal(dbuf, src) {
					t.Errorf("%v: round trip failed: %v", c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
