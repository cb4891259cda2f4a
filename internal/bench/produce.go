package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// produceShape is how a produce workload sends: producers, each keeping
// depth requests of batch records in flight (each request from its own
// client), for the run's duration.
type produceShape struct {
	size       int // bytes of a record's value
	durability Durability
	producers  int
	depth      int
	batch      int
}

// producePartitions is how many partitions the producers of a workload
// spread over, round robin.
const producePartitions = 4

// asyncBatchBytes is the size of an asynchronous producer's request: what a
// Kafka producer tuned for throughput sends (batch.size well above the
// 16 KiB default).
const asyncBatchBytes = 64 << 10

// inflightBatch is the records of one request of a synchronous producer that
// keeps records in flight: a producer with a short linger gathers about that
// many while its last request is out. Ack latency and throughput follow from
// it by Little's law (records in flight = throughput x latency).
const inflightBatch = 16

func produceWorkloads() []workload {
	var ws []workload
	for _, size := range []int{100, 1024} {
		label := sizeLabel(size)
		add := func(name, about, limit string, sh produceShape) {
			sh.size = size
			ws = append(ws, workload{name: "produce-" + label + name, about: about, kind: throughput, limit: limit,
				run: func(ctx context.Context, r *runner, sys System) ([]Figures, error) {
					return runProduce(ctx, r, sys, sh)
				}})
		}
		add("-async", fmt.Sprintf("1 producer, async durability, 4 requests of %d KiB in flight", asyncBatchBytes>>10),
			limitSeqWrite, produceShape{durability: Async, producers: 1, depth: 4, batch: asyncBatchBytes / size})
		for _, producers := range []int{1, 64} {
			depth := 1
			if producers == 1 {
				depth = 4 // one producer alone keeps several requests in flight
			}
			add(fmt.Sprintf("-sync-%dp-wait", producers),
				fmt.Sprintf("%d producer(s), sync durability, each waits for the ack of each record", producers),
				limitSyncPrealloc, produceShape{durability: Sync, producers: producers, depth: 1, batch: 1})
			add(fmt.Sprintf("-sync-%dp-inflight", producers),
				fmt.Sprintf("%d producer(s), sync durability, each keeps %d request(s) of %d records in flight", producers, depth, inflightBatch),
				limitSyncPrealloc, produceShape{durability: Sync, producers: producers, depth: depth, batch: inflightBatch})
		}
	}
	return ws
}

// sizeLabel names a record size: 100B, 1KiB.
func sizeLabel(size int) string {
	if size%1024 == 0 {
		return fmt.Sprintf("%dKiB", size/1024)
	}
	return fmt.Sprintf("%dB", size)
}

// recordValue returns a value of size bytes that no codec would shrink much.
func recordValue(size int) []byte {
	v := make([]byte, size)
	x := uint32(2463534242)
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = byte(x)
	}
	return v
}

func runProduce(ctx context.Context, r *runner, sys System, sh produceShape) (reps []Figures, err error) {
	st, err := sys.Stream(ctx, r.spec("produce", producePartitions, sh.durability, sh.size))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.Close(true)) }()
	clients, err := producers(ctx, st, sh.producers*sh.depth)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	values := make([][]byte, sh.batch)
	v := recordValue(sh.size)
	for i := range values {
		values[i] = v
	}
	// A warm-up: the first requests allocate space, open connections, fill
	// caches.
	if _, err := produceFor(ctx, st, clients, values, sh.size, r.sz.duration/4); err != nil {
		return nil, err
	}
	for range r.sz.reps {
		f, err := produceFor(ctx, st, clients, values, sh.size, r.sz.duration)
		if err != nil {
			return nil, err
		}
		if sh.durability == Async {
			f.RecordsPerSync = 0 // syncs come with the clock, not with the commits
		}
		reps = append(reps, f)
	}
	return reps, nil
}

// producers returns n producer clients of st.
func producers(ctx context.Context, st Stream, n int) ([]Producer, error) {
	out := make([]Producer, 0, n)
	for range n {
		p, err := st.Producer(ctx)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func closeAll(ps []Producer) {
	for _, p := range ps {
		p.Close()
	}
}

// produceFor has each client send values again and again, to the partitions
// in turn, for d, and measures records per second, ack latencies and, where
// the stream counts them, records per sync.
func produceFor(ctx context.Context, st Stream, clients []Producer, values [][]byte, size int, d time.Duration) (Figures, error) {
	counter, counts := st.(SyncCounter)
	var syncs uint64
	if counts {
		syncs = counter.Syncs()
	}
	lats := make([]latencies, len(clients))
	errs := make([]error, len(clients))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for t := time.Now(); t.Before(deadline); {
				if errs[i] = c.Send(ctx, i%producePartitions, values); errs[i] != nil {
					return
				}
				now := time.Now()
				lats[i] = append(lats[i], now.Sub(t))
				t = now
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Figures{}, err
	}
	all := latencies(slices.Concat(lats...))
	records := int64(len(all) * len(values))
	var f Figures
	f.setThroughput(records, size, took)
	f.setLatencies(all)
	if counts {
		if n := counter.Syncs() - syncs; n > 0 {
			f.RecordsPerSync = float64(records) / float64(n)
		}
	}
	return f, nil
}
