package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The group workload: 4 workers of one consumer group share 8 partitions
// and commit their position after every poll.
//
// On a system with consumer groups of its own (spool through its public
// API: a stream that is a groupStream), each worker joins the group as a
// member and reads what the group's assignor gives it; the figures include
// the joins and the hand-overs of partitions as the members arrive. On the
// others (and spool-engine), each worker is handed its partitions (worker w
// reads w and w+4), as an application of those systems would have to.
const (
	groupWorkers    = 4
	groupPartitions = 8
	groupRecordSize = 100
)

func groupWorkloads() []workload {
	return []workload{{name: "group-4w",
		about: fmt.Sprintf("a consumer group of %d workers reads %d partitions from their start, committing offsets after each poll",
			groupWorkers, groupPartitions),
		kind: throughput, limit: limitMemCopy,
		run: func(ctx context.Context, r *runner, sys System) ([]Figures, error) {
			return runGroup(ctx, r, sys, r.sz.groupRecords)
		}}}
}

func runGroup(ctx context.Context, r *runner, sys System, n int) (reps []Figures, err error) {
	st, err := sys.Stream(ctx, r.spec("group", groupPartitions, Async, groupRecordSize))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.Close(true)) }()
	n -= n % groupPartitions
	if err := fill(ctx, st, groupPartitions, n, groupRecordSize); err != nil {
		return nil, err
	}
	for rep := range r.sz.reps {
		// A new group each time, so that each starts from the beginning.
		group := fmt.Sprintf("g%d", rep)
		start := time.Now()
		errs := make([]error, groupWorkers)
		var wg sync.WaitGroup
		if gs, ok := st.(groupStream); ok {
			var left atomic.Int64
			left.Store(int64(n))
			mctx, stop := context.WithCancel(ctx)
			for w := range groupWorkers {
				wg.Go(func() { errs[w] = gs.Member(mctx, stop, group, &left) })
			}
			wg.Wait()
			stop()
			if got := left.Load(); got > 0 && ctx.Err() == nil {
				errs = append(errs, fmt.Errorf("the members stopped with %d of %d records unread", got, n))
			}
		} else {
			for w := range groupWorkers {
				wg.Go(func() { errs[w] = groupWorker(ctx, st, group, w, n/groupPartitions) })
			}
			wg.Wait()
		}
		took := time.Since(start)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		var f Figures
		f.setThroughput(int64(n), groupRecordSize, took)
		reps = append(reps, f)
	}
	return reps, nil
}

// groupStream is a stream of a system with consumer groups of its own.
type groupStream interface {
	// Member joins group as a member, reads the partitions the group gives
	// it, commits after every poll that returned records and takes what it
	// read from left; the member that takes it to 0 or below calls done.
	// It returns nil once ctx ends or left reaches 0.
	Member(ctx context.Context, done context.CancelFunc, group string, left *atomic.Int64) error
}

// groupWorker reads its partitions in turn, perPartition records from each,
// and commits after every poll that returned records.
func groupWorker(ctx context.Context, st Stream, group string, w, perPartition int) error {
	c, err := st.Consumer(ctx, group)
	if err != nil {
		return err
	}
	defer c.Close()
	var mine []int
	for p := w; p < groupPartitions; p += groupWorkers {
		mine = append(mine, p)
	}
	got := make(map[int]int, len(mine))
	for left := len(mine); left > 0; {
		for _, p := range mine {
			if got[p] >= perPartition {
				continue
			}
			k, err := c.Poll(ctx, p, min(pollRecords, perPartition-got[p]), false, func([]byte) {})
			if err != nil {
				return err
			}
			if k == 0 {
				return fmt.Errorf("partition %d ends after %d records, %d were written", p, got[p], perPartition)
			}
			if err := c.Commit(ctx, p); err != nil {
				return err
			}
			if got[p] += k; got[p] >= perPartition {
				left--
			}
		}
	}
	return nil
}
