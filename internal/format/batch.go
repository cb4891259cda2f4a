package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// BatchHeaderSize is the size of a RecordBatch v2 header; records follow it.
const BatchHeaderSize = 61

// BatchMagic is the magic byte of a RecordBatch v2. Magic 0 and 1 are Kafka's
// legacy message sets, which spool does not store.
const BatchMagic = 2

// Byte offsets of the header fields. Kafka fixes them; all are big-endian.
const (
	batchOffBaseOffset      = 0
	batchOffLength          = 8
	batchOffLeaderEpoch     = 12
	batchOffMagic           = 16
	batchOffCRC             = 17
	batchOffAttributes      = 21
	batchOffLastOffsetDelta = 23
	batchOffBaseTimestamp   = 27
	batchOffMaxTimestamp    = 35
	batchOffProducerID      = 43
	batchOffProducerEpoch   = 51
	batchOffBaseSequence    = 53
	batchOffRecordCount     = 57
)

// batchLengthOverhead is the part of a batch not counted by batchLength: the
// baseOffset and batchLength fields themselves.
const batchLengthOverhead = batchOffLeaderEpoch

// minBatchLength is the batchLength of a batch without records.
const minBatchLength = BatchHeaderSize - batchLengthOverhead

// maxBatchLength keeps 12+batchLength within an int32, so that Size fits an
// int on 32-bit platforms too.
const maxBatchLength = math.MaxInt32 - batchLengthOverhead

// Attribute bits. Bit 6 (hasDeleteHorizonMs) marks a baseTimestamp that
// compaction rewrote to its delete horizon; record timestamps stay relative
// to it, so nothing here needs to read it.
const (
	batchAttrCompressionMask = 0x07
	batchAttrLogAppendTime   = 1 << 3
	batchAttrTransactional   = 1 << 4
	batchAttrControl         = 1 << 5
)

// ErrShortBatch is returned when a buffer ends before the batch it starts
// does: it holds fewer bytes than the header, or than batchLength says. It is
// the error a reader expects at the end of a read that cut a batch in two.
var ErrShortBatch = errors.New("format: short record batch")

// ErrBatchMagic is returned for a batch whose magic byte is not BatchMagic,
// such as a legacy Kafka message set.
var ErrBatchMagic = errors.New("format: record batch magic is not 2")

// ErrBatchCRC is returned when the CRC32C stored in a batch does not match
// its bytes.
var ErrBatchCRC = errors.New("format: record batch checksum mismatch")

// ErrBatchCorrupt is returned for a batch whose lengths, counts or records do
// not agree with one another. The header's checks run before the CRC's, so
// damage to the header can show as this rather than as ErrBatchCRC; behind a
// right checksum, it means the batch was built wrong.
var ErrBatchCorrupt = errors.New("format: corrupt record batch")

// ErrCompressedBatch is returned by NewRecordIter for a compressed batch;
// decompress its records and use NewRecordIterRaw.
var ErrCompressedBatch = errors.New("format: record batch is compressed")

// Compression is the codec of a batch's records section, as stored in the
// low three attribute bits.
type Compression int8

// The codecs Kafka defines.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// BatchHeader is the decoded header of a RecordBatch v2.
type BatchHeader struct {
	BaseOffset int64
	// Length is the batchLength field: the size of the batch after it.
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Compression returns the codec of the batch's records.
func (h BatchHeader) Compression() Compression {
	return Compression(h.Attributes & batchAttrCompressionMask)
}

// LogAppendTime reports whether the batch carries the broker's append time
// (MaxTimestamp) in place of the producer's record timestamps.
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&batchAttrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h BatchHeader) Transactional() bool { return h.Attributes&batchAttrTransactional != 0 }

// Control reports whether the batch holds a control record (a transaction
// marker) rather than data.
func (h BatchHeader) Control() bool { return h.Attributes&batchAttrControl != 0 }

// LastOffset returns the offset of the last record the batch spans. Records
// removed by compaction still count, so it may lie past the last record
// present.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size returns the size of the whole batch in bytes.
func (h BatchHeader) Size() int { return batchLengthOverhead + int(h.Length) }

// ParseBatchHeader decodes the header at the start of b and checks its magic
// and that its lengths and counts agree. It needs only the BatchHeaderSize
// header bytes, not the records, and does not verify the CRC: a reader learns
// from it how much more to read, then calls ValidateBatch on the whole batch.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	// The magic byte sits at the same offset in legacy message sets, so a
	// wrong format is named even when b is shorter than a v2 header.
	if len(b) <= batchOffMagic {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBatch, len(b), BatchHeaderSize)
	}
	if m := int8(b[batchOffMagic]); m != BatchMagic {
		return h, fmt.Errorf("%w: found magic %d", ErrBatchMagic, m)
	}
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBatch, len(b), BatchHeaderSize)
	}
	be := binary.BigEndian
	h = BatchHeader{
		BaseOffset:           int64(be.Uint64(b[batchOffBaseOffset:])),
		Length:               int32(be.Uint32(b[batchOffLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[batchOffLeaderEpoch:])),
		Magic:                int8(b[batchOffMagic]),
		CRC:                  be.Uint32(b[batchOffCRC:]),
		Attributes:           int16(be.Uint16(b[batchOffAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[batchOffLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[batchOffBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[batchOffMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[batchOffProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[batchOffProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[batchOffBaseSequence:])),
		RecordCount:          int32(be.Uint32(b[batchOffRecordCount:])),
	}
	switch {
	case h.Length < minBatchLength || h.Length > maxBatchLength:
		return h, fmt.Errorf("%w: batch length %d", ErrBatchCorrupt, h.Length)
	case h.LastOffsetDelta < 0:
		return h, fmt.Errorf("%w: last offset delta %d", ErrBatchCorrupt, h.LastOffsetDelta)
	case h.RecordCount < 0:
		return h, fmt.Errorf("%w: record count %d", ErrBatchCorrupt, h.RecordCount)
	// Every record has its own offset within the batch's span; compaction
	// may leave fewer records than offsets, never more.
	case int64(h.RecordCount) > int64(h.LastOffsetDelta)+1:
		return h, fmt.Errorf("%w: %d records in %d offsets", ErrBatchCorrupt, h.RecordCount, int64(h.LastOffsetDelta)+1)
	}
	return h, nil
}

// ValidateBatch checks that b holds exactly one whole batch, that its CRC32C
// matches, that its codec is known and, for an uncompressed batch, that its
// records decode and fill the batch exactly. It returns the header even with
// most errors, for the caller's messages.
//
// baseOffset and partitionLeaderEpoch lie outside the CRC by Kafka's design,
// so that a broker can assign them without rehashing; damage there goes
// unnoticed here.
func ValidateBatch(b []byte) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if len(b) < h.Size() {
		return h, fmt.Errorf("%w: %d bytes, batch needs %d", ErrShortBatch, len(b), h.Size())
	}
	if len(b) > h.Size() {
		return h, fmt.Errorf("%w: %d bytes after the batch", ErrBatchCorrupt, len(b)-h.Size())
	}
	if sum := crc32.Checksum(b[batchOffAttributes:], crcTable); sum != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", ErrBatchCRC, h.CRC, sum)
	}
	switch c := h.Compression(); {
	case c > CompressionZstd:
		return h, fmt.Errorf("%w: unknown codec %d", ErrBatchCorrupt, c)
	case c != CompressionNone:
		return h, nil
	}
	it := NewRecordIterRaw(h, b[BatchHeaderSize:])
	var r BatchRecord
	for it.Next(&r) {
	}
	return h, it.Err()
}

// NextBatch splits the first batch off a buffer of concatenated batches. It
// checks the header but not the CRC. When b ends inside a batch (including
// when b is empty) it returns ErrShortBatch, and a reader trims its read to
// the batches before. On error, batch is nil and rest is b.
//
// batch is capped at its own length, so appending to it never overwrites
// rest.
func NextBatch(b []byte) (batch, rest []byte, err error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return nil, b, err
	}
	n := h.Size()
	if len(b) < n {
		return nil, b, fmt.Errorf("%w: %d bytes, batch needs %d", ErrShortBatch, len(b), n)
	}
	return b[:n:n], b[n:], nil
}

// SetBaseOffset sets the baseOffset of the batch at the start of b, as a
// store does when it assigns offsets on append. baseOffset is outside the CRC,
// so the batch stays valid. b must hold at least the header.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[batchOffBaseOffset:batchOffBaseOffset+8], uint64(off))
}

// SetPartitionLeaderEpoch sets the partitionLeaderEpoch of the batch at the
// start of b. The field is outside the CRC. b must hold at least the header.
func SetPartitionLeaderEpoch(b []byte, e int32) {
	binary.BigEndian.PutUint32(b[batchOffLeaderEpoch:batchOffLeaderEpoch+4], uint32(e))
}

// SetMaxTimestampLogAppend stamps the batch in b with the append time ts, as
// a Kafka broker does for topics with message.timestamp.type=LogAppendTime:
// it sets the timestamp-type attribute bit and maxTimestamp, leaves
// baseTimestamp and the records' deltas alone, and recomputes the CRC.
// Readers then report ts as every record's timestamp. b must be one whole,
// valid batch (as ValidateBatch accepts); it panics on a buffer shorter than
// the batch's length says.
func SetMaxTimestampLogAppend(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[batchOffAttributes:])
	if attrs&batchAttrLogAppendTime != 0 && int64(be.Uint64(b[batchOffMaxTimestamp:])) == ts {
		return // already stamped: spare the rehash
	}
	be.PutUint16(b[batchOffAttributes:], attrs|batchAttrLogAppendTime)
	be.PutUint64(b[batchOffMaxTimestamp:], uint64(ts))
	n := batchLengthOverhead + int(int32(be.Uint32(b[batchOffLength:])))
	be.PutUint32(b[batchOffCRC:], crc32.Checksum(b[batchOffAttributes:n], crcTable))
}
