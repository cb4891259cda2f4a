// Package codec compresses and decompresses the records section of a Kafka
// RecordBatch v2 with the four codecs Kafka defines, compatibly with
// Kafka's own clients in both directions: spool writes what the Java
// producer writes, so that every Kafka consumer reads spool's batches, and
// reads what Kafka clients write, as Kafka's Java consumer reads it.
//
//   - gzip: one gzip member at the default level (6), as
//     java.util.zip.GZIPOutputStream writes. Reading takes concatenated
//     members and, like GZIPInputStream, ignores bytes after a member that
//     do not start another.
//   - snappy: snappy-java's stream framing ("xerial"): the 8-byte magic
//     0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, two big-endian int32s (version 1,
//     minimum compatible version 1), then for every 32 KiB of input a
//     big-endian int32 length and a raw snappy block. Reading also takes a
//     bare raw snappy block, which librdkafka, Sarama and franz-go write
//     (franz-go v1.22 when it compresses a batch whole), and concatenated
//     xerial streams, as snappy-java does. Blocks must be standard snappy:
//     S2's extensions are refused, as snappy-java refuses them. See
//     Compress for why spool writes the framing.
//   - lz4: one LZ4 frame (not Kafka 0.8's framing with its wrong header
//     checksum, which only magic 0 and 1 message sets use), laid out as
//     Kafka's Lz4BlockOutputStream writes it: 64 KiB independent blocks,
//     no block or content checksums. Reading requires independent blocks
//     and reads only the first frame, as Kafka's Lz4BlockInputStream does.
//   - zstd: one zstd frame at level 3 (zstd-jni's default, which Kafka
//     uses) with a 2 MiB window and no content checksum. Reading takes
//     standard frames, several or with skippable frames among them, with
//     or without content size and checksum, up to the limit below.
//
// Decompression never produces more than MaxDecompressedSize bytes: input
// that claims or turns out to hold more fails with ErrTooLarge, having
// allocated at most about twice the limit, never the bomb's full size.
// Sizes stated in headers are checked against what the input can hold
// before anything is allocated for them.
//
// All functions are safe for concurrent use. Encoders and decoders are
// pooled, so steady-state use with a reused dst allocates nothing.
package codec

import (
	"errors"
	"fmt"
	"io"

	"github.com/spooldb/spool/internal/format"
)

// MaxDecompressedSize bounds what one records section may decompress to:
// 128 MiB.
//
// Nothing in the Kafka protocol bounds it: brokers and clients limit the
// compressed batch (message.max.bytes, 1 MiB by default), while a few KiB
// of zstd or gzip can expand to gigabytes. 128 MiB is 128 times Kafka's
// default maximum batch, more than any sane producer builds, and it is
// also the largest window that libzstd (and so the Java client through
// zstd-jni, and librdkafka) decodes by default, 2^27: a Java producer at
// compression.zstd.level=22 declares exactly that window, and the zstd
// decoder used here refuses frames whose window exceeds its memory limit.
const MaxDecompressedSize = 128 << 20

// ErrCodec is wrapped by every error of Compress and Decompress, and by
// Records' decompression errors; their messages name the codec.
var ErrCodec = errors.New("codec")

// ErrTooLarge is wrapped, together with ErrCodec, by the error for input
// that decompresses to more than MaxDecompressedSize bytes: a corrupt
// batch or a decompression bomb.
var ErrTooLarge = fmt.Errorf("records decompress to more than %d bytes", MaxDecompressedSize)

// errUnknownCodec is the cause for a codec number Kafka does not define.
var errUnknownCodec = errors.New("unknown codec")

// codecErr wraps cause in ErrCodec, naming the operation and the codec.
func codecErr(op string, c format.Compression, cause error) error {
	return fmt.Errorf("%w: %s %v: %w", ErrCodec, op, c, cause)
}

// Compress appends the records section src, compressed with c the way
// Kafka's Java producer does, to dst and returns the extended slice. For
// CompressionNone it appends src unchanged.
//
// For snappy spool writes the xerial framing rather than a raw block. Both
// decode everywhere that matters (snappy-java falls back to a raw block
// when the magic is missing; librdkafka, Sarama and franz-go detect the
// magic), but the framing is what the reference producer writes, so every
// consumer that reads Java producers' batches, which is every working
// Kafka consumer, reads it; a raw block relies on each reader's fallback.
// Empty input is the one exception: it becomes the one-byte raw block of
// nothing, because franz-go's reader takes a bare 16-byte xerial header
// for a raw block and fails on it.
func Compress(dst []byte, c format.Compression, src []byte) ([]byte, error) {
	return apply("compressing with", c, dst, src, func(k kind) transform { return k.compress })
}

// Decompress appends the decompressed form of src, a records section
// compressed with c, to dst and returns the extended slice. For
// CompressionNone it appends src unchanged. Corrupt input gives an error
// wrapping ErrCodec, never a panic; input that would decompress to more
// than MaxDecompressedSize bytes gives one wrapping ErrTooLarge too. On
// error the returned slice is dst, whose spare capacity may have been
// written.
func Decompress(dst []byte, c format.Compression, src []byte) ([]byte, error) {
	return apply("decompressing", c, dst, src, func(k kind) transform { return k.decompress })
}

// transform appends src, compressed or decompressed, to dst.
type transform func(dst, src []byte) ([]byte, error)

// kind is what a codec does each way.
type kind struct{ compress, decompress transform }

// kinds holds the codecs Kafka defines, by their number; CompressionNone
// copies.
var kinds = [...]kind{
	format.CompressionNone:   {copyTo, copyTo},
	format.CompressionGzip:   {compressGzip, decompressGzip},
	format.CompressionSnappy: {infallible(compressSnappy), decompressSnappy},
	format.CompressionLZ4:    {compressLZ4, decompressLZ4},
	format.CompressionZstd:   {infallible(compressZstd), decompressZstd},
}

func copyTo(dst, src []byte) ([]byte, error) { return append(dst, src...), nil }

func infallible(f func(dst, src []byte) []byte) transform {
	return func(dst, src []byte) ([]byte, error) { return f(dst, src), nil }
}

// apply runs the transform way picks for codec c, wrapping its error in
// ErrCodec with op and the codec's name; on error it returns dst.
func apply(op string, c format.Compression, dst, src []byte, way func(kind) transform) ([]byte, error) {
	if c < 0 || int(c) >= len(kinds) {
		return dst, codecErr(op, c, errUnknownCodec)
	}
	out, err := way(kinds[c])(dst, src)
	if err != nil {
		return dst, codecErr(op, c, err)
	}
	return out, nil
}

// compressFuncs holds one closure per codec, made once, so that
// CompressFunc allocates nothing.
var compressFuncs = func() (fs [format.CompressionZstd + 1]func(dst, src []byte) ([]byte, error)) {
	for c := range fs {
		fs[c] = func(dst, src []byte) ([]byte, error) {
			return Compress(dst, format.Compression(c), src)
		}
	}
	return fs
}()

// CompressFunc returns Compress for c as a function of the shape
// format.BatchBuilder.BuildCompressed takes:
//
//	batch, err := bb.BuildCompressed(dst, c, codec.CompressFunc(c))
func CompressFunc(c format.Compression) func(dst, src []byte) ([]byte, error) {
	if c < 0 || int(c) >= len(compressFuncs) {
		return func(dst, _ []byte) ([]byte, error) {
			return dst, codecErr("compressing with", c, errUnknownCodec)
		}
	}
	return compressFuncs[c]
}

// Records returns the header of batch, which must hold exactly one whole
// batch, and its records section ready for format.NewRecordIterRaw.
//
// For a compressed batch the section is decompressed and appended to dst,
// and records is the appended part. For an uncompressed batch records is
// the batch's own section, capped at its length, and dst is untouched: so
// a caller reusing a buffer keeps it only from compressed batches:
//
//	h, recs, err := codec.Records(buf[:0], batch)
//	...
//	if h.Compression() != format.CompressionNone {
//		buf = recs[:0]
//	}
//	it := format.NewRecordIterRaw(h, recs)
//
// Like format.NewRecordIter, Records checks the header but not the CRC;
// use format.ValidateBatch on bytes not already validated. Header errors
// are format's; decompression errors wrap ErrCodec.
func Records(dst, batch []byte) (format.BatchHeader, []byte, error) {
	h, err := format.ParseBatchHeader(batch)
	switch {
	case err != nil:
		return h, nil, err
	case len(batch) < h.Size():
		return h, nil, fmt.Errorf("%w: %d bytes, batch needs %d", format.ErrShortBatch, len(batch), h.Size())
	case len(batch) > h.Size():
		return h, nil, fmt.Errorf("%w: %d bytes after the batch", format.ErrBatchCorrupt, len(batch)-h.Size())
	}
	raw := batch[format.BatchHeaderSize:h.Size():h.Size()]
	c := h.Compression()
	if c == format.CompressionNone {
		return h, raw, nil
	}
	start := len(dst)
	out, err := Decompress(dst, c, raw)
	if err != nil {
		return h, nil, err
	}
	return h, out[start:], nil
}

// streamWriter is a pooled compressing writer that can start a new stream.
type streamWriter interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// compressStream compresses src as one whole stream of zw, appending it to
// dst through out, zw's destination.
func compressStream(dst, src []byte, zw streamWriter, out *appendWriter) ([]byte, error) {
	out.b = dst
	defer func() { out.b = nil }() // the pool must not keep the caller's buffer
	zw.Reset(out)
	if _, err := zw.Write(src); err != nil {
		return dst, err
	}
	if err := zw.Close(); err != nil {
		return dst, err
	}
	return out.b, nil
}
