package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

func consumeWorkloads() []workload {
	var ws []workload
	for _, size := range []int{100, 1024} {
		ws = append(ws, workload{name: "consume-" + sizeLabel(size),
			about: "1 consumer reads a partition from its start, records already written (page cache)",
			kind:  throughput, limit: limitMemCopy,
			run: func(ctx context.Context, r *runner, sys System) ([]Figures, error) {
				n := r.sz.consumeRecords
				if size > 100 {
					n /= 4
				}
				return runConsume(ctx, r, sys, size, n)
			}})
	}
	return ws
}

// pollRecords is how many records a consumer asks for in one poll (systems
// that fetch by bytes ask for a MiB).
const pollRecords = 10_000

func runConsume(ctx context.Context, r *runner, sys System, size, n int) (reps []Figures, err error) {
	st, err := sys.Stream(ctx, r.spec("consume", 1, Async, size))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.Close(true)) }()
	if err := fill(ctx, st, 1, n, size); err != nil {
		return nil, err
	}
	for range r.sz.reps {
		c, err := st.Consumer(ctx, "")
		if err != nil {
			return nil, err
		}
		start := time.Now()
		got, err := drain(ctx, c, 0, n)
		took := time.Since(start)
		c.Close()
		if err != nil {
			return nil, err
		}
		var f Figures
		f.setThroughput(int64(got), size, took)
		reps = append(reps, f)
	}
	return reps, nil
}

// drain polls partition until it has read n records; every record must be
// there already.
func drain(ctx context.Context, c Consumer, partition, n int) (int, error) {
	got, bytes := 0, 0
	for got < n {
		// Asking for no more than is left spares a system that waits for a
		// full batch the wait at the end.
		k, err := c.Poll(ctx, partition, min(pollRecords, n-got), false, func(v []byte) { bytes += len(v) })
		if err != nil {
			return got, err
		}
		if k == 0 {
			return got, fmt.Errorf("partition %d ends after %d records, %d were written", partition, got, n)
		}
		got += k
	}
	return got, nil
}

// fill writes n records of size bytes into the stream's partitions, spread
// evenly, as fast as the system takes them (async requests of 64 KiB from
// one client per partition).
func fill(ctx context.Context, st Stream, partitions, n, size int) error {
	v := recordValue(size)
	batch := max(1, asyncBatchBytes/size)
	errs := make([]error, partitions)
	var wg sync.WaitGroup
	for p := range partitions {
		wg.Go(func() {
			c, err := st.Producer(ctx)
			if err != nil {
				errs[p] = err
				return
			}
			defer c.Close()
			values := make([][]byte, batch)
			for left := n / partitions; left > 0 && errs[p] == nil; left -= len(values) {
				values = values[:min(batch, left)]
				for i := range values {
					values[i] = v
				}
				errs[p] = c.Send(ctx, p, values)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
