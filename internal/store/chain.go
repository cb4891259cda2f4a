package store

import (
	"errors"
	"fmt"
	"io"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// chainPos is where the next record of a chain (the journal or a checkpoint)
// goes or is read: an offset into an extent's payload, the checksum the record
// must continue and the LSN it must carry.
type chainPos struct {
	extent     uint32
	generation uint64
	pos        uint32
	prev       uint32
	lsn        uint64
}

// continueReserve is the room every chain extent keeps at its end for the
// record that continues the chain in the next extent.
const continueReserve = 64

// chainReader reads the records of a chain in order, following its Continue
// records from extent to extent.
type chainReader struct {
	f          vfs.File
	extentSize uint32
	kind       format.ExtentKind
	at         chainPos

	buf      []byte
	bufStart uint32 // payload offset of buf[0] in extent at.extent
	bufValid bool
	chunk    uint32 // how much the next fill reads
}

// A chain reader reads little at first, because a writer checking for records
// of other processes usually finds none, and more as it finds records.
const (
	firstChunk = 4 << 10
	maxChunk   = 1 << 20
)

func newChainReader(f vfs.File, extentSize uint32, kind format.ExtentKind, at chainPos) *chainReader {
	return &chainReader{f: f, extentSize: extentSize, kind: kind, at: at}
}

// next returns the next record, or an error wrapping format.ErrChainEnd where
// the chain ends. Record.Ops is valid until the next call.
func (r *chainReader) next() (format.Record, error) {
	payload := r.extentSize - format.ExtentHeaderSize
	for {
		if !r.bufValid || r.at.pos < r.bufStart || r.at.pos >= r.bufStart+uint32(len(r.buf)) {
			if err := r.fill(r.at.pos, 0); err != nil {
				return format.Record{}, err
			}
		}
		b := r.buf[r.at.pos-r.bufStart:]
		rec, n, err := format.DecodeRecord(b, r.at.prev, r.at.lsn)
		if err != nil {
			// A record may run past what was read: read again from its start,
			// with room for its whole length, unless this read was already
			// everything to the end of the extent. Its frame, which holds the
			// length, may itself be cut short.
			if len(b) < format.RecordFrameSize && r.bufStart+uint32(len(r.buf)) < payload {
				if err := r.fill(r.at.pos, format.RecordFrameSize); err != nil {
					return format.Record{}, err
				}
				continue
			}
			if len(b) >= format.RecordFrameSize && r.bufStart+uint32(len(r.buf)) < payload {
				if want := uint64(leUint32(b)) + format.RecordFrameSize; want > uint64(len(b)) && want <= uint64(payload-r.at.pos) {
					if err := r.fill(r.at.pos, uint32(want)); err != nil {
						return format.Record{}, err
					}
					continue
				}
			}
			return format.Record{}, err
		}
		r.at.pos += uint32(n)
		r.at.prev = rec.Checksum
		r.at.lsn++
		if c, ok, err := continueOf(rec.Ops); err != nil {
			return rec, err
		} else if ok {
			if err := r.checkHeader(c.Extent, c.Generation); err != nil {
				return format.Record{}, fmt.Errorf("%w: %v", format.ErrChainEnd, err)
			}
			r.at.extent, r.at.generation, r.at.pos = c.Extent, c.Generation, 0
			r.bufValid = false
		}
		return rec, nil
	}
}

// fill reads at least want bytes (or to the end of the extent) from payload
// offset pos.
func (r *chainReader) fill(pos, want uint32) error {
	payload := r.extentSize - format.ExtentHeaderSize
	r.chunk = min(max(r.chunk*2, firstChunk), maxChunk)
	n := min(max(want, r.chunk), payload-pos)
	if uint32(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	off := format.ExtentOffset(r.at.extent, r.extentSize) + format.ExtentHeaderSize + int64(pos)
	if err := readFull(r.f, r.buf, off); err != nil {
		return err
	}
	r.bufStart, r.bufValid = pos, true
	return nil
}

// checkHeader checks that extent e opens with the header of this chain's kind
// and the given generation.
func (r *chainReader) checkHeader(e uint32, generation uint64) error {
	var b [format.ExtentHeaderSize]byte
	if err := readFull(r.f, b[:], format.ExtentOffset(e, r.extentSize)); err != nil {
		return err
	}
	h, err := format.DecodeExtentHeader(b[:])
	if err != nil {
		return fmt.Errorf("extent %d: %w", e, err)
	}
	if h.Kind != r.kind || h.Generation != generation {
		return fmt.Errorf("extent %d holds %s generation %d, want %s generation %d", e, h.Kind, h.Generation, r.kind, generation)
	}
	return nil
}

// continueOf returns the Continue operation in ops, if there is one.
func continueOf(ops []byte) (format.Continue, bool, error) {
	or := format.NewOpReader(ops)
	for {
		op, err := or.Next()
		if err != nil || op == nil {
			return format.Continue{}, false, err
		}
		if c, ok := op.(format.Continue); ok {
			return c, true, nil
		}
	}
}

// readFull reads len(b) bytes at off. Bytes past the end of the file read as
// zero: extents are allocated lazily, and a never-written tail of the file is
// the same as a zeroed one to every decoder.
func readFull(f vfs.File, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %d bytes at %d: %w", len(b), off, err)
	}
	clear(b[n:])
	return nil
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
