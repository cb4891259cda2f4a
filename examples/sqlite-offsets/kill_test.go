//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spooldb/spool"
)

// childEnv names the role a re-executed test binary plays.
const childEnv = "SQLITE_OFFSETS_CHILD"

// TestChildProcess is the body of the child processes of
// TestExactlyOnceAcrossKills; it skips unless run as one.
func TestChildProcess(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("run as a child process by TestExactlyOnceAcrossKills")
	case "consume":
		consumeUntilSignalled(t, os.Getenv("SQLITE_OFFSETS_SPOOL"), os.Getenv("SQLITE_OFFSETS_SQLITE"))
	default:
		t.Fatalf("unknown role %q", os.Getenv(childEnv))
	}
}

// consumeUntilSignalled is a member of the group until SIGTERM (or
// SIGKILL). It writes "handled" to stdout after each record's transaction
// committed, and "assigned" when it takes partitions.
func consumeUntilSignalled(t *testing.T, spoolPath, sqlitePath string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	sp, err := spool.Open(spoolPath, &spool.Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	sq, store, err := openSQLite(ctx, sqlitePath)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	copts := spool.ConsumerOptions{OnAssigned: func(tps []spool.TopicPartition) {
		fmt.Fprintf(os.Stdout, "assigned %v\n", tps)
	}}
	w, err := newWorkers(sp, sq, store, copts, func(*spool.Record) {
		os.Stdout.WriteString("handled\n") // one write: lines from workers do not mix
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// child is one consumer process.
type child struct {
	slot   int
	cmd    *exec.Cmd
	killed bool
	stderr strings.Builder
	output []string   // stdout lines that are no protocol: go test's
	done   chan error // the exit, once stdout is drained
}

// event is a line a child wrote, or its exit.
type event struct {
	c    *child
	line string
	exit bool
	err  error
}

// TestExactlyOnceAcrossKills produces payments, consumes them into SQLite
// with two member processes of the group, SIGKILLs members at seeded
// random points and starts new ones, until SQLite holds every payment; then
// it checks that each is there exactly once.
func TestExactlyOnceAcrossKills(t *testing.T) {
	const (
		records = 5000
		members = 2
		kills   = 8 // kill events; one in three kills both members
	)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SQLITE_OFFSETS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (SQLITE_OFFSETS_SEED=%d repeats the kill points)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	start := time.Now()

	spoolPath, sqlitePath, sp, sq, store := openBoth(t, records)
	ends := map[int32]int64{}
	info, err := sp.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Partitions {
		ends[p.Partition] = p.HighWatermark
	}
	if err := sp.Close(); err != nil { // the children have the file
		t.Fatal(err)
	}

	// Kill points: after how many "handled" lines, and whom.
	type kill struct {
		after   int
		targets []int
	}
	var plan []kill
	for _, after := range sortedInts(rng, kills, records/20, records*9/10) {
		k := kill{after: after, targets: []int{rng.IntN(members)}}
		if rng.IntN(3) == 0 {
			k.targets = []int{0, 1}
		}
		plan = append(plan, k)
	}

	events := make(chan event, 4*records)
	children := make([]*child, members)
	started := 0
	startChild := func(slot int) {
		t.Helper()
		c := &child{slot: slot, done: make(chan error, 1)}
		c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
		c.cmd.Env = append(os.Environ(), childEnv+"=consume", "SQLITE_OFFSETS_SPOOL="+spoolPath, "SQLITE_OFFSETS_SQLITE="+sqlitePath)
		c.cmd.Stderr = &c.stderr
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started++
		children[slot] = c
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				events <- event{c: c, line: s.Text()}
			}
			err := c.cmd.Wait()
			events <- event{c: c, exit: true, err: err}
			c.done <- err
		}()
	}
	for slot := range members {
		startChild(slot)
	}
	t.Cleanup(func() {
		for _, c := range children {
			c.cmd.Process.Kill() // when the test failed; an error once exited
		}
	})

	// complete reports whether SQLite holds every payment.
	complete := func() bool {
		var ids int
		if err := sq.QueryRow(`SELECT COUNT(DISTINCT id) FROM payments`).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		return ids == records
	}
	// ahead sums, over the partitions, how far SQLite's position is past
	// the offset the spool file has the group at: records whose effect
	// committed and whose acknowledgement did not, which a restart from
	// the spool file's offsets would handle again.
	ahead := func() int64 {
		db, err := spool.Open(spoolPath, &spool.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		lags, err := db.Lag(group)
		if err != nil {
			t.Fatal(err)
		}
		committed := map[int32]int64{}
		for _, l := range lags {
			committed[l.Partition] = l.Committed
		}
		var sum int64
		for p := range ends {
			pos, _, err := store.Position(t.Context(), group, spool.TopicPartition{Topic: topic, Partition: p})
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := committed[p]; ok {
				pos -= c
			}
			sum += max(pos, 0)
		}
		return sum
	}

	// Each child has at most GOMAXPROCS records between commit and
	// "handled" when it is killed: past this many lines, look at SQLite.
	slack := (kills*members + members) * runtime.GOMAXPROCS(0)
	deadline := time.NewTimer(2 * time.Minute) // a failure, not a synchronization
	defer deadline.Stop()
	seen, killed := 0, 0
	var aheadTotal int64
	for done := false; !done; {
		var ev event
		select {
		case ev = <-events:
		case <-deadline.C:
			t.Fatalf("after 2 minutes: %d handled lines, %d kills, SQLite complete: %v", seen, killed, complete())
		}
		switch {
		case ev.exit:
			if !ev.c.killed {
				t.Fatalf("child %d exited: %v\n%s%s", ev.c.slot, ev.err, strings.Join(ev.c.output, "\n"), ev.c.stderr.String())
			}
			continue
		case ev.line == "handled":
			seen++
		case strings.HasPrefix(ev.line, "assigned"):
		default:
			ev.c.output = append(ev.c.output, ev.line) // go test's own
			continue
		}
		if len(plan) > 0 && seen >= plan[0].after {
			k := plan[0]
			plan = plan[1:]
			for _, slot := range k.targets {
				c := children[slot]
				c.killed = true
				if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-c.done
				killed++
			}
			a := ahead()
			aheadTotal += a
			t.Logf("after %d handled lines: killed member %v; SQLite %d records ahead of the spool file", seen, k.targets, a)
			for _, slot := range k.targets {
				startChild(slot)
			}
			continue
		}
		if len(plan) == 0 && (seen >= records-slack || ev.line != "handled") {
			done = complete()
		}
	}
	// Stop the members; each leaves the group and exits 0.
	for _, c := range children {
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for running := members; running > 0; {
		var ev event
		select {
		case ev = <-events:
		case <-deadline.C:
			t.Fatalf("after 2 minutes, %d members have yet to stop", running)
		}
		switch {
		case ev.exit && !ev.c.killed:
			if ev.err != nil {
				t.Fatalf("child %d, stopped: %v\n%s%s", ev.c.slot, ev.err, strings.Join(ev.c.output, "\n"), ev.c.stderr.String())
			}
			running--
		case ev.line == "handled":
			seen++
		case !ev.exit && !strings.HasPrefix(ev.line, "assigned"):
			ev.c.output = append(ev.c.output, ev.line)
		}
	}

	// Every payment is in SQLite exactly once, at its own offset, and each
	// partition's position is its end.
	rows, err := sq.Query(`SELECT id, COUNT(*) FROM payments GROUP BY id HAVING COUNT(*) <> 1`)
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if dups++; dups <= 10 {
			t.Errorf("payment %s is in SQLite %d times", id, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if dups > 0 {
		t.Errorf("%d payments are in SQLite more than once", dups)
	}
	var total, distinct int
	var lo, hi string
	if err := sq.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM payments`).Scan(&total, &distinct, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if total != records || distinct != records || lo != string(paymentID(0)) || hi != string(paymentID(records-1)) {
		t.Errorf("SQLite holds %d rows of %d payments from %s to %s, want %d from %s to %s",
			total, distinct, lo, hi, records, paymentID(0), paymentID(records-1))
	}
	for p, offs := range handledOffsets(t, sq) {
		if !slices.Equal(offs, span(0, ends[p])) {
			t.Errorf("partition %d: offsets handled out of order or not once each", p)
		}
		pos, ok, err := store.Position(t.Context(), group, spool.TopicPartition{Topic: topic, Partition: p})
		if err != nil || !ok || pos != ends[p] {
			t.Errorf("partition %d: position %d, %v, %v; want %d", p, pos, ok, err, ends[p])
		}
	}
	t.Logf("%d records in %d partitions, %d members, %d kills (%d processes), %d handled lines; "+
		"SQLite was %d records ahead of the spool file's offsets at the kills; %v",
		records, len(ends), members, killed, started, seen, aheadTotal, time.Since(start).Round(time.Millisecond))
}

// sortedInts returns n random ints in [lo, hi), sorted.
func sortedInts(rng *rand.Rand, n, lo, hi int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = lo + rng.IntN(hi-lo)
	}
	slices.Sort(out)
	return out
}
