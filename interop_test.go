package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spooldb/spool/internal/store"
)

// franzBatch encodes records as a RecordBatch the way a Kafka client sends
// one, with franz-go's wire encoding (kmsg) and compressor, not spool's.
func franzBatch(t *testing.T, codec kgo.CompressionCodec, records []kmsg.Record, firstTimestamp int64) []byte {
	t.Helper()
	var raw []byte
	for i := range records {
		r := &records[i]
		r.OffsetDelta = int32(i)
		r.Length = 0
		body := len(r.AppendTo(nil)) - 1 // less the one byte of Length 0
		r.Length = int32(body)
		raw = r.AppendTo(raw)
	}
	comp, err := kgo.DefaultCompressor(codec)
	if err != nil {
		t.Fatal(err)
	}
	attrs := int16(0)
	if comp != nil {
		var used kgo.CompressionCodecType
		raw, used = comp.Compress(new(bytes.Buffer), raw)
		attrs = int16(used)
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(records) - 1),
		FirstTimestamp: firstTimestamp, MaxTimestamp: firstTimestamp + int64(len(records)), ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: int32(len(records)), Records: raw}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// TestReadFranzGoBatches stores batches encoded and compressed by franz-go,
// with every codec, and consumes their records through spool.
func TestReadFranzGoBatches(t *testing.T) {
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, 1)
			var records []kmsg.Record
			for i := range 300 {
				r := kmsg.Record{TimestampDelta64: int64(i), Key: []byte(fmt.Sprint("key-", i%10)),
					Value: bytes.Repeat([]byte(fmt.Sprint(i)), 1+i%50)}
				if i%3 == 0 {
					r.Headers = []kmsg.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}}
				}
				records = append(records, r)
			}
			batch := franzBatch(t, codec, records, 1_700_000_000_000)
			if _, err := db.s.Commit(ctx, &store.Txn{Appends: []store.Append{{Topic: "t", Batches: batch}}}); err != nil {
				t.Fatalf("store refused franz-go's %s batch: %v", name, err)
			}
			c := newConsumer(t, db, nil)
			if err := c.Assign("t"); err != nil {
				t.Fatal(err)
			}
			for i, r := range pollAll(t, c, len(records)) {
				w := records[i]
				if r.Offset != int64(i) || !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) ||
					r.Timestamp.UnixMilli() != 1_700_000_000_000+int64(i) || len(r.Headers) != len(w.Headers) {
					t.Fatalf("record %d differs: %+v", i, r)
				}
				if len(w.Headers) > 0 && (r.Headers[0].Key != w.Headers[0].Key || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value)) {
					t.Fatalf("record %d header differs: %+v", i, r.Headers)
				}
			}
		})
	}
}
