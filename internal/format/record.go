package format

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BatchRecord is one record of a batch, as RecordIter decodes it.
//
// Key, Value and the headers' byte slices alias the batch: they are valid as
// long as the batch's bytes are, and are capped so that appending to them
// copies rather than overwrites the batch. Headers reuses its backing array
// from one call of Next to the next, so a caller that keeps headers past the
// next record copies them.
type BatchRecord struct {
	// Offset is the batch's baseOffset plus the record's offset delta.
	Offset int64
	// Timestamp is the batch's baseTimestamp plus the record's delta, or the
	// batch's maxTimestamp when the batch carries LogAppendTime, which is
	// what Kafka consumers see.
	Timestamp int64
	// Attributes is the record's attribute byte, unused by Kafka so far.
	Attributes int8
	// Key and Value are nil when null and empty but not nil when empty.
	Key   []byte
	Value []byte
	// Headers is empty when the record has none.
	Headers []RecordHeader
}

// RecordHeader is a record header. Kafka's header keys are strings; they stay
// bytes here so that decoding allocates nothing.
type RecordHeader struct {
	// Key is never null; a nil Key encodes as empty.
	Key []byte
	// Value is nil when null.
	Value []byte
}

// RecordIter decodes the records of an uncompressed records section, one at
// a time and without allocating (see BatchRecord for what the results alias):
//
//	it, err := format.NewRecordIter(batch)
//	...
//	var r format.BatchRecord
//	for it.Next(&r) {
//		...
//	}
//	if err := it.Err(); err != nil {
//		...
//	}
//
// It checks what it decodes, never panics, and stops at the first error,
// which wraps ErrBatchCorrupt: a record that does not fit its length or the
// section, an offset delta that does not increase or lies past the batch's
// lastOffsetDelta, or a section with bytes left after recordCount records.
type RecordIter struct {
	rest            []byte
	left            int32 // records yet to decode
	index           int32 // of the next record, for error messages
	prevDelta       int64 // offset delta of the last record, -1 before the first
	lastOffsetDelta int64
	baseOffset      int64
	baseTimestamp   int64
	appendTime      int64
	logAppendTime   bool
	err             error
}

// NewRecordIter returns an iterator over the records of an uncompressed
// batch. batch must hold exactly one whole batch. NewRecordIter checks the
// header but not the CRC: use ValidateBatch on bytes not already validated.
// A compressed batch gives ErrCompressedBatch.
func NewRecordIter(batch []byte) (RecordIter, error) {
	h, err := ParseBatchHeader(batch)
	switch {
	case err != nil:
		return RecordIter{}, err
	case len(batch) < h.Size():
		return RecordIter{}, fmt.Errorf("%w: %d bytes, batch needs %d", ErrShortBatch, len(batch), h.Size())
	case len(batch) > h.Size():
		return RecordIter{}, fmt.Errorf("%w: %d bytes after the batch", ErrBatchCorrupt, len(batch)-h.Size())
	case h.Compression() != CompressionNone:
		return RecordIter{}, fmt.Errorf("%w with %v", ErrCompressedBatch, h.Compression())
	}
	return NewRecordIterRaw(h, batch[BatchHeaderSize:]), nil
}

// NewRecordIterRaw returns an iterator over records, the records section of
// the batch with header h, already decompressed if the batch is compressed.
// Errors in h surface from Err.
func NewRecordIterRaw(h BatchHeader, records []byte) RecordIter {
	it := RecordIter{
		rest:            records,
		left:            h.RecordCount,
		prevDelta:       -1,
		lastOffsetDelta: int64(h.LastOffsetDelta),
		baseOffset:      h.BaseOffset,
		baseTimestamp:   h.BaseTimestamp,
		appendTime:      h.MaxTimestamp,
		logAppendTime:   h.LogAppendTime(),
	}
	if h.RecordCount < 0 {
		it.left = 0
		it.err = fmt.Errorf("%w: record count %d", ErrBatchCorrupt, h.RecordCount)
	}
	return it
}

// Next decodes the next record into r and reports whether there was one.
// Once it returns false, Err says whether the records ended well.
func (it *RecordIter) Next(r *BatchRecord) bool {
	if it.err != nil {
		return false
	}
	if it.left == 0 {
		if len(it.rest) != 0 {
			it.err = fmt.Errorf("%w: %d bytes after the last record", ErrBatchCorrupt, len(it.rest))
			it.rest = nil
		}
		return false
	}
	length, n := readKafkaVarint(it.rest)
	if n <= 0 || length < 0 || int(length) > len(it.rest)-n {
		return it.fail("length")
	}
	body := it.rest[n : n+int(length)]
	it.rest = it.rest[n+int(length):]

	if len(body) == 0 {
		return it.fail("attributes")
	}
	r.Attributes = int8(body[0])
	p := body[1:]
	tsDelta, n := binary.Varint(p)
	if n <= 0 {
		return it.fail("timestamp delta")
	}
	p = p[n:]
	offDelta, n := readKafkaVarint(p)
	if n <= 0 || int64(offDelta) <= it.prevDelta || int64(offDelta) > it.lastOffsetDelta {
		return it.fail("offset delta")
	}
	p = p[n:]
	var ok bool
	if r.Key, p, ok = readKafkaBytes(p, true); !ok {
		return it.fail("key")
	}
	if r.Value, p, ok = readKafkaBytes(p, true); !ok {
		return it.fail("value")
	}
	count, n := readKafkaVarint(p)
	if n <= 0 || count < 0 {
		return it.fail("header count")
	}
	p = p[n:]
	r.Headers = r.Headers[:0]
	for range count {
		var h RecordHeader
		if h.Key, p, ok = readKafkaBytes(p, false); !ok {
			return it.fail("header key")
		}
		if h.Value, p, ok = readKafkaBytes(p, true); !ok {
			return it.fail("header value")
		}
		r.Headers = append(r.Headers, h)
	}
	if len(p) != 0 {
		return it.fail("length: longer than its fields")
	}

	it.prevDelta = int64(offDelta)
	r.Offset = it.baseOffset + int64(offDelta)
	if it.logAppendTime {
		r.Timestamp = it.appendTime
	} else {
		r.Timestamp = it.baseTimestamp + tsDelta
	}
	it.left--
	it.index++
	return true
}

// fail stops the iteration with an error naming the record and the field
// that did not decode.
func (it *RecordIter) fail(field string) bool {
	it.err = fmt.Errorf("%w: record %d: bad %s", ErrBatchCorrupt, it.index, field)
	it.rest = nil
	it.left = 0
	return false
}

// Err returns the error that stopped the iteration, or nil.
func (it *RecordIter) Err() error { return it.err }

// readKafkaVarint decodes one of Kafka's zigzag varints, which hold an int32
// in at most 5 bytes. n is the number of bytes read, or ≤ 0 if b is
// truncated or holds something longer or larger.
func readKafkaVarint(b []byte) (v int32, n int) {
	// Not binary.Varint: bounding the loop at 5 bytes makes this small
	// enough to inline, and most fields here are one byte.
	var u uint64
	for i := 0; i < len(b) && i < binary.MaxVarintLen32; i++ {
		u |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			if u > math.MaxUint32 {
				return 0, -1
			}
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -1
}

// readKafkaBytes decodes a length-prefixed field: a varint length, then as many
// bytes, or no bytes and a nil field for length -1 when nullable. ok is false
// for a bad or out-of-range length.
func readKafkaBytes(b []byte, nullable bool) (field, rest []byte, ok bool) {
	l, n := readKafkaVarint(b)
	if n <= 0 {
		return nil, b, false
	}
	b = b[n:]
	switch {
	case l == -1 && nullable:
		return nil, b, true
	case l < 0 || int(l) > len(b):
		return nil, b, false
	}
	return b[:l:l], b[l:], true
}

// kafkaVarintLen returns the encoded size of v as a zigzag varint (or varlong:
// the encodings agree on every int32).
func kafkaVarintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// kafkaBytesLen returns the encoded size of a length-prefixed field; nil is
// null.
func kafkaBytesLen(b []byte) int {
	if b == nil {
		return kafkaVarintLen(-1)
	}
	return kafkaVarintLen(int64(len(b))) + len(b)
}

// appendKafkaBytes appends a length-prefixed field; nil is written as null.
func appendKafkaBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
