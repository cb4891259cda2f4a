package format

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// maxBatchRecordsLen bounds the records section so that the batch's length fits
// its batchLength field.
const maxBatchRecordsLen = maxBatchLength - minBatchLength

// BatchBuilder encodes records into a RecordBatch v2, as a producer does: the
// batch has baseOffset 0 and partitionLeaderEpoch -1 for the store to fill,
// and record i gets offset delta i.
//
// The zero value is an empty builder with baseTimestamp 0 and no producer.
// A builder keeps its buffer across Reset, so that once it has grown to the
// batch size in use, appending allocates nothing.
type BatchBuilder struct {
	// buf is room for the batch header followed by the records section, so
	// that Sealed can fill the header in place instead of copying the
	// records behind a new one. It is empty until the first Append.
	buf           []byte
	count         int32
	baseTimestamp int64
	maxTimestamp  int64
	idempotent    bool // SetProducer was called
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	transactional bool
}

// Reset empties the builder for a new batch whose record timestamps are
// encoded relative to baseTimestamp. It forgets the producer and the
// transactional flag as well as the records.
func (bb *BatchBuilder) Reset(baseTimestamp int64) {
	*bb = BatchBuilder{buf: bb.buf[:0], baseTimestamp: baseTimestamp}
}

// records returns the records section appended so far.
func (bb *BatchBuilder) records() []byte {
	if len(bb.buf) == 0 {
		return nil
	}
	return bb.buf[BatchHeaderSize:]
}

// SetProducer marks the batch as sent by an idempotent producer: id and epoch
// identify the producer and baseSequence numbers the first record. Without
// it the batch carries -1 in all three, as Kafka's plain producers send.
func (bb *BatchBuilder) SetProducer(id int64, epoch int16, baseSequence int32) {
	bb.idempotent = true
	bb.producerID, bb.producerEpoch, bb.baseSequence = id, epoch, baseSequence
}

// SetTransactional sets whether the batch belongs to a transaction.
func (bb *BatchBuilder) SetTransactional(t bool) { bb.transactional = t }

// Append adds a record. A nil key, value or header value is null; an empty
// non-nil one is empty. A timestamp before the batch's baseTimestamp is fine:
// deltas are signed. Append panics if the batch would outgrow the 2 GiB a
// batch's length field can describe; callers cap batches by Size long before.
func (bb *BatchBuilder) Append(timestamp int64, key, value []byte, headers ...RecordHeader) {
	tsDelta := timestamp - bb.baseTimestamp // wraps and unwraps exactly on decode
	// Sizes are summed in int64 so that they cannot wrap on 32-bit platforms
	// before the bound check.
	body := int64(1 + kafkaVarintLen(tsDelta) + kafkaVarintLen(int64(bb.count)))
	body += int64(kafkaBytesLen(key)) + int64(kafkaBytesLen(value))
	body += int64(kafkaVarintLen(int64(len(headers))))
	for _, h := range headers {
		body += int64(kafkaVarintLen(int64(len(h.Key))) + len(h.Key))
		body += int64(kafkaBytesLen(h.Value))
	}
	size := int64(kafkaVarintLen(body)) + body
	if size > int64(maxBatchRecordsLen-len(bb.records())) {
		panic(fmt.Sprintf("format: record of %d bytes overflows a batch of %d bytes", size, bb.Size()))
	}
	b := bb.buf
	if len(b) == 0 {
		b = append(b, make([]byte, BatchHeaderSize)...)
	}
	b = slices.Grow(b, int(size))
	b = binary.AppendVarint(b, body)
	b = append(b, 0) // record attributes: none defined
	b = binary.AppendVarint(b, tsDelta)
	b = binary.AppendVarint(b, int64(bb.count))
	b = appendKafkaBytes(b, key)
	b = appendKafkaBytes(b, value)
	b = binary.AppendVarint(b, int64(len(headers)))
	for _, h := range headers {
		b = binary.AppendVarint(b, int64(len(h.Key)))
		b = append(b, h.Key...)
		b = appendKafkaBytes(b, h.Value)
	}
	bb.buf = b
	if bb.count == 0 || timestamp > bb.maxTimestamp {
		bb.maxTimestamp = timestamp
	}
	bb.count++
}

// Len returns the number of records appended since the last Reset.
func (bb *BatchBuilder) Len() int { return int(bb.count) }

// Size returns the exact size of the uncompressed batch Build would produce.
func (bb *BatchBuilder) Size() int { return BatchHeaderSize + len(bb.records()) }

// Build appends the uncompressed batch to dst and returns the extended slice.
// The builder is left as it was, so a caller may Build again or keep
// appending.
func (bb *BatchBuilder) Build(dst []byte) []byte {
	return append(dst, bb.Sealed()...)
}

// Sealed returns the uncompressed batch in the builder's own buffer: Build
// without the copy of the records. The slice belongs to the builder: it is
// valid until the next Reset or Append, and the next Sealed or Build
// rewrites its header.
func (bb *BatchBuilder) Sealed() []byte {
	if len(bb.buf) == 0 {
		bb.buf = append(bb.buf, make([]byte, BatchHeaderSize)...)
	}
	bb.seal(bb.buf, CompressionNone)
	return bb.buf
}

// BuildCompressed appends the batch to dst with its records section
// compressed by compress, which must append the compressed form of src to
// dst and return the extended slice, like Build does. The codecs live outside
// this package; c names the one compress implements and goes into the
// attributes. CompressionNone is Build and does not call compress.
func (bb *BatchBuilder) BuildCompressed(dst []byte, c Compression, compress func(dst, src []byte) ([]byte, error)) ([]byte, error) {
	switch {
	case c == CompressionNone:
		return bb.Build(dst), nil
	case c < CompressionNone || c > CompressionZstd:
		return dst, fmt.Errorf("format: unknown compression %v", c)
	}
	start := len(dst)
	out, err := compress(append(dst, make([]byte, BatchHeaderSize)...), bb.records())
	if err != nil {
		return dst, fmt.Errorf("format: compressing batch with %v: %w", c, err)
	}
	switch n := len(out) - start; {
	case n < BatchHeaderSize:
		return dst, fmt.Errorf("format: %v compressor returned %d bytes, fewer than it was given", c, len(out))
	case n-BatchHeaderSize > maxBatchRecordsLen:
		return dst, fmt.Errorf("format: %v compressed records of %d bytes overflow a batch", c, n-BatchHeaderSize)
	}
	bb.seal(out[start:], c)
	return out, nil
}

// seal fills in the header of b, a whole batch whose records section is in
// place, and its CRC.
func (bb *BatchBuilder) seal(b []byte, c Compression) {
	attrs := uint16(c)
	if bb.transactional {
		attrs |= batchAttrTransactional
	}
	lastOffsetDelta, maxTimestamp := bb.count-1, bb.maxTimestamp
	if bb.count == 0 {
		// lastOffsetDelta cannot be negative, so an empty batch still spans
		// one offset; with no record to take a maximum from, both
		// timestamps are the base.
		lastOffsetDelta, maxTimestamp = 0, bb.baseTimestamp
	}
	producerID, producerEpoch, baseSequence := int64(-1), int16(-1), int32(-1)
	if bb.idempotent {
		producerID, producerEpoch, baseSequence = bb.producerID, bb.producerEpoch, bb.baseSequence
	}
	be := binary.BigEndian
	be.PutUint64(b[batchOffBaseOffset:], 0)
	be.PutUint32(b[batchOffLength:], uint32(len(b)-batchLengthOverhead))
	be.PutUint32(b[batchOffLeaderEpoch:], ^uint32(0)) // -1: no leader yet
	b[batchOffMagic] = BatchMagic
	be.PutUint16(b[batchOffAttributes:], attrs)
	be.PutUint32(b[batchOffLastOffsetDelta:], uint32(lastOffsetDelta))
	be.PutUint64(b[batchOffBaseTimestamp:], uint64(bb.baseTimestamp))
	be.PutUint64(b[batchOffMaxTimestamp:], uint64(maxTimestamp))
	be.PutUint64(b[batchOffProducerID:], uint64(producerID))
	be.PutUint16(b[batchOffProducerEpoch:], uint16(producerEpoch))
	be.PutUint32(b[batchOffBaseSequence:], uint32(baseSequence))
	be.PutUint32(b[batchOffRecordCount:], uint32(bb.count))
	be.PutUint32(b[batchOffCRC:], crc32.Checksum(b[batchOffAttributes:], crcTable))
}
