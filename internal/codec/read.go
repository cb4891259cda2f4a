package codec

import "io"

// appendWriter is an io.Writer appending to a slice, for the stream
// encoders (gzip, lz4) to write into the caller's dst.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// minGrow is the least readAll grows its buffer by, so that tiny sections
// do not cost a series of tiny allocations.
const minGrow = 4 << 10

// readAll appends what r yields to dst until io.EOF, failing with
// ErrTooLarge as soon as dst[start:] holds more than MaxDecompressedSize
// bytes, so that a bomb costs about twice the limit in memory, not its
// full output. hint is a guess at the output size for the first growth.
//
// It reads straight into dst's spare capacity rather than through
// io.Copy, so that nothing is copied twice and a reused dst with room
// enough allocates nothing.
func readAll(dst []byte, start int, r io.Reader, hint int) ([]byte, error) {
	dst = grow(dst, min(max(hint, minGrow), MaxDecompressedSize+1-(len(dst)-start)))
	idle := 0
	for {
		if len(dst) == cap(dst) {
			// Double what came so far, up to one byte past the limit:
			// that byte tells a section of exactly the limit from a
			// longer one. A doubling that would leave less than another
			// doubling's room below the limit goes to the limit at
			// once, rather than costing a second buffer of nearly the
			// limit's size.
			n := len(dst) - start
			target := max(2*n, minGrow)
			if 2*target > MaxDecompressedSize+1 {
				target = MaxDecompressedSize + 1
			}
			dst = grow(dst, target-n)
		}
		m, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+m]
		if len(dst)-start > MaxDecompressedSize {
			return dst, ErrTooLarge
		}
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		case m > 0:
			idle = 0
		default:
			// io.Reader allows empty reads, but a decoder that keeps
			// making them is stuck.
			if idle++; idle > 100 {
				return dst, io.ErrNoProgress
			}
		}
	}
}

// grow returns dst with room for at least n more bytes. Unlike
// slices.Grow, which rounds the new capacity up along append's growth
// schedule, it allocates just what is asked: readAll's doubling stays a
// doubling, so a bomb costs about twice the limit, and a section whose
// size is known costs no more than that size.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}
