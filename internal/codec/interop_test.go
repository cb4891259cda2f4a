package codec

import (
	"bytes"
	"compress/flate"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/spooldb/spool/internal/format"
)

// The tests here build each codec's input the way Kafka's Java client
// lays it out, from the formats' specifications and with the reference
// block coders, and read spool's output with readers written the same way,
// independent of the package's own framing code.

// xxh32 is XXH32 as the xxHash specification defines it; LZ4 frames use
// it for their header, block and content checksums.
func xxh32(b []byte, seed uint32) uint32 {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	round := func(acc, lane uint32) uint32 { return bits.RotateLeft32(acc+lane*p2, 13) * p1 }
	n := uint32(len(b))
	var h uint32
	if len(b) >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, binary.LittleEndian.Uint32(b))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = seed + p5
	}
	h += n
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

func TestXXH32Vectors(t *testing.T) {
	// From the xxHash reference implementation's sanity checks.
	for _, tc := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0x02CC5D05},
		{"a", 0, 0x550D7456},
		{"abc", 0, 0x32D153FF},
		{"Nobody inspects the spammish repetition", 0, 0xE2293B2F},
	} {
		if got := xxh32([]byte(tc.in), tc.seed); got != tc.want {
			t.Errorf("xxh32(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

// kafkaLZ4Options select the frame features Kafka's Lz4BlockOutputStream
// writes (all false, 64 KiB) or that other writers may add.
type kafkaLZ4Options struct {
	blockSizeID     int // BD: 4 = 64 KiB ... 7 = 4 MiB
	blockChecksum   bool
	contentChecksum bool
	contentSize     bool
	brokenHC        bool // Kafka 0.8's header checksum over the magic too
	linked          bool // clear the block independence flag
}

// kafkaLZ4 writes src as one LZ4 frame laid out as the LZ4 frame format
// specification and Kafka's Lz4BlockOutputStream describe: magic, FLG, BD,
// optional content size, header checksum, then per block a little-endian
// length (high bit set for a stored block), the data and an optional block
// checksum, then a zero end mark and an optional content checksum.
func kafkaLZ4(src []byte, o kafkaLZ4Options) []byte {
	if o.blockSizeID == 0 {
		o.blockSizeID = 4
	}
	flg := byte(0x40)
	if !o.linked {
		flg |= 0x20
	}
	if o.blockChecksum {
		flg |= 0x10
	}
	if o.contentSize {
		flg |= 0x08
	}
	if o.contentChecksum {
		flg |= 0x04
	}
	out := binary.LittleEndian.AppendUint32(nil, 0x184D2204)
	out = append(out, flg, byte(o.blockSizeID<<4))
	if o.contentSize {
		out = binary.LittleEndian.AppendUint64(out, uint64(len(src)))
	}
	hcFrom := 4
	if o.brokenHC {
		hcFrom = 0
	}
	out = append(out, byte(xxh32(out[hcFrom:], 0)>>8))
	blockMax := 1 << (2*o.blockSizeID + 8)
	buf := make([]byte, lz4.CompressBlockBound(blockMax))
	for rest := src; len(rest) > 0; {
		block := rest[:min(blockMax, len(rest))]
		rest = rest[len(block):]
		n, err := lz4.CompressBlock(block, buf, nil)
		data, size := buf[:n], uint32(n)
		if err != nil || n == 0 || n >= len(block) {
			data, size = block, uint32(len(block))|0x80000000
		}
		out = binary.LittleEndian.AppendUint32(out, size)
		out = append(out, data...)
		if o.blockChecksum {
			out = binary.LittleEndian.AppendUint32(out, xxh32(data, 0))
		}
	}
	out = binary.LittleEndian.AppendUint32(out, 0)
	if o.contentChecksum {
		out = binary.LittleEndian.AppendUint32(out, xxh32(src, 0))
	}
	return out
}

// readKafkaLZ4 reads one LZ4 frame as Kafka's Lz4BlockInputStream does for
// magic v2 batches: it checks FLG and BD as its FLG and BD classes do
// (version 1, independent blocks, reserved bits clear, block size 4 to 7)
// and the header checksum, and decodes blocks up to the end mark.
func readKafkaLZ4(in []byte) ([]byte, error) {
	if len(in) < 7 || binary.LittleEndian.Uint32(in) != 0x184D2204 {
		return nil, errors.New("bad magic")
	}
	flg, bd := in[4], in[5]
	switch {
	case flg&3 != 0 || flg>>6 != 1 || flg&0x20 == 0:
		return nil, fmt.Errorf("FLG %#x unsupported", flg)
	case bd&0x8f != 0 || bd>>4 < 4:
		return nil, fmt.Errorf("BD %#x unsupported", bd)
	}
	p := 6
	if flg&0x08 != 0 {
		p += 8
	}
	if len(in) <= p || in[p] != byte(xxh32(in[4:p], 0)>>8) {
		return nil, errors.New("header checksum")
	}
	p++
	blockMax := 1 << (2*int(bd>>4) + 8)
	var out []byte
	for {
		if len(in)-p < 4 {
			return nil, io.ErrUnexpectedEOF
		}
		size := binary.LittleEndian.Uint32(in[p:])
		p += 4
		if size == 0 {
			return out, nil
		}
		n := int(size &^ 0x80000000)
		if n > blockMax || len(in)-p < n {
			return nil, fmt.Errorf("block of %d bytes", n)
		}
		data := in[p : p+n]
		p += n
		if size&0x80000000 != 0 {
			out = append(out, data...)
		} else {
			buf := make([]byte, blockMax)
			m, err := lz4.UncompressBlock(data, buf)
			if err != nil {
				return nil, err
			}
			out = append(out, buf[:m]...)
		}
		if flg&0x10 != 0 {
			p += 4
		}
	}
}

func TestLZ4KafkaFrames(t *testing.T) {
	r := newRand(t)
	for _, size := range []int{0, 1, 1000, 64 << 10, 64<<10 + 1, 300 << 10} {
		src := randomBytes(r, size, false)
		// Random bytes from a small alphabet compress; add a stretch
		// that does not, for the stored-block path.
		for i := range src[:size/4] {
			src[i] = byte(r.Uint32())
		}
		for name, o := range map[string]kafkaLZ4Options{
			"java default":     {},
			"block checksum":   {blockChecksum: true},
			"content checksum": {contentChecksum: true},
			"content size":     {contentSize: true, contentChecksum: true},
			"4 MiB blocks":     {blockSizeID: 7},
			"256 KiB blocks":   {blockSizeID: 5, blockChecksum: true},
		} {
			in := kafkaLZ4(src, o)
			out, err := Decompress(nil, format.CompressionLZ4, in)
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("%d bytes, %s: round trip failed: %v", size, name, err)
			}
		}
		// And spool's own output reads as Java reads it.
		ours, _ := Compress(nil, format.CompressionLZ4, src)
		out, err := readKafkaLZ4(ours)
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("%d bytes: Kafka-style reader failed on spool's frame: %v", size, err)
		}
	}
}

func TestLZ4RejectsWhatKafkaRejects(t *testing.T) {
	src := bytes.Repeat([]byte("some records "), 1000)
	frame := kafkaLZ4(src, kafkaLZ4Options{})
	for name, in := range map[string][]byte{
		// Magic 0 and 1 message sets only: v2 batches carry a right one.
		"kafka 0.8 header checksum": kafkaLZ4(src, kafkaLZ4Options{brokenHC: true}),
		"linked blocks":             kafkaLZ4(src, kafkaLZ4Options{linked: true}),
		"legacy frame":              append([]byte{0x02, 0x21, 0x4c, 0x18}, make([]byte, 8)...),
		"skippable frame":           append([]byte{0x50, 0x2a, 0x4d, 0x18}, make([]byte, 8)...),
		"truncated":                 frame[:len(frame)/2],
		"no end mark":               frame[:len(frame)-4],
		"empty":                     {},
	} {
		if _, err := Decompress(nil, format.CompressionLZ4, in); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: error %v, want ErrCodec", name, err)
		}
	}
	// Kafka's reader stops at the first frame's end mark: what follows,
	// another frame or garbage, is ignored.
	for _, o := range []kafkaLZ4Options{{}, {blockChecksum: true, contentChecksum: true, contentSize: true}} {
		first := kafkaLZ4(src, o)
		for _, tail := range [][]byte{[]byte("garbage"), kafkaLZ4([]byte("second frame"), o)} {
			out, err := Decompress(nil, format.CompressionLZ4, append(append([]byte{}, first...), tail...))
			if err != nil || !bytes.Equal(out, src) {
				t.Errorf("frame followed by %q: %v", tail, err)
			}
		}
	}
	// The content checksum, when present, is checked.
	in := kafkaLZ4(src, kafkaLZ4Options{contentChecksum: true})
	in[len(in)-1] ^= 1
	if _, err := Decompress(nil, format.CompressionLZ4, in); !errors.Is(err, ErrCodec) {
		t.Errorf("bad content checksum: error %v, want ErrCodec", err)
	}
}

// javaGzip writes src as one gzip member laid out as
// java.util.zip.GZIPOutputStream writes it: a 10-byte header with no
// flags, mtime 0 and OS 0, raw deflate, then CRC-32 and size, little-endian.
func javaGzip(src []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0})
	fw, _ := flate.NewWriter(&b, flate.DefaultCompression)
	fw.Write(src)
	fw.Close()
	b.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(src)))
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(src))))
	return b.Bytes()
}

func TestGzipInterop(t *testing.T) {
	r := newRand(t)
	src := randomBytes(r, 500<<10, false)
	inputs := map[string][]byte{
		"java layout":  javaGzip(src),
		"two members":  append(javaGzip(src[:1000]), javaGzip(src[1000:])...),
		"stdlib gzip":  stdGzip(t, src, "name.txt"),
		"empty member": append(javaGzip(nil), javaGzip(src)...),
	}
	for name, in := range inputs {
		out, err := Decompress(nil, format.CompressionGzip, in)
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("%s: round trip failed: %v", name, err)
		}
	}
	// spool's output through the standard library's reader, another
	// implementation than the one spool uses.
	ours, _ := Compress(nil, format.CompressionGzip, src)
	zr, err := stdgzip.NewReader(bytes.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false) // one member, as Java writes
	out, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(out, src) {
		t.Fatalf("compress/gzip failed on spool's output: %v", err)
	}
	// GZIPInputStream ignores what follows a member when it does not
	// start another.
	for _, tail := range [][]byte{{0}, []byte("garbage"), {0x1f, 0x8b, 8, 0xff}} {
		out, err := Decompress(nil, format.CompressionGzip, append(javaGzip(src), tail...))
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("trailing %q: round trip failed: %v", tail, err)
		}
	}
	bad := javaGzip(src)
	bad[len(bad)-5] ^= 1 // the CRC-32
	if _, err := Decompress(nil, format.CompressionGzip, bad); !errors.Is(err, ErrCodec) {
		t.Fatalf("bad CRC-32: error %v, want ErrCodec", err)
	}
}

func stdGzip(t *testing.T, src []byte, name string) []byte {
	var b bytes.Buffer
	zw, _ := stdgzip.NewWriterLevel(&b, stdgzip.BestSpeed)
	zw.Name = name // FNAME set: a header field Java's reader skips too
	zw.Comment = "comment"
	if _, err := zw.Write(src); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return b.Bytes()
}

func TestZstdInterop(t *testing.T) {
	r := newRand(t)
	src := randomBytes(r, 700<<10, false)
	// zstd-jni's ZstdOutputStream, which Kafka uses, streams: the frame
	// has no content size, and at level 22 declares a 128 MiB window.
	stream := func(opts ...zstd.EOption) []byte {
		var b bytes.Buffer
		zw, err := zstd.NewWriter(&b, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for rest := src; len(rest) > 0; rest = rest[min(len(rest), 16<<10):] {
			zw.Write(rest[:min(len(rest), 16<<10)]) // Kafka's 16 KiB buffered writes
		}
		zw.Close()
		return b.Bytes()
	}
	skippable := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x184D2A50), 3)
	skippable = append(skippable, 1, 2, 3)
	whole, _ := zstd.NewWriter(nil)
	inputs := map[string][]byte{
		"stream":           stream(zstd.WithEncoderCRC(false)),
		"stream with crc":  stream(),
		"128 MiB window":   stream(zstd.WithWindowSize(1<<27), zstd.WithEncoderCRC(false)),
		"single segment":   whole.EncodeAll(src, nil),
		"two frames":       whole.EncodeAll(src[1000:], whole.EncodeAll(src[:1000], nil)),
		"skippable before": whole.EncodeAll(src, skippable),
	}
	var h zstd.Header
	if err := h.Decode(inputs["128 MiB window"]); err != nil || h.WindowSize != 1<<27 || h.HasFCS {
		t.Fatalf("128 MiB window test frame: window %d, content size given %v, %v", h.WindowSize, h.HasFCS, err)
	}
	for name, in := range inputs {
		out, err := Decompress([]byte("pre"), format.CompressionZstd, in)
		if err != nil || !bytes.Equal(out[3:], src) || string(out[:3]) != "pre" {
			t.Fatalf("%s: round trip failed: %v", name, err)
		}
		// The bound that sizes the output buffer holds, and is tight:
		// encoders fill blocks, so only a frame's last one is short.
		b, known, err := zstdBound(in)
		frames := uint64(1)
		if name == "two frames" {
			frames = 2
		}
		if err != nil || !known || b.size < uint64(len(src)) || b.size > uint64(len(src))+frames*zstdMaxBlock {
			t.Fatalf("%s: bound %d (known %v, %v) for %d bytes", name, b.size, known, err, len(src))
		}
	}
	for _, in := range [][]byte{inputs["stream"][:10], inputs["single segment"][:len(inputs["single segment"])-1], {0x28, 0xb5}} {
		if _, known, err := zstdBound(in); known || err != nil {
			t.Fatalf("truncated frame % x...: known %v, %v", in[:min(len(in), 8)], known, err)
		}
	}
	// A frame claiming a window beyond the limit (512 MiB): libzstd's
	// default limit rejects it too.
	frame := stream(zstd.WithWindowSize(1<<29), zstd.WithEncoderCRC(false))
	if err := h.Decode(frame); err != nil || h.WindowSize != 1<<29 {
		t.Fatalf("512 MiB window test frame: window %d, %v", h.WindowSize, err)
	}
	if _, err := Decompress(nil, format.CompressionZstd, frame); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("512 MiB window: error %v, want ErrTooLarge", err)
	}
	bad := inputs["stream with crc"]
	bad[len(bad)-1] ^= 1
	if _, err := Decompress(nil, format.CompressionZstd, bad); !errors.Is(err, ErrCodec) {
		t.Fatalf("bad checksum: error %v, want ErrCodec", err)
	}
}
