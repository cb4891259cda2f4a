package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The recovery workload: a writer process fills a stream with records (async
// durability, requests of 512 KiB) and is killed with SIGKILL while it writes;
// then this process times opening the stream, which for spool is opening
// the file alone: recovery checks what the journal says past the last
// sync. Later repetitions have a new writer add a little and be killed
// again, so that each opens a file of about the full size after a crash.
//
// The page cache keeps what the writer wrote, as after any crash of a
// process (not of the machine): the figure is the cost of recovery, not of
// reading a cold disk.

const (
	recoveryRecordSize = 1024
	recoveryBatch      = 512 // records of one request: half a MiB, under max.message.bytes
)

func recoveryWorkloads() []workload {
	return []workload{{name: "recovery",
		about: "open after kill -9 of a writer, file of --recovery-size (the target: 10 GiB in under 200 ms)",
		kind:  elapsed,
		run:   runRecovery}}
}

func runRecovery(ctx context.Context, r *runner, sys System) (reps []Figures, err error) {
	if _, ok := sys.(Embedded); !ok {
		return nil, skipError("a server: killing its client leaves it running (its own restart is not measured)")
	}
	spec := r.spec("recovery", 1, Async, recoveryRecordSize)
	st, err := sys.Stream(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := st.Close(false); err != nil {
		return nil, err
	}
	spec.Attach = true
	defer func() {
		// Open once more, to delete it.
		if st, e := sys.Stream(ctx, spec); e == nil {
			err = errors.Join(err, st.Close(true))
		}
	}()
	var written int64
	for rep := range r.sz.reps {
		goal := r.sz.recoveryBytes
		if rep > 0 {
			goal = max(goal/64, 1<<20) // a little more, then the next crash
		}
		n, err := r.crashWriter(sys, spec, goal)
		if err != nil {
			return nil, err
		}
		written += n
		start := time.Now()
		st, err := sys.Stream(ctx, spec)
		took := time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("open after the crash: %w", err)
		}
		size := written
		if sz, ok := st.(Sizer); ok {
			if size, err = sz.Bytes(); err != nil {
				return nil, err
			}
		}
		if err := st.Close(false); err != nil {
			return nil, err
		}
		reps = append(reps, Figures{Seconds: took.Seconds(), FileBytes: float64(size)})
	}
	return reps, nil
}

// crashWriter runs a writer child until it has written goal bytes, kills it
// while it goes on writing, and returns how much it had written by then.
func (r *runner) crashWriter(sys System, spec Spec, goal int64) (int64, error) {
	c, err := r.startChild(sys, roleWriter, spec, strconv.FormatInt(goal, 10))
	if err != nil {
		return 0, err
	}
	defer c.kill()
	n, err := c.expect("written ", 10*time.Minute)
	if err != nil {
		return 0, err
	}
	c.kill()
	return strconv.ParseInt(n, 10, 64)
}

// writerChild produces into partition 0 of the stream, and writes "written
// <bytes>" once it has written goal bytes of records; it goes on until it
// is killed or its parent closes its input.
func writerChild(ctx context.Context, sys System, spec Spec, goal int64, out *bufio.Writer) error {
	st, err := sys.Stream(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close(false)
	p, err := st.Producer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	v := recordValue(recoveryRecordSize)
	values := make([][]byte, recoveryBatch)
	for i := range values {
		values[i] = v
	}
	told := false
	for written := int64(0); ; written += recoveryBatch * recoveryRecordSize {
		if !told && written >= goal {
			fmt.Fprintln(out, "written", written)
			if err := out.Flush(); err != nil {
				return err
			}
			told = true
		}
		if err := p.Send(ctx, 0, values); err != nil {
			return err
		}
	}
}
