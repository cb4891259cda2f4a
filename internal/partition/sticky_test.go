package partition

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestStickyStaysUntilBatchDone checks KIP-480's promise: keyless records
// share one partition until its batch is done, then move to another one.
func TestStickyStaysUntilBatchDone(t *testing.T) {
	const n = 6
	s := NewDefault(rand.NewPCG(1, 1))
	keyless := Record{}
	cur := s.Partition(keyless, n)
	for batch := range 200 {
		for range 50 {
			if p := s.Partition(keyless, n); p != cur {
				t.Fatalf("batch %d: keyless record went to %d, the batch is filling %d", batch, p, cur)
			}
			// Keyed records in between neither move nor follow it.
			if p := s.Partition(Record{Key: []byte("k")}, n); p != ForKey([]byte("k"), n) {
				t.Fatalf("keyed record went to %d, want ForKey's %d", p, ForKey([]byte("k"), n))
			}
		}
		// A batch done elsewhere leaves the sticky partition alone.
		if s.OnBatchDone((cur + 1) % n) {
			t.Fatalf("batch %d: OnBatchDone(%d) moved the sticky partition %d", batch, (cur+1)%n, cur)
		}
		if !s.OnBatchDone(cur) {
			t.Fatalf("batch %d: OnBatchDone(%d) did not move the sticky partition off it", batch, cur)
		}
		// Twice for the same batch, as a linger timer and a full batch
		// may both report it, moves once.
		if s.OnBatchDone(cur) {
			t.Fatalf("batch %d: a second OnBatchDone(%d) reported a move", batch, cur)
		}
		next := s.Partition(keyless, n)
		if next == cur {
			t.Fatalf("batch %d: after its batch was done the sticky partition stayed on %d", batch, cur)
		}
		cur = next
	}
}

// TestStickyEvenOverBatches checks that the partitions chosen over many
// batches are spread evenly, and that the next partition is uniform among
// the others: no neighbour of the one left is favoured.
func TestStickyEvenOverBatches(t *testing.T) {
	const (
		n       = 8
		batches = 40000
	)
	s := NewDefault(rand.NewPCG(42, 7))
	var per [n]int
	var pairs [n][n]int
	prev := s.Partition(Record{}, n)
	for range batches {
		s.OnBatchDone(prev)
		p := s.Partition(Record{}, n)
		per[p]++
		pairs[prev][p]++
		prev = p
	}
	// 5000 expected each; the binomial spread is about 66, so 10% is
	// far outside chance and far inside any real bias.
	want := batches / n
	for p, got := range per {
		if got < want*9/10 || got > want*11/10 {
			t.Errorf("partition %d started %d of %d batches, want about %d", p, got, batches, want)
		}
	}
	// Each of the 56 transitions: about 714 expected, spread about 26.
	wantPair := batches / (n * (n - 1))
	for from := range n {
		for to := range n {
			got := pairs[from][to]
			if from == to {
				if got != 0 {
					t.Errorf("stayed on %d %d times after its batch was done", from, got)
				}
				continue
			}
			if got < wantPair*3/4 || got > wantPair*5/4 {
				t.Errorf("moved %d -> %d %d times, want about %d", from, to, got, wantPair)
			}
		}
	}
}

// TestStickySeeded checks that an injected source makes the choices
// repeatable, which the other tests rely on.
func TestStickySeeded(t *testing.T) {
	run := func() []int32 {
		s := NewDefault(rand.NewPCG(9, 9))
		var got []int32
		for range 100 {
			p := s.Partition(Record{}, 50)
			got = append(got, p)
			s.OnBatchDone(p)
		}
		return got
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("choice %d: %d then %d from the same seed", i, a[i], b[i])
		}
	}
}

// TestStickyZeroValue checks the documented zero value: Kafka's default,
// with the runtime's randomness.
func TestStickyZeroValue(t *testing.T) {
	var s Sticky
	if got, want := s.Partition(Record{Key: []byte("foobar")}, 12), ForKey([]byte("foobar"), 12); got != want {
		t.Errorf("zero Sticky put a keyed record in %d, want %d", got, want)
	}
	p := s.Partition(Record{}, 12)
	if p < 0 || p >= 12 || s.Partition(Record{}, 12) != p {
		t.Errorf("zero Sticky: keyless records in %d then elsewhere", p)
	}
}

// TestStickyIgnoreKeys checks NewSticky: keyed records stick too.
func TestStickyIgnoreKeys(t *testing.T) {
	s := NewSticky(rand.NewPCG(5, 5))
	cur := s.Partition(Record{}, 100)
	for i := range 100 {
		k := []byte{byte(i)}
		if p := s.Partition(Record{Key: k}, 100); p != cur {
			t.Fatalf("key %x went to %d, want the sticky %d", k, p, cur)
		}
	}
}

// TestStickyEdges covers one partition, a topic that shrank under the
// sticky partition, and an empty key, which Kafka hashes.
func TestStickyEdges(t *testing.T) {
	s := NewDefault(rand.NewPCG(3, 3))
	for range 5 {
		if p := s.Partition(Record{}, 1); p != 0 {
			t.Fatalf("one partition: got %d", p)
		}
		if !s.OnBatchDone(0) {
			t.Fatal("one partition: OnBatchDone(0) did not report a move")
		}
	}

	s = NewDefault(rand.NewPCG(4, 4))
	for s.Partition(Record{}, 10) < 5 {
		s.OnBatchDone(s.Partition(Record{}, 10))
	}
	if p := s.Partition(Record{}, 5); p < 0 || p >= 5 {
		t.Fatalf("after shrinking to 5 partitions: got %d", p)
	}

	if got, want := s.Partition(Record{Key: []byte{}}, 16), ForKey(nil, 16); got != want {
		t.Errorf("empty key went to %d, want its hash's %d", got, want)
	}
	if s.OnBatchDone(-1) {
		t.Error("OnBatchDone(-1) reported a move")
	}
}

// TestStickyConcurrent runs producers and batch completions at once under
// the race detector; every answer must stay in range and, between batch
// ends, the keyless records of one goroutine agree with each other.
func TestStickyConcurrent(t *testing.T) {
	const n = 7
	s := NewDefault(rand.NewPCG(8, 8))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				p := s.Partition(Record{}, n)
				if p < 0 || p >= n {
					t.Errorf("goroutine %d: partition %d of %d", g, p, n)
					return
				}
				if i%50 == 0 {
					s.OnBatchDone(p)
				}
				k := []byte{byte(i), byte(g)}
				if q := s.Partition(Record{Key: k}, n); q != ForKey(k, n) {
					t.Errorf("goroutine %d: keyed record in %d, want %d", g, q, ForKey(k, n))
					return
				}
			}
		})
	}
	wg.Wait()
}
