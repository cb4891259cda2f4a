package partition

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Sticky is Kafka's sticky partitioner of KIP-480 (the Java client's
// DefaultPartitioner from 2.4, franz-go's StickyKeyPartitioner): a keyed
// record goes to ForKey's partition; a record without a key goes to the
// partition chosen for the topic's keyless records, which stays the same
// until the batch being filled there is done. Then the next one is chosen
// at random among the other partitions. Sticking fills fewer, larger
// batches than spreading each record at random, for the same spread over
// time.
//
// KIP-480 chooses among available partitions; every partition of a spool
// topic can be written, so all of them are available.
//
// Kafka 3.3 and later (KIP-794) switch after a fixed number of bytes instead
// of at batch boundaries; that changes only where keyless records go, never
// a keyed one.
//
// The zero value hashes keys and draws from a random source seeded by the
// runtime. Sticky is safe for concurrent use: choosing a partition takes a
// lock once per batch, returning the current one takes none.
type Sticky struct {
	// ignoreKeys makes keyed records sticky too (NewSticky).
	ignoreKeys bool
	// cur is the sticky partition plus one, so that the zero value means
	// none chosen yet. Atomic so that the common case, a partition already
	// chosen, costs one load.
	cur atomic.Int32

	mu sync.Mutex
	// left is the partition plus one that the last OnBatchDone moved away
	// from, 0 if none: the next choice avoids it.
	left int32
	// rng is the injected source, nil for the runtime's.
	rng *rand.Rand
}

// NewDefault returns the partitioner Kafka's clients use by default: keyed
// records by ForKey, keyless ones sticky. A nil src draws from the runtime's
// random source; tests pass a seeded one (such as rand.NewPCG) to get the
// same choices every run. src is used under Sticky's lock, so it need not be
// safe for concurrent use itself.
func NewDefault(src rand.Source) *Sticky {
	s := new(Sticky)
	if src != nil {
		s.rng = rand.New(src)
	}
	return s
}

// NewSticky returns a sticky partitioner that ignores keys: every record
// goes to the sticky partition, like franz-go's StickyPartitioner (the Java
// client's counterpart is partitioner.ignore.keys=true, which switches by
// bytes as in KIP-794). src is as for NewDefault.
func NewSticky(src rand.Source) *Sticky {
	s := NewDefault(src)
	s.ignoreKeys = true
	return s
}

// Partition returns ForKey's partition for a keyed record (unless keys are
// ignored) and the sticky partition otherwise, choosing one if there is
// none yet or the topic has fewer partitions than the one chosen.
func (s *Sticky) Partition(r Record, partitions int32) int32 {
	if r.Key != nil && !s.ignoreKeys {
		return ForKey(r.Key, partitions)
	}
	mustPositive(partitions)
	if p := s.cur.Load() - 1; p >= 0 && p < partitions {
		return p
	}
	return s.choose(partitions)
}

// choose sets a new sticky partition unless another goroutine did so while
// this one waited for the lock.
func (s *Sticky) choose(partitions int32) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.cur.Load() - 1; p >= 0 && p < partitions {
		return p
	}
	p := s.draw(partitions)
	s.cur.Store(p + 1)
	return p
}

// draw picks uniformly among the partitions other than the one just left,
// as KIP-480's StickyPartitionCache does by drawing again until it differs.
// Drawing among partitions-1 and stepping over the one left gives the same
// distribution in one draw; stepping to the next partition after a repeat
// (as franz-go does) would make that neighbour twice as likely.
func (s *Sticky) draw(partitions int32) int32 {
	left := s.left - 1
	s.left = 0
	if partitions == 1 {
		return 0
	}
	if left < 0 || left >= partitions {
		return s.int32N(partitions)
	}
	p := s.int32N(partitions - 1)
	if p >= left {
		p++
	}
	return p
}

func (s *Sticky) int32N(n int32) int32 {
	if s.rng == nil {
		return rand.Int32N(n)
	}
	return s.rng.Int32N(n)
}

// OnBatchDone moves the sticky partition away from partition if it is the
// sticky one, and reports whether it did. A batch done on another partition,
// filled by keyed records, leaves the sticky partition where it is, as in
// the Java client, whose onNewBatch moves only off the partition named.
func (s *Sticky) OnBatchDone(partition int32) bool {
	if partition < 0 || s.cur.Load()-1 != partition {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Load()-1 != partition {
		return false
	}
	// The next partition is drawn when Partition next needs one, because
	// only Partition knows how many partitions there are to draw from.
	s.left = partition + 1
	s.cur.Store(0)
	return true
}
