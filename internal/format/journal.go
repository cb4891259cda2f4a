package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RecordFrameSize is the size of a journal record's frame before its body.
const RecordFrameSize = 8

// recordFixedSize is the size of the fixed fields at the start of a body.
const recordFixedSize = 24

// ErrChainEnd is returned where a chain of journal records ends: zero bytes
// (never written), a checksum that does not continue the chain (stale bytes of
// a recycled extent, or a torn write), or the wrong LSN. Readers stop there;
// only a writer knows whether the end is the end of the log or damage.
var ErrChainEnd = errors.New("format: end of journal chain")

// Record is one decoded journal record: one atomic change of state.
//
//	frame:  0 4  body length (zero: no record here)
//	        4 4  chain checksum: CRC32C continued from the previous
//	             record's checksum over bytes 0..4 and the body
//	body:   0 8  LSN, one more than the previous record's
//	        8 8  synced LSN: every record up to it was durable before
//	             this one was written
//	       16 8  time, Unix nanoseconds
//	       24 .. operations (see Op)
type Record struct {
	LSN       uint64
	SyncedLSN uint64
	Time      int64
	Ops       []byte // encoded operations; iterate with NewOpReader
	Checksum  uint32 // the chain checksum of this record
}

// AppendRecord appends a framed record to b. ops holds encoded operations.
// It returns the new buffer and the record's chain checksum.
func AppendRecord(b []byte, prev uint32, lsn, syncedLSN uint64, time int64, ops []byte) ([]byte, uint32) {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(recordFixedSize+len(ops)))
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, lsn)
	b = binary.LittleEndian.AppendUint64(b, syncedLSN)
	b = binary.LittleEndian.AppendUint64(b, uint64(time))
	b = append(b, ops...)
	sum := ChainChecksum(prev, b[start:start+4])
	sum = ChainChecksum(sum, b[start+RecordFrameSize:])
	binary.LittleEndian.PutUint32(b[start+4:], sum)
	return b, sum
}

// RecordSize returns the framed size of a record carrying n bytes of ops.
func RecordSize(n int) int { return RecordFrameSize + recordFixedSize + n }

// DecodeRecord decodes the record at the start of b, which must continue the
// chain checksum prev and carry LSN lsn. It returns the record and its framed
// size, or an error wrapping ErrChainEnd. Record.Ops aliases b.
func DecodeRecord(b []byte, prev uint32, lsn uint64) (Record, int, error) {
	var r Record
	if len(b) < RecordFrameSize {
		return r, 0, fmt.Errorf("%w: no room for a record", ErrChainEnd)
	}
	le := binary.LittleEndian
	n := le.Uint32(b)
	if n == 0 {
		return r, 0, fmt.Errorf("%w: zero length", ErrChainEnd)
	}
	if n < recordFixedSize || uint64(n) > uint64(len(b)-RecordFrameSize) {
		return r, 0, fmt.Errorf("%w: length %d does not fit", ErrChainEnd, n)
	}
	body := b[RecordFrameSize : RecordFrameSize+int(n)]
	sum := ChainChecksum(ChainChecksum(prev, b[:4]), body)
	if got := le.Uint32(b[4:]); got != sum {
		return r, 0, fmt.Errorf("%w: checksum %08x does not continue the chain (%08x)", ErrChainEnd, got, sum)
	}
	r.LSN = le.Uint64(body)
	if r.LSN != lsn {
		return r, 0, fmt.Errorf("%w: LSN %d, want %d", ErrChainEnd, r.LSN, lsn)
	}
	r.SyncedLSN = le.Uint64(body[8:])
	r.Time = int64(le.Uint64(body[16:]))
	r.Ops = body[recordFixedSize:]
	r.Checksum = sum
	return r, RecordFrameSize + int(n), nil
}
