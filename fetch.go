package spool

import (
	"fmt"
	"iter"
	"slices"
	"time"
	"unsafe"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// Fetch is the result of a Poll: batches of records of one or more
// partitions, in the order read, and each partition's records in offset
// order.
type Fetch struct {
	batches []fetchBatch
	records int

	buf      []byte   // the batches as read, reused from Poll to Poll
	size     int      // bytes of buf in use
	inflated [][]byte // decompressed records sections, one per compressed batch
	used     int      // entries of inflated in use

	keys    *headerKeys
	rec     Record
	headers []Header
	err     error
}

// fetchBatch is one batch of a fetch: its header, its records section
// (decompressed), and the first offset to return from it.
type fetchBatch struct {
	topic     string
	partition int32
	h         format.BatchHeader
	records   []byte
	from      int64
	acked     []store.OffsetRange // offsets not to return
}

// Len returns the number of records in the fetch.
func (f *Fetch) Len() int { return f.records }

// Records iterates over the records of the fetch. The *Record it yields is
// the same each time, refilled for each record, and its Key, Value and
// header values alias the fetch's buffers: iterating allocates nothing.
// Keep a record past the step with Record.Clone. After the loop, Err says
// whether every record could be decoded.
func (f *Fetch) Records() iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		for i := range f.batches {
			b := &f.batches[i]
			it := format.NewRecordIterRaw(b.h, b.records)
			var br format.BatchRecord
			for it.Next(&br) {
				if br.Offset < b.from || len(b.acked) > 0 && inRanges(b.acked, br.Offset) {
					continue
				}
				f.fill(b, &br)
				if !yield(&f.rec) {
					return
				}
			}
			if err := it.Err(); err != nil {
				f.err = fmt.Errorf("spool: %s/%d, batch at offset %d: %w", b.topic, b.partition, b.h.BaseOffset, err)
				return
			}
		}
	}
}

// Err returns the error that stopped the last iteration of Records, if a
// record could not be decoded.
func (f *Fetch) Err() error { return f.err }

func (f *Fetch) fill(b *fetchBatch, br *format.BatchRecord) {
	f.headers = f.headers[:0]
	for _, h := range br.Headers {
		f.headers = append(f.headers, Header{Key: f.keys.intern(h.Key), Value: h.Value})
	}
	f.rec = Record{Topic: b.topic, Partition: b.partition, Offset: br.Offset, Key: br.Key, Value: br.Value,
		Timestamp: time.UnixMilli(br.Timestamp)}
	if len(f.headers) > 0 {
		f.rec.Headers = f.headers
	}
}

// reset empties f for a Poll of up to maxBytes.
func (f *Fetch) reset(keys *headerKeys, maxBytes int) {
	clear(f.batches)
	f.batches = f.batches[:0]
	f.records, f.size, f.used, f.err = 0, 0, 0, nil
	f.keys = keys
	if len(f.buf) < maxBytes {
		f.buf = make([]byte, maxBytes)
	}
}

// region returns the free part of the read buffer, for the store to read
// into.
func (f *Fetch) region() []byte { return f.buf[f.size:f.size] }

// claim marks the bytes of batches as used when the store returned them in
// the read buffer, rather than in memory of its own.
func (f *Fetch) claim(batches []byte) {
	if len(batches) == 0 || f.size >= len(f.buf) {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(f.buf)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(batches)))
	if at >= start && at < start+uintptr(len(f.buf)) {
		f.size = int(at-start) + len(batches)
	}
}

// inflateBuffer returns a buffer for the next compressed batch's records.
func (f *Fetch) inflateBuffer() *[]byte {
	if f.used == len(f.inflated) {
		f.inflated = append(f.inflated, nil)
	}
	f.used++
	return &f.inflated[f.used-1]
}

// add appends a batch whose records from offset from, but for those in
// acked, are to be returned.
func (f *Fetch) add(topic string, partition int32, h format.BatchHeader, records []byte, from int64, acked []store.OffsetRange) {
	f.batches = append(f.batches, fetchBatch{topic: topic, partition: partition, h: h, records: records, from: from, acked: acked})
	// A batch's offsets are consecutive: Kafka producers number records
	// 0 to n-1 and nothing in spool removes records from inside a batch.
	first := max(from, h.BaseOffset)
	f.records += int(min(h.LastOffset()-first+1, int64(h.RecordCount)))
	for _, r := range acked {
		f.records -= int(max(0, min(r.End, h.LastOffset()+1)-max(r.Start, first)))
	}
}

// inRanges reports whether offset lies in one of the ascending ranges.
func inRanges(ranges []store.OffsetRange, offset int64) bool {
	_, found := slices.BinarySearchFunc(ranges, offset, func(r store.OffsetRange, o int64) int {
		if r.End <= o {
			return -1
		}
		if r.Start > o {
			return 1
		}
		return 0
	})
	return found
}

// skipAcked moves position past the acknowledged offsets at it, and drops
// the ranges it passed.
func skipAcked(position int64, acked []store.OffsetRange) (int64, []store.OffsetRange) {
	for len(acked) > 0 && acked[0].Start <= position {
		position = max(position, acked[0].End)
		acked = acked[1:]
	}
	if len(acked) == 0 {
		acked = nil
	}
	return position, acked
}

// maxHeaderKeys bounds the header keys a consumer interns; past it, keys are
// allocated per record.
const maxHeaderKeys = 1024

// headerKeys interns header keys: applications use a few keys over and over,
// and a string made once per key instead of once per record keeps iteration
// free of allocations.
type headerKeys struct{ m map[string]string }

func (k *headerKeys) intern(b []byte) string {
	if s, ok := k.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if k.m == nil {
		k.m = map[string]string{}
	}
	if len(k.m) < maxHeaderKeys {
		k.m[s] = s
	}
	return s
}
