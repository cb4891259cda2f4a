package format

import (
	"bytes"
	"testing"
)

const (
	benchRecordSize = 100
	benchRecords    = 100
)

func reportRecords(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkBuildBatch(b *testing.B) {
	value := bytes.Repeat([]byte("v"), benchRecordSize)
	var bb BatchBuilder
	var dst []byte
	b.SetBytes(benchRecords * benchRecordSize)
	b.ReportAllocs()
	for b.Loop() {
		bb.Reset(1_700_000_000_000)
		for i := range benchRecords {
			bb.Append(1_700_000_000_000+int64(i), nil, value)
		}
		dst = bb.Build(dst[:0])
	}
	reportRecords(b, benchRecords)
}

func BenchmarkRecordIter(b *testing.B) {
	value := bytes.Repeat([]byte("v"), benchRecordSize)
	var bb BatchBuilder
	for i := range benchRecords {
		bb.Append(int64(i), nil, value)
	}
	batch := bb.Build(nil)
	var r BatchRecord
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		it, err := NewRecordIter(batch)
		if err != nil {
			b.Fatal(err)
		}
		for it.Next(&r) {
		}
		if it.Err() != nil {
			b.Fatal(it.Err())
		}
	}
	reportRecords(b, benchRecords)
}

func BenchmarkValidateBatch(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 1000)
	var bb BatchBuilder
	for bb.Size() < 1<<20-1100 {
		bb.Append(int64(bb.Len()), []byte("key"), value)
	}
	batch := bb.Build(nil)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b, bb.Len())
}
