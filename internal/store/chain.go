package store

import (
	"encoding/binary"
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

// A journal chain stops at the first record that does not decode. That is
// normally its end: the bytes after the last record are zeros (the writer
// zeroes the journal ahead of itself), stale bytes of a recycled extent, or,
// after a power loss, a torn write of records that were never synced. But it
// may be damage to a record in the middle, and then the records after it are
// still there. lookPast finds them.

// sighting is what lookPast found past the record where a chain stopped:
// records of the same chain, verified by their checksums.
type sighting struct {
	first   chainPos // the first record found; first.lsn is its LSN
	records int      // how many were found
	claim   uint64   // the highest synced LSN they claim
	claimBy uint64   // the record that claims it
}

// tailScan bounds how far past the record where the journal stops lookPast
// scans for records whose own frame is not known: the records after one
// whose length is damaged start within its length, and journal records are
// small (one per commit; a commit to a thousand partitions takes some 40
// KiB). Every open scans this far past the end of the journal, at a few
// nanoseconds a byte.
const tailScan = 256 << 10

// lookPast looks for records of the journal after the record at (at.lsn, at
// payload offset at.pos) that does not decode. It tries, in order:
//
//   - the record right after it, by its length, continuing its stored
//     checksum (its body is damaged) or the checksum of its bytes (its
//     checksum field is), or, if its operations hold a Continue (whose
//     extent's header may be what does not check), the record at the start
//     of the extent it names;
//   - every later offset of the rest of the extent (up to tailScan bytes,
//     and not past the end of the file) where a frame carries a plausible
//     LSN: the record there, if it continues the stored checksum at at (the
//     length field is damaged), or the record after it, if that continues
//     its stored checksum, so that two records vouch for each other.
//
// From each record found it follows the chain to its end. It stops once a
// record found claims at.lsn synced: the chain does not end at at. Stale
// records of another chain cannot pass: records of a recycled extent carry
// older LSNs, and those left after a cut torn tail claim no sync as far as
// the cut (see docs/ARCHITECTURE.md, Recovery).
func (s *Store) lookPast(at chainPos) (sighting, error) {
	var found sighting
	// follow reads the records of the chain from c on, and returns where
	// it stopped.
	follow := func(c chainPos) (chainPos, error) {
		r := newChainReader(s.f, s.extentSize, format.KindJournal, c)
		for {
			start := r.at
			rec, err := r.next()
			if err != nil {
				if errors.Is(err, format.ErrChainEnd) || errors.Is(err, format.ErrOpCorrupt) {
					return start, nil
				}
				return start, err
			}
			if found.records == 0 {
				found.first = start
			}
			found.records++
			if rec.SyncedLSN > found.claim {
				found.claim, found.claimBy = rec.SyncedLSN, rec.LSN
			}
		}
	}
	payload := s.extentSize - format.ExtentHeaderSize
	off := s.payloadOffset(at.extent, at.pos)
	size, err := s.f.Size()
	if err != nil {
		return found, err
	}
	if size <= off {
		return found, nil // zeros to the end of the file: nothing after
	}
	b := make([]byte, min(int64(payload-at.pos), tailScan, size-off))
	if err := readFull(s.f, b, off); err != nil {
		return found, err
	}
	if len(b) < format.RecordFrameSize {
		return found, nil
	}
	le := binary.LittleEndian
	stored := le.Uint32(b[4:])
	var cands []chainPos
	minBody := uint32(format.RecordSize(0) - format.RecordFrameSize)
	if n := le.Uint32(b); n >= minBody && uint64(n) <= uint64(payload-at.pos-format.RecordFrameSize) {
		var body []byte
		if end := format.RecordFrameSize + int(n); end <= len(b) {
			body = b[format.RecordFrameSize:end]
		} else {
			body = make([]byte, n)
			if err := readFull(s.f, body, off+format.RecordFrameSize); err != nil {
				return found, err
			}
		}
		prevs := []uint32{stored}
		if sum := format.ChainChecksum(format.ChainChecksum(at.prev, b[:4]), body); sum != stored {
			prevs = append(prevs, sum)
		}
		// The record goes on in place, or, if its operations (whole or
		// not) hold a Continue, at the start of the extent it names.
		for _, prev := range prevs {
			cands = append(cands, chainPos{extent: at.extent, generation: at.generation, pos: at.pos + format.RecordFrameSize + n, prev: prev, lsn: at.lsn + 1})
			if c, ok, _ := continueOf(body[minBody:]); ok {
				cands = append(cands, chainPos{extent: c.Extent, generation: c.Generation, prev: prev, lsn: at.lsn + 1})
			}
		}
	}
	q := 1 // where the free scan starts
	for _, c := range cands {
		end, err := follow(c)
		if err != nil {
			return found, err
		}
		if found.records > 0 {
			if end.extent != at.extent || end.generation != at.generation {
				return found, nil // the chain went on in another extent
			}
			q = int(end.pos - at.pos)
			break
		}
	}
	// The free scan. An LSN past at.lsn is at most one per 32 bytes
	// (the smallest record) of the rest of the extent.
	span := uint64(payload-at.pos)/uint64(format.RecordSize(0)) + 1
	lo := at.lsn + 1
	// The LSN of a frame at q is at q+8, and a record takes 32 bytes.
	lsns := b[:max(len(b)-(format.RecordSize(0)-format.RecordFrameSize-8), 0)]
	for ; found.claim < at.lsn; q++ {
		i := nextIn(lsns, q+format.RecordFrameSize, lo, span)
		if i < 0 {
			break
		}
		q = i - format.RecordFrameSize
		lsn := le.Uint64(b[i:])
		n := le.Uint32(b[q:])
		pos := at.pos + uint32(q)
		if n < minBody || uint64(n) > uint64(payload-pos-format.RecordFrameSize) {
			continue
		}
		cands = cands[:0]
		if lsn == at.lsn+1 {
			cands = append(cands, chainPos{extent: at.extent, generation: at.generation, pos: pos, prev: stored, lsn: lsn})
		}
		cands = append(cands, chainPos{extent: at.extent, generation: at.generation, pos: pos + format.RecordFrameSize + n, prev: le.Uint32(b[q+4:]), lsn: lsn + 1})
		for _, c := range cands {
			before := found.records
			end, err := follow(c)
			if err != nil {
				return found, err
			}
			if found.records > before {
				if end.extent != at.extent || end.generation != at.generation {
					return found, nil // the chain went on in another extent
				}
				// Scan on after the records found.
				q = int(end.pos-at.pos) - 1
				break
			}
		}
	}
	return found, nil
}

// nextIn returns the first offset i from from on where the 8 bytes at i, a
// little-endian number, lie in [lo, lo+span), or -1. It reads b a word at a
// time: it runs at every open, over the bytes past the end of the journal.
func nextIn(b []byte, from int, lo, span uint64) int {
	le := binary.LittleEndian
	i := from
	for ; i+16 <= len(b); i += 8 {
		w0, w1 := le.Uint64(b[i:]), le.Uint64(b[i+8:])
		if w0|w1 == 0 && lo != 0 {
			continue
		}
		for j := range 8 {
			// The word at i+j (w1 << 64 is 0).
			if (w0>>(8*j)|w1<<(64-8*j))-lo < span {
				return i + j
			}
		}
	}
	for ; i+8 <= len(b); i++ {
		if le.Uint64(b[i:])-lo < span {
			return i
		}
	}
	return -1
}
