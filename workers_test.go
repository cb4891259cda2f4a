package spool

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// handled counts, per partition and offset, the records whose handler
// finished its work.
type handled struct {
	mu   sync.Mutex
	n    map[TopicPartition]map[int64]int
	by   map[string]int // records finished by each pool
	cond sync.Cond
}

func newHandled() *handled {
	h := &handled{n: map[TopicPartition]map[int64]int{}, by: map[string]int{}}
	h.cond.L = &h.mu
	return h
}

func (h *handled) add(pool string, r *Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tp := TopicPartition{r.Topic, r.Partition}
	if h.n[tp] == nil {
		h.n[tp] = map[int64]int{}
	}
	h.n[tp][r.Offset]++
	h.by[pool]++
	h.cond.Broadcast()
}

// waitFor waits until cond holds, failing the test after a minute.
func (h *handled) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.AfterFunc(time.Minute, func() {
		h.mu.Lock()
		h.cond.Broadcast()
		h.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for !cond() {
		if time.Since(start) > time.Minute {
			t.Fatalf("after a minute, still waiting for %s", what)
		}
		h.cond.Wait()
	}
}

func (h *handled) total() int {
	n := 0
	for _, m := range h.n {
		n += len(m)
	}
	return n
}

// runWorkers runs a pool until the test ends, and checks that Run returned
// nil.
func runWorkers(t *testing.T, db *DB, opts WorkersOptions, handler Handler) context.CancelFunc {
	t.Helper()
	w, err := db.NewWorkers(opts, handler)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(stop) })
	return func() { once.Do(stop) }
}

// produceTo produces n records to each partition of "t" with ManualPartitioner.
func produceTo(t testing.TB, db *DB, partitions int32, n int) {
	t.Helper()
	p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
	var rs []*Record
	for part := range partitions {
		for i := range n {
			rs = append(rs, &Record{Topic: "t", Partition: part, Value: fmt.Appendf(nil, "%d-%d", part, i)})
		}
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		t.Fatal(err)
	}
}

// TestFoundingScenario is the problem spool exists to fix. A member holds
// 1,000 records, has acknowledged 999 and is still working on one when a
// new member joins and takes that record's partition. Kafka would hand the
// partition over at the last committed offset and process hundreds of the
// 999 again. spool's member finishes the record (or, past the rebalance
// timeout, abandons it), commits every acknowledgement with the release,
// and the new member starts exactly there: none of the 999 is processed
// again, and the last one exactly once.
func TestFoundingScenario(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprintf("abandon=%v", abandon), func(t *testing.T) {
			db := openDB(t, 2)
			produceTo(t, db, 2, 500)
			// The cooperative-sticky assignor keeps the lowest partition
			// with the member that has it: partition 1 moves.
			slow := TopicPartition{"t", 1}
			const slowOffset = 250
			h := newHandled()
			release := make(chan struct{})
			revoked := make(chan []TopicPartition, 1)
			opts := WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g"}, Topics: []string{"t"},
				Ordering: Unordered, Workers: 8, MaxInFlight: 2000}
			first := opts
			first.OnRevoked = func(tps []TopicPartition) { revoked <- tps }
			if abandon {
				first.RebalanceTimeout = 200 * time.Millisecond
			}
			runWorkers(t, db, first, func(ctx context.Context, r *Record, tx *Tx) error {
				if (TopicPartition{r.Topic, r.Partition}) == slow && r.Offset == slowOffset {
					select {
					case <-release:
					case <-ctx.Done():
						return ctx.Err() // abandoned: no work done
					}
				}
				h.add("first", r)
				return nil
			})
			h.waitFor(t, "999 records acknowledged", func() bool { return h.total() == 999 })

			runWorkers(t, db, opts, func(ctx context.Context, r *Record, tx *Tx) error {
				h.add("second", r)
				return nil
			})
			if tps := <-revoked; len(tps) != 1 || tps[0] != slow {
				t.Fatalf("the first member hands over %v, want %v", tps, slow)
			}
			if !abandon {
				close(release)
			}
			// A new record in the moved partition shows that the second
			// member owns it and started past the 1,000.
			p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
			if err := p.ProduceSync(ctx, &Record{Topic: "t", Partition: slow.Partition, Value: []byte("after")}); err != nil {
				t.Fatal(err)
			}
			h.waitFor(t, "the record produced after the hand-over, and the slow one", func() bool {
				return h.n[slow][500] == 1 && h.n[slow][slowOffset] == 1
			})

			h.mu.Lock()
			defer h.mu.Unlock()
			for tp, offsets := range h.n {
				for off, n := range offsets {
					if n != 1 {
						t.Errorf("%s/%d offset %d processed %d times", tp.Topic, tp.Partition, off, n)
					}
				}
			}
			if got := h.total(); got != 1001 {
				t.Errorf("%d records processed, want 1001", got)
			}
			want := 1 // the record produced after
			if abandon {
				want = 2 // and the abandoned one
			}
			if h.by["second"] != want {
				t.Errorf("the new member processed %d records, want %d", h.by["second"], want)
			}
		})
	}
}

// TestWorkersOrdering: PerPartition hands a partition's records to the
// handler one at a time in offset order, PerKey a key's; Unordered lets
// records of one key overlap. Each handler checks its rule as records
// arrive, with the records of a lane overlapping if the rule allows.
func TestWorkersOrdering(t *testing.T) {
	for _, o := range []Ordering{PerPartition, PerKey, Unordered} {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			db := openDB(t, 2)
			p := newProducer(t, db, nil)
			var rs []*Record
			for i := range 2000 {
				k := fmt.Appendf(nil, "k%d", i%10)
				rs = append(rs, &Record{Topic: "t", Key: k, Value: fmt.Appendf(nil, "%d", i)})
			}
			if err := p.ProduceSync(ctx, rs...); err != nil {
				t.Fatal(err)
			}
			h := newHandled()
			var mu sync.Mutex
			running := map[string]int{} // records of a lane with a worker now
			last := map[string]int64{}  // a lane's last offset started
			overlapped, outOfOrder := 0, 0
			// Unordered: the first record waits until another of its
			// lane runs beside it, which only an ordering that lets them
			// overlap allows (others fail after ten seconds).
			first, together := "", make(chan struct{})
			lane := func(r *Record) string {
				if o == PerPartition {
					return fmt.Sprint(r.Partition)
				}
				return fmt.Sprint(r.Partition, string(r.Key))
			}
			runWorkers(t, db, WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g"}, Topics: []string{"t"},
				Ordering: o, Workers: 8}, func(ctx context.Context, r *Record, tx *Tx) error {
				l := lane(r)
				mu.Lock()
				running[l]++
				if running[l] > 1 {
					overlapped++
				}
				if prev, ok := last[l]; ok && r.Offset < prev {
					outOfOrder++
				}
				last[l] = r.Offset
				wait := false
				if o == Unordered {
					if first == "" {
						first, wait = l, true
					} else if l == first && running[l] == 2 {
						close(together)
						first = "done"
					}
				}
				mu.Unlock()
				if wait {
					select {
					case <-together:
					case <-time.After(10 * time.Second):
					}
				}
				// Give other workers a chance to start a record of
				// the same lane, if the ordering lets them.
				for range 100 {
					runtime.Gosched()
				}
				mu.Lock()
				running[l]--
				mu.Unlock()
				h.add("pool", r)
				return nil
			})
			h.waitFor(t, "every record", func() bool { return h.total() == 2000 })
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case PerPartition, PerKey:
				if overlapped != 0 || outOfOrder != 0 {
					t.Fatalf("%d records overlapped others of their lane, %d came out of order", overlapped, outOfOrder)
				}
			case Unordered:
				if overlapped == 0 {
					t.Fatal("no two records of a key ran at once with 8 workers: Unordered serializes")
				}
			}
		})
	}
}
