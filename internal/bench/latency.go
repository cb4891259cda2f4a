package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The latency workloads: this process produces one record at a time
// (async durability) and a consumer in another process reports when it has
// it in hand. The record carries the time just before its produce call, and
// the consumer subtracts that from its own clock: both read the same system
// clock. The next record goes once the consumer has reported, so exactly
// one is in flight.
//
// Back to back, the consumer is still awake from the last record; 1 ms
// apart, it has gone to sleep (spool's waiter sleeps on a futex) and the
// record must wake it.

const latencyRecordSize = 100

func latencyWorkloads() []workload {
	add := func(name, about string, gap time.Duration, samples func(sizes) int) workload {
		return workload{name: name, about: about, kind: latency,
			run: func(ctx context.Context, r *runner, sys System) ([]Figures, error) {
				return runLatency(ctx, r, sys, gap, samples(r.sz))
			}}
	}
	return []workload{
		add("latency", "produce to consume across two processes, one record in flight, sent back to back", 0,
			func(s sizes) int { return s.latencySamples }),
		add("latency-idle", "produce to consume across two processes, one record every 1 ms (the consumer idles between)",
			time.Millisecond, func(s sizes) int { return s.idleSamples }),
	}
}

// latencyWarmup is how many records go before the measurement: the consumer
// connects, caches fill.
const latencyWarmup = 20

func runLatency(ctx context.Context, r *runner, sys System, gap time.Duration, samples int) (reps []Figures, err error) {
	spec := r.spec("latency", 1, Async, latencyRecordSize)
	spec.Tail = true
	st, err := sys.Stream(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.Close(true)) }()
	spec.Attach = true
	c, err := r.startChild(sys, roleLatency, spec)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	if _, err := c.expect("ready", time.Minute); err != nil {
		return nil, err
	}
	p, err := st.Producer(ctx)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	values := [][]byte{recordValue(latencyRecordSize)}
	// one sends a record and returns its latency as the consumer saw it.
	one := func() (time.Duration, error) {
		stamp(values[0])
		if err := p.Send(ctx, 0, values); err != nil {
			return 0, err
		}
		l, err := c.expect("lat ", time.Minute)
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(l, 10, 64)
		return time.Duration(ns), err
	}
	for range latencyWarmup {
		if _, err := one(); err != nil {
			return nil, err
		}
	}
	for range r.sz.reps {
		lats := make(latencies, 0, samples)
		for range samples {
			if gap > 0 {
				time.Sleep(gap)
			}
			l, err := one()
			if err != nil {
				return nil, err
			}
			lats = append(lats, l)
		}
		var f Figures
		f.setLatencies(lats)
		reps = append(reps, f)
	}
	return reps, nil
}

// latencyChild consumes partition 0 of the stream and writes, for each
// record, "lat <ns>": how long ago it was stamped.
func latencyChild(ctx context.Context, sys System, spec Spec, out *bufio.Writer) error {
	st, err := sys.Stream(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close(false)
	c, err := st.Consumer(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		return err
	}
	for {
		_, err := c.Poll(ctx, 0, pollRecords, true, func(v []byte) {
			fmt.Fprintln(out, "lat", time.Since(sentAt(v)).Nanoseconds())
		})
		if err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
}
