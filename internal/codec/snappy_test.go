package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/spooldb/spool/internal/format"
)

// javaSnappy frames src as snappy-java's SnappyOutputStream does, built
// here from its documented layout rather than with package code: the magic
// 0x82 "SNAPPY" 0x00, version and minimum compatible version as big-endian
// int32s, then per blockSize bytes of input a big-endian int32 length and a
// raw snappy block (Snappy.compress).
func javaSnappy(src []byte, blockSize int) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(src) > 0 {
		n := min(blockSize, len(src))
		block := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

func TestSnappyXerialAndRaw(t *testing.T) {
	r := newRand(t)
	for _, size := range []int{1, 100, 32 << 10, 32<<10 + 1, 1 << 20} {
		src := randomBytes(r, size, false)
		inputs := map[string][]byte{
			// Java's default block size, and others a Java producer
			// can be configured with (compression.snappy.block.size
			// is not a Kafka setting, but snappy-java takes any).
			"xerial 32KiB": javaSnappy(src, 32<<10),
			"xerial 1KiB":  javaSnappy(src, 1<<10),
			"xerial 1MiB":  javaSnappy(src, 1<<20),
			// librdkafka, Sarama and franz-go's whole-batch path.
			"raw":        s2.EncodeSnappy(nil, src),
			"raw better": s2.EncodeSnappyBetter(nil, src),
			// snappy-java's reader skips the header of a second
			// stream appended to the first.
			"xerial concatenated": append(javaSnappy(src[:size/2], 32<<10), javaSnappy(src[size/2:], 32<<10)...),
		}
		for name, in := range inputs {
			out, err := Decompress([]byte("pre"), format.CompressionSnappy, in)
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, name, err)
			}
			if !bytes.Equal(out[3:], src) || string(out[:3]) != "pre" {
				t.Fatalf("%d bytes, %s: round trip differs", size, name)
			}
		}
	}
}

func TestSnappyOwnOutputIsJavaFraming(t *testing.T) {
	r := newRand(t)
	src := randomBytes(r, 100<<10+7, false)
	got, _ := Compress(nil, format.CompressionSnappy, src)
	// Block boundaries and the encoder are the same, so the bytes are.
	if want := javaSnappy(src, xerialBlockSize); !bytes.Equal(got, want) {
		t.Fatalf("spool's snappy output differs from the Java layout built by hand")
	}
}

func TestSnappyEdgeCases(t *testing.T) {
	header := javaSnappy(nil, 1)
	ok := map[string][]byte{
		"header only":    header, // SnappyOutputStream closed without writes
		"raw empty":      {0},    // what Compress writes for nothing
		"two headers":    append(header, header...),
		"header, 2 more": append(append([]byte{}, header...), 0, 0), // see below
		// snappy-java checks the versions of concatenated headers only.
		"first version 0": append(append([]byte{}, header[:8]...), 0, 0, 0, 0, 0, 0, 0, 0),
	}
	for name, in := range ok {
		out, err := Decompress(nil, format.CompressionSnappy, in)
		if err != nil || len(out) != 0 {
			t.Errorf("%s: got %q, %v; want empty", name, out, err)
		}
	}
	block := s2.EncodeSnappy(nil, []byte("hello hello hello"))
	framed := binary.BigEndian.AppendUint32(append([]byte{}, header...), uint32(len(block)))
	framed = append(framed, block...)
	// snappy-java takes up to three bytes after the last block, or 16
	// that start like a header but are not one, for the end of the
	// stream, and ignores the rest.
	for name, tail := range map[string][]byte{
		"1 byte":        {0},
		"3 bytes":       {1, 2, 3},
		"bad 2nd magic": append(append([]byte{}, header[:4]...), []byte("garbage garbage garbage")...),
	} {
		out, err := Decompress(nil, format.CompressionSnappy, append(append([]byte{}, framed...), tail...))
		if err != nil || string(out) != "hello hello hello" {
			t.Errorf("%s after the last block: got %q, %v", name, out, err)
		}
	}
	bad := map[string][]byte{
		"empty":              {}, // snappy-java 1.1.10: "Cannot decompress empty stream"
		"raw garbage":        []byte("not snappy at all"),
		"zero length block":  append(append([]byte{}, header...), 0, 0, 0, 0),
		"negative length":    append(append([]byte{}, header...), 0xff, 0xff, 0xff, 0xff),
		"block past the end": framed[:len(framed)-1],
		"short 2nd header":   append(append([]byte{}, framed...), header[:12]...),
		"2nd version 0":      append(append(append([]byte{}, framed...), header[:8]...), make([]byte, 8)...),
		// A block that claims 1 MiB from 5 bytes.
		"raw inflated claim": {0x80, 0x80, 0x40, 0, 0},
		// S2's repeat-offset extension: a copy with offset 0, which
		// standard snappy (and so snappy-java) rejects.
		"s2 repeat": {11, 0x08, 'a', 'b', 'c', 0x01, 0x03, 0x01, 0x00},
	}
	for name, in := range bad {
		if _, err := Decompress(nil, format.CompressionSnappy, in); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: error %v, want ErrCodec", name, err)
		}
	}
	// The S2 input above is one: s2 itself decodes it.
	if out, err := s2.Decode(nil, bad["s2 repeat"]); err != nil || string(out) != "abcabcabcab" {
		t.Fatalf("s2 repeat test vector is wrong: %q, %v", out, err)
	}
}
