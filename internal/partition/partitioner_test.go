package partition

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestRoundRobin(t *testing.T) {
	var rr RoundRobin
	for i := range 20 {
		// Keys are ignored, as by Java's RoundRobinPartitioner.
		if p := rr.Partition(Record{Key: []byte("same")}, 3); p != int32(i%3) {
			t.Fatalf("record %d went to %d, want %d", i, p, i%3)
		}
		if rr.OnBatchDone(int32(i % 3)) {
			t.Fatal("RoundRobin.OnBatchDone reported a move, which would make a producer skip a partition")
		}
	}
}

// TestRoundRobinWraps checks the turn past MaxInt32: Java's toPositive
// restarts it at 0 rather than going negative.
func TestRoundRobinWraps(t *testing.T) {
	var rr RoundRobin
	rr.next.Store(math.MaxInt32)
	const n = 10
	if p := rr.Partition(Record{}, n); p != math.MaxInt32%n {
		t.Fatalf("at MaxInt32: %d, want %d", p, math.MaxInt32%n)
	}
	for i := range 3 {
		if p := rr.Partition(Record{}, n); p != int32(i) {
			t.Fatalf("%d after the wrap: %d, want %d", i, p, i)
		}
	}
}

// TestRoundRobinConcurrent checks that concurrent records share the turns
// exactly: no partition is skipped or given twice.
func TestRoundRobinConcurrent(t *testing.T) {
	const n, goroutines, each = 5, 4, 1000
	var rr RoundRobin
	var mu sync.Mutex
	var per [n]int
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			var mine [n]int
			for range each {
				mine[rr.Partition(Record{}, n)]++
			}
			mu.Lock()
			for p, c := range mine {
				per[p] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for p, c := range per {
		if c != goroutines*each/n {
			t.Errorf("partition %d got %d records, want %d", p, c, goroutines*each/n)
		}
	}
}

func TestManual(t *testing.T) {
	var m Manual
	for _, p := range []int32{0, 3, 7, -1} {
		if got := m.Partition(Record{Key: []byte("k"), Partition: p}, 4); got != p {
			t.Errorf("Manual put a record of partition %d in %d", p, got)
		}
	}
	if m.OnBatchDone(3) {
		t.Error("Manual.OnBatchDone reported a move")
	}
}

func TestFunc(t *testing.T) {
	byValue := Func(func(r Record, n int32) int32 { return int32(len(r.Value)) % n })
	var p Partitioner = byValue
	if got := p.Partition(Record{Value: []byte("hello")}, 3); got != 2 {
		t.Errorf("Func returned %d, want 2", got)
	}
	if p.OnBatchDone(2) {
		t.Error("Func.OnBatchDone reported a move")
	}
}

// TestNoAllocs holds the promise that partitioning allocates nothing,
// through the interface as a producer calls it.
func TestNoAllocs(t *testing.T) {
	key := []byte("0123456789abcdef")
	for name, p := range map[string]Partitioner{
		"Default":    NewDefault(rand.NewPCG(1, 1)),
		"Sticky":     NewSticky(nil),
		"RoundRobin": new(RoundRobin),
		"Manual":     Manual{},
		"Func":       Func(func(r Record, n int32) int32 { return ForKey(r.Key, n) }),
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			p.Partition(Record{Key: key}, 12)
			q := p.Partition(Record{}, 12)
			if p.OnBatchDone(q) {
				p.Partition(Record{}, 12)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per record", name, allocs)
		}
	}
	if allocs := testing.AllocsPerRun(1000, func() { ForKey(key, 12) }); allocs != 0 {
		t.Errorf("ForKey: %v allocations", allocs)
	}
}
