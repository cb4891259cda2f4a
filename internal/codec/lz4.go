package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// lz4FrameMagic opens an LZ4 frame (little-endian on the wire). Kafka's
// Java reader accepts nothing else at the start of a records section: no
// skippable frame, no legacy frame.
const lz4FrameMagic = 0x184D2204

// lz4FrameFlags is the FLG byte Kafka's Lz4BlockOutputStream writes:
// version 01 and independent blocks, with no block checksum, content size
// or content checksum.
const lz4FrameFlags = 0x60

// FLG fields checked before handing a frame to the decoder, and walked
// by lz4FrameLen.
const (
	lz4FlagVersionMask     = 0xC0
	lz4FlagVersion1        = 0x40
	lz4FlagIndependent     = 0x20
	lz4FlagBlockChecksum   = 0x10
	lz4FlagContentSize     = 0x08
	lz4FlagContentChecksum = 0x04
)

var errLZ4Frame = errors.New("not an LZ4 frame Kafka can read")

// lz4Encoder is a pooled LZ4 frame writer with the writer it fills.
type lz4Encoder struct {
	zw  *lz4.Writer
	out appendWriter
}

var lz4Encoders = sync.Pool{New: func() any {
	e := &lz4Encoder{zw: lz4.NewWriter(nil)}
	// Kafka's Lz4BlockOutputStream: 64 KiB blocks, no checksums beyond
	// the header's, its fast compressor. The frame is thus the one the
	// Java producer writes, and the batch's CRC32C already covers it.
	// One goroutine: batches are small, and callers compress in parallel.
	// The options are valid, so Apply cannot fail.
	_ = e.zw.Apply(
		lz4.BlockSizeOption(lz4.Block64Kb),
		lz4.BlockChecksumOption(false),
		lz4.ChecksumOption(false),
		lz4.CompressionLevelOption(lz4.Fast),
		lz4.ConcurrencyOption(1),
	)
	return e
}}

func compressLZ4(dst, src []byte) ([]byte, error) {
	e := lz4Encoders.Get().(*lz4Encoder)
	defer lz4Encoders.Put(e)
	return compressStream(dst, src, e.zw, &e.out)
}

// lz4FrameLen returns the length of the LZ4 frame at the start of src,
// whose header has been checked, by walking its block lengths as Kafka's
// Lz4BlockInputStream does, without decoding: the header with its
// optional content size, blocks each with an optional checksum up to the
// end mark (a length of 0, whatever its stored-block bit), and the
// optional content checksum.
func lz4FrameLen(src []byte) (int, error) {
	flg := src[4]
	p := 7 // magic, FLG, BD, header checksum
	if flg&lz4FlagContentSize != 0 {
		p += 8
	}
	for {
		if len(src)-p < 4 {
			return 0, fmt.Errorf("%w: frame ends without an end mark", errLZ4Frame)
		}
		size := int64(binary.LittleEndian.Uint32(src[p:]) &^ 0x80000000)
		p += 4
		if size == 0 {
			break
		}
		if flg&lz4FlagBlockChecksum != 0 {
			size += 4
		}
		if size > int64(len(src)-p) {
			return 0, fmt.Errorf("%w: block of %d bytes in %d", errLZ4Frame, size, len(src)-p)
		}
		p += int(size)
	}
	if flg&lz4FlagContentChecksum != 0 {
		p += 4
	}
	if p > len(src) {
		return 0, fmt.Errorf("%w: frame ends inside its content checksum", errLZ4Frame)
	}
	return p, nil
}

// lz4Decoder is a pooled LZ4 frame reader with the bytes.Reader it reads
// from.
type lz4Decoder struct {
	zr  *lz4.Reader
	src bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any {
	// The default concurrency, 1, decodes in the caller's goroutine.
	return &lz4Decoder{zr: lz4.NewReader(nil)}
}}

func decompressLZ4(dst, src []byte) ([]byte, error) {
	// Magic (4), FLG, BD and the header checksum: the shortest header.
	if len(src) < 7 || binary.LittleEndian.Uint32(src) != lz4FrameMagic {
		return dst, fmt.Errorf("%w: no frame magic", errLZ4Frame)
	}
	// Kafka's Lz4BlockInputStream refuses linked blocks; a batch spool
	// accepts must decode there, so this refuses them too. The decoder
	// checks the rest of the header, including its checksum, which
	// magic v2 batches carry correctly.
	if flg := src[4]; flg&lz4FlagVersionMask != lz4FlagVersion1 || flg&lz4FlagIndependent == 0 {
		return dst, fmt.Errorf("%w: frame flags %#02x", errLZ4Frame, flg)
	}
	n, err := lz4FrameLen(src)
	if err != nil {
		return dst, err
	}
	d := lz4Decoders.Get().(*lz4Decoder)
	defer lz4Decoders.Put(d)
	// Only the first frame: Kafka's reader stops at its end mark and
	// ignores what follows, where the decoder would go on to read
	// another frame or fail on the bytes.
	d.src.Reset(src[:n])
	d.zr.Reset(&d.src)
	defer func() {
		d.zr.Reset(nil) // frees its block buffer and drops src
		d.src.Reset(nil)
	}()
	// LZ4 on record data usually compresses 2 to 4 times.
	return readAll(dst, len(dst), d.zr, 4*len(src))
}
