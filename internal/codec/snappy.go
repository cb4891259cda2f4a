package codec

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

// xerialMagic opens a stream written by snappy-java's SnappyOutputStream,
// which Kafka's Java producer uses (snappy-java's SnappyCodec.MAGIC_HEADER).
var xerialMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeader is the magic followed by the big-endian stream version and
// minimum compatible version, both 1, as snappy-java writes them.
var xerialHeader = append(xerialMagic[:], 0, 0, 0, 1, 0, 0, 0, 1)

// xerialHeaderLen is the size of xerialHeader. snappy-java reads a stream
// shorter than this, or not starting with the magic, as one raw block.
const xerialHeaderLen = 16

// xerialBlockSize is how much input goes into one framed block:
// snappy-java's default. Kafka's producers have used other sizes over the
// years; readers take any.
const xerialBlockSize = 32 << 10

// snappyMaxRatio bounds how many bytes a standard snappy block can decode
// to per byte of input: its longest copy, 64 bytes, takes a 3-byte tag.
// A block claiming more is corrupt; rejecting it up front keeps a few bytes
// from claiming, and making us allocate, up to MaxDecompressedSize.
const snappyMaxRatio = 22

var errXerial = errors.New("malformed xerial snappy framing")

// compressSnappy appends src in xerial framing (see Compress for why).
func compressSnappy(dst, src []byte) []byte {
	if len(src) == 0 {
		// The raw block of nothing: its decoded length, a varint 0.
		return append(dst, 0)
	}
	blocks := (len(src) + xerialBlockSize - 1) / xerialBlockSize
	// Grow once for the worst case, so that every block encodes in place.
	dst = grow(dst, xerialHeaderLen+blocks*(4+s2.MaxEncodedLen(xerialBlockSize)))
	dst = append(dst, xerialHeader...)
	for len(src) > 0 {
		n := min(len(src), xerialBlockSize)
		at := len(dst)
		// EncodeSnappy writes into its dst when the capacity suffices,
		// which the growth above guarantees.
		block := s2.EncodeSnappy(dst[at+4:cap(dst)], src[:n])
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(block)))
		dst = dst[:at+4+len(block)]
		src = src[n:]
	}
	return dst
}

func decompressSnappy(dst, src []byte) ([]byte, error) {
	// snappy-java's test: 16 bytes or more starting with the magic are a
	// stream, anything else one raw block (so an empty section fails, as
	// it does there). It does not check the first header's versions.
	if len(src) >= xerialHeaderLen && [8]byte(src[:8]) == xerialMagic {
		return decodeXerial(dst, src[xerialHeaderLen:])
	}
	n, err := snappyDecodedLen(src)
	if err != nil {
		return dst, err
	}
	return appendSnappyBlock(dst, src, n)
}

// decodeXerial appends the blocks of a xerial stream after its header.
// It walks the framing once to check it and sum the blocks' decoded
// lengths, so that a bomb fails before anything is allocated and dst
// grows once, then decodes each block in place.
func decodeXerial(dst, src []byte) ([]byte, error) {
	total := 0
	for rest := src; len(rest) > 0; {
		block, next, err := nextXerialBlock(rest)
		if err != nil {
			return dst, err
		}
		rest = next
		if block == nil {
			continue
		}
		n, err := snappyDecodedLen(block)
		if err != nil {
			return dst, err
		}
		if total += n; total > MaxDecompressedSize {
			return dst, ErrTooLarge
		}
	}
	out := grow(dst, total)
	for rest := src; len(rest) > 0; {
		block, next, _ := nextXerialBlock(rest) // checked above
		rest = next
		if block == nil {
			continue
		}
		n, _ := snappy.DecodedLen(block)
		var err error
		if out, err = appendSnappyBlock(out, block, n); err != nil {
			return dst, err
		}
	}
	return out, nil
}

// nextXerialBlock splits the first framed block off src, the part of a
// xerial stream after its header, following snappy-java's
// SnappyInputStream.hasNextChunk. A nil block with no error is no block:
// either the header of a concatenated stream, which it skips (its first
// four bytes, read as a length, are negative), or the end of the stream,
// which it finds in one to three bytes left over, or in a header-like
// 16 bytes whose magic is wrong, and ignores what follows.
func nextXerialBlock(src []byte) (block, rest []byte, err error) {
	if len(src) < 4 {
		return nil, nil, nil
	}
	if [4]byte(src[:4]) == [4]byte(xerialMagic[:4]) {
		switch {
		case len(src) < xerialHeaderLen:
			return nil, nil, fmt.Errorf("%w: truncated header of a concatenated stream", errXerial)
		case [8]byte(src[:8]) != xerialMagic:
			return nil, nil, nil
		case int32(binary.BigEndian.Uint32(src[8:])) < 1:
			return nil, nil, fmt.Errorf("%w: concatenated stream of version %d", errXerial, int32(binary.BigEndian.Uint32(src[8:])))
		}
		return nil, src[xerialHeaderLen:], nil
	}
	size := int64(int32(binary.BigEndian.Uint32(src)))
	if size <= 0 || size > int64(len(src)-4) {
		return nil, nil, fmt.Errorf("%w: block of %d bytes in %d", errXerial, size, len(src)-4)
	}
	return src[4 : 4+size], src[4+size:], nil
}

// snappyDecodedLen returns the decoded length a raw snappy block claims,
// rejecting claims over the limit, and claims no standard block of its
// size can meet.
func snappyDecodedLen(block []byte) (int, error) {
	n, err := snappy.DecodedLen(block)
	switch {
	case err != nil:
		return 0, err
	case n > MaxDecompressedSize:
		return 0, ErrTooLarge
	case uint64(n) > snappyMaxRatio*uint64(len(block)):
		return 0, fmt.Errorf("%w: a block of %d bytes claims %d", snappy.ErrCorrupt, len(block), n)
	}
	return n, nil
}

// appendSnappyBlock decodes block, whose decoded length is n, onto dst.
//
// The decoder is strict standard snappy, refusing the S2 extensions that
// klauspost's s2.Decode accepts: snappy-java refuses them, and a batch
// spool accepts must decode in Kafka's clients. s2.Decode measured about
// 40% faster in BenchmarkDecompress; strictness is worth that.
func appendSnappyBlock(dst, block []byte, n int) ([]byte, error) {
	dst = grow(dst, n)
	at := len(dst)
	// Given the exact capacity, the decoder writes in place.
	if _, err := snappy.DecodeStrict(dst[at:at+n:at+n], block); err != nil {
		return dst[:at], err
	}
	return dst[:at+n], nil
}
