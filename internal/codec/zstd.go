package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The zstd encoder and decoder are shared rather than kept in a sync.Pool:
// their EncodeAll and DecodeAll are safe for concurrent use and pool their
// block coders internally, up to GOMAXPROCS of them, whereas a pooled
// Encoder or Decoder dropped by the pool would leak until a finalizer
// closed it. Used only through EncodeAll and DecodeAll, neither starts a
// goroutine.

// zstdEncoder compresses like Kafka's ZstdFactory: zstd-jni's default
// level 3 (klauspost's SpeedDefault) and no content checksum (the batch's
// CRC32C covers the frame). The window is 2 MiB, the one libzstd picks at
// level 3 for a stream of unknown size as Kafka's are: a batch of up to
// 2 MiB fits it whole, and consumers need no more memory for spool's
// frames than for the Java producer's; each encoder's history also stays
// at a quarter of the 8 MiB default's. WithZeroFrames makes empty input a
// frame rather than nothing, which no decoder would take for zstd.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(2<<20),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		panic("codec: zstd encoder options: " + err.Error())
	}
	return e
})

// zstdDecoder decodes with MaxDecompressedSize as its memory limit, which
// bounds both the output and the window a frame may declare.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // GOMAXPROCS concurrent DecodeAlls
		zstd.WithDecoderMaxMemory(MaxDecompressedSize),
	)
	if err != nil {
		panic("codec: zstd decoder options: " + err.Error())
	}
	return d
})

func compressZstd(dst, src []byte) []byte {
	return zstdEncoder().EncodeAll(src, dst)
}

func decompressZstd(dst, src []byte) ([]byte, error) {
	bound, known, err := zstdBound(src)
	switch {
	case err != nil:
		return dst, err
	case known && bound.exact && bound.size > MaxDecompressedSize:
		return dst, ErrTooLarge
	case known:
		// Room for all the frames can hold lets the decoder write in
		// place, with no growth and copy. Without it, the decoder grows
		// its buffer by append's small steps: for a bomb, about six
		// times the limit in all before it fails, against about twice
		// when it starts from the limit.
		dst = grow(dst, int(min(bound.size, MaxDecompressedSize)))
	}
	// The decoder is given only dst's spare capacity: it counts len(dst)
	// against its memory limit in places, and the limit is on the output.
	spare := dst[len(dst):]
	out, err := zstdDecoder().DecodeAll(src, spare)
	if err != nil {
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return dst, ErrTooLarge
		case errors.Is(err, zstd.ErrWindowSizeExceeded):
			return dst, fmt.Errorf("%w: the frame's window is larger", ErrTooLarge)
		}
		return dst, err
	}
	if len(out) > MaxDecompressedSize {
		return dst, ErrTooLarge
	}
	if len(out) <= cap(spare) && (len(out) == 0 || &out[0] == &spare[:1][0]) {
		return dst[:len(dst)+len(out)], nil // decoded in place
	}
	return append(dst, out...), nil
}

// zstdSize bounds the decoded size of zstd frames.
type zstdSize struct {
	size  uint64
	exact bool // size is what the frames decode to, not just a bound
}

// Frame layout, from RFC 8878.
const (
	zstdMagic         = 0xFD2FB528
	zstdSkippableMask = 0xFFFFFFF0
	zstdSkippable     = 0x184D2A50
	zstdMaxBlock      = 128 << 10
)

// zstdBound walks the frames of src, reading only frame and block headers,
// and bounds what they decode to: raw and RLE blocks state their decoded
// size, a compressed block decodes to at most the frame's maximum block
// size, and a stated content size is exact. Decoders are not so frugal
// with lies: given a content size, the zstd decoder allocates it before
// decoding, so a frame stating more than its blocks can hold is refused
// here as corrupt. known is false when src does not walk as frames; the
// decoder then finds what is wrong.
func zstdBound(src []byte) (bound zstdSize, known bool, err error) {
	le := binary.LittleEndian
	bound.exact = true
	for len(src) > 0 {
		if len(src) < 4 {
			return bound, false, nil
		}
		magic := le.Uint32(src)
		if magic&zstdSkippableMask == zstdSkippable {
			if len(src) < 8 || uint64(le.Uint32(src[4:])) > uint64(len(src)-8) {
				return bound, false, nil
			}
			src = src[8+le.Uint32(src[4:]):]
			continue
		}
		if magic != zstdMagic || len(src) < 5 {
			return bound, false, nil
		}
		fhd := src[4]
		singleSegment := fhd&0x20 != 0
		p := 5
		window := uint64(0)
		if !singleSegment {
			if len(src) < 6 {
				return bound, false, nil
			}
			exp, mantissa := uint64(src[5]>>3), uint64(src[5]&7)
			base := uint64(1) << (10 + exp)
			window = base + base/8*mantissa
			p++
		}
		p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
		fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
		if fcsLen == 0 && singleSegment {
			fcsLen = 1
		}
		if len(src) < p+fcsLen {
			return bound, false, nil
		}
		fcs, hasFCS := uint64(0), fcsLen > 0
		switch fcsLen {
		case 1:
			fcs = uint64(src[p])
		case 2:
			fcs = uint64(le.Uint16(src[p:])) + 256
		case 4:
			fcs = uint64(le.Uint32(src[p:]))
		case 8:
			fcs = le.Uint64(src[p:])
		}
		p += fcsLen
		if singleSegment {
			window = fcs
		}
		maxBlock := min(window, zstdMaxBlock)
		var frame uint64
		frameExact := true
		for last := false; !last; {
			if len(src)-p < 3 {
				return bound, false, nil
			}
			hdr := uint32(src[p]) | uint32(src[p+1])<<8 | uint32(src[p+2])<<16
			p += 3
			last = hdr&1 != 0
			size := uint64(hdr >> 3)
			switch (hdr >> 1) & 3 {
			case 0: // raw
				frame += size
			case 1: // RLE: one byte, repeated
				frame += size
				size = 1
			case 2: // compressed
				frame += maxBlock
				frameExact = false
			default:
				return bound, false, nil
			}
			if size > uint64(len(src)-p) {
				return bound, false, nil
			}
			p += int(size)
		}
		if fhd&0x04 != 0 {
			p += 4 // content checksum
		}
		if p > len(src) {
			return bound, false, nil
		}
		src = src[p:]
		if hasFCS {
			if fcs > frame {
				return bound, false, fmt.Errorf("zstd frame states %d bytes, its blocks hold at most %d", fcs, frame)
			}
			frame, frameExact = fcs, true
		}
		bound.size += frame
		bound.exact = bound.exact && frameExact
	}
	return bound, true, nil
}
