package partition

import (
	"math/rand/v2"
	"testing"
)

// benchKeys returns distinct 16-byte keys, the size of a UUID, so that a
// benchmark does not hash one key from cache over and over.
func benchKeys() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = make([]byte, 16)
		for j := range keys[i] {
			keys[i][j] = byte(rng.Uint32())
		}
	}
	return keys
}

func BenchmarkForKey16(b *testing.B) {
	keys := benchKeys()
	b.SetBytes(16)
	b.ReportAllocs()
	var sink int32
	i := 0
	for b.Loop() {
		sink += ForKey(keys[i&1023], 12)
		i++
	}
	_ = sink
}

// BenchmarkDefaultKeyed16 is ForKey through the Partitioner interface, as a
// producer calls it.
func BenchmarkDefaultKeyed16(b *testing.B) {
	keys := benchKeys()
	var p Partitioner = NewDefault(nil)
	b.SetBytes(16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Partition(Record{Key: keys[i&1023]}, 12)
		i++
	}
}

// BenchmarkStickyKeyless ends a batch every 100 records, so it includes the
// locked choice of the next partition at its share.
func BenchmarkStickyKeyless(b *testing.B) {
	var p Partitioner = NewDefault(nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := p.Partition(Record{}, 12)
		if i++; i%100 == 0 {
			p.OnBatchDone(q)
		}
	}
}

func BenchmarkStickyKeylessParallel(b *testing.B) {
	p := NewDefault(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			q := p.Partition(Record{}, 12)
			if i++; i%100 == 0 {
				p.OnBatchDone(q)
			}
		}
	})
}
