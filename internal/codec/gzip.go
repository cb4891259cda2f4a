package codec

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipLevel is java.util.zip's default, which Kafka's producer uses unless
// compression.gzip.level says otherwise.
const gzipLevel = gzip.DefaultCompression

// gzipEncoder is a pooled gzip writer with the writer it fills, so that a
// Compress allocates neither.
type gzipEncoder struct {
	zw  *gzip.Writer
	out appendWriter
}

var gzipEncoders = sync.Pool{New: func() any {
	e := new(gzipEncoder)
	e.zw, _ = gzip.NewWriterLevel(&e.out, gzipLevel) // the level is valid
	return e
}}

func compressGzip(dst, src []byte) ([]byte, error) {
	e := gzipEncoders.Get().(*gzipEncoder)
	defer gzipEncoders.Put(e)
	return compressStream(dst, src, e.zw, &e.out)
}

// gzipDecoder is a pooled gzip reader with the bytes.Reader it reads from.
type gzipDecoder struct {
	zr  gzip.Reader
	src bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func decompressGzip(dst, src []byte) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer gzipDecoders.Put(d)
	d.src.Reset(src)
	defer d.src.Reset(nil)
	if err := d.zr.Reset(&d.src); err != nil { // reads the first header
		return dst, err
	}
	// Members are read one at a time, as java.util.zip.GZIPInputStream
	// reads them: after each, what is left either starts another member
	// or is ignored. The decoder's own multistream mode would fail on
	// bytes that do not start a member. d.src is a bytes.Reader, which
	// the decoder reads byte by byte without buffering ahead, so what it
	// has left after a member is exactly what follows the member.
	out := dst
	for {
		d.zr.Multistream(false)
		var err error
		// Records in JSON or similar text usually compress 4 to 10 times.
		if out, err = readAll(out, len(dst), &d.zr, 4*len(src)); err != nil {
			return dst, err
		}
		if d.src.Len() == 0 || d.zr.Reset(&d.src) != nil {
			return out, nil
		}
	}
}
