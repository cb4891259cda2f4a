package spool

// Consumer groups across processes: members in child processes (this test
// binary re-executed in role "workers", see TestChildProcess) share the
// partitions of a file, and the parent kills some of them with SIGKILL.
//
// The kill points are random, from a seed the tests print. To replay a run:
//
//	SPOOL_TEST_SEED=1234 go test -race -run TestKillMemberUnderLoad .
//
// To soak (more records, more kills, many seeds):
//
//	SPOOL_GROUP_SOAK=10 go test -race -count=20 -timeout=1h -run 'Kill|ExactlyOnce|Lag' .

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// groupSeed returns the seed of a test's random choices, from
// SPOOL_TEST_SEED or the clock, and prints it.
func groupSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SPOOL_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (SPOOL_TEST_SEED=%d replays it)", seed, seed)
	return seed
}

// soak returns n times SPOOL_GROUP_SOAK (1 when unset).
func soak(t *testing.T, n int) int {
	if s := os.Getenv("SPOOL_GROUP_SOAK"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			t.Fatalf("SPOOL_GROUP_SOAK=%q: want a positive number", s)
		}
		return n * k
	}
	return n
}

// groupFile creates a file with topics of the given partition counts, and
// returns its path and the parent's DB on it.
func groupFile(t *testing.T, topics map[string]int) (string, *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "group.spool")
	db, err := Open(path, &Options{Durability: DurabilityNone, ExtentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range topics {
			if !yield(name) {
				return
			}
		}
	}) {
		if err := db.CreateTopic(ctx, name, topics[name], map[string]string{"retention.ms": "-1"}); err != nil {
			t.Fatal(err)
		}
	}
	return path, db
}

// groupChild is a Workers pool of group "g" in a child process. The child
// appends a line "handled TOPIC PARTITION OFFSET" to its events file each
// time its handler finishes a record, before the record is acknowledged:
// the kernel keeps what was written when the child is killed, and nothing
// stands between the child's death and the parent's reading of the file
// (no pipe to drain).
type groupChild struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events string // the events file
	log    string // the child's stdout and stderr
	done   chan struct{}
	werr   error // how the child exited, once done
	killed bool
}

// startMember starts a child process running a Workers pool on path. env
// adds SPOOL_TEST_* settings (see workersChild).
func startMember(t *testing.T, name, path string, env ...string) *groupChild {
	t.Helper()
	dir := filepath.Dir(path)
	c := &groupChild{t: t, name: name, events: filepath.Join(dir, name+".events"), log: filepath.Join(dir, name+".log"),
		done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=5m")
	c.cmd.Env = append(append(os.Environ(), childEnv+"=workers", "SPOOL_TEST_FILE="+path, "SPOOL_TEST_EVENTS="+c.events), env...)
	out, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.werr = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.kill)
	return c
}

// kill kills the child with SIGKILL and returns once it is dead.
func (c *groupChild) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.killed = true
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop asks the child to leave its group and exit, and checks that it
// exited cleanly.
func (c *groupChild) stop() {
	c.t.Helper()
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		c.kill()
		c.t.Errorf("%s did not stop within a minute", c.name)
	}
	if c.werr != nil && !c.killed {
		out, _ := os.ReadFile(c.log)
		c.t.Errorf("%s: %v\n%s", c.name, c.werr, out)
	}
}

// send writes a line to the child's stdin.
func (c *groupChild) send(line string) {
	if _, err := fmt.Fprintln(c.stdin, line); err != nil {
		c.t.Errorf("%s: %v", c.name, err)
	}
}

// handled returns the records the child handled, adding them to all; the
// child has exited.
func (c *groupChild) handled(all *handled) *handled {
	c.t.Helper()
	b, err := os.ReadFile(c.events)
	if err != nil && !os.IsNotExist(err) {
		c.t.Fatal(err)
	}
	h := newHandled()
	for line := range strings.Lines(string(b)) {
		var r Record
		if _, err := fmt.Sscanf(line, "handled %s %d %d\n", &r.Topic, &r.Partition, &r.Offset); err != nil {
			c.t.Fatalf("%s: %q: %v", c.name, line, err)
		}
		h.add(c.name, &r)
		all.add(c.name, &r)
	}
	return h
}

// workersChild runs a Workers pool of group "g" (Unordered, 16 workers) on
// SPOOL_TEST_FILE, reading SPOOL_TEST_TOPIC, with delivery SPOOL_TEST_DELIVERY
// (at-least-once or exactly-once) and RebalanceTimeout
// SPOOL_TEST_REBALANCE_TIMEOUT. The handler produces "out:VALUE" to
// SPOOL_TEST_OUTPUT when set; it waits on records whose value starts with
// "stuck" until stdin says "unstick". It appends each record it finished to
// SPOOL_TEST_EVENTS, and leaves its group when stdin ends.
func workersChild(t *testing.T) {
	env := os.Getenv
	db, err := Open(env("SPOOL_TEST_FILE"), &Options{NoCreate: true, Durability: DurabilityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events, err := os.OpenFile(env("SPOOL_TEST_EVENTS"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	opts := WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g"}, Topics: []string{env("SPOOL_TEST_TOPIC")},
		Workers: 16, Ordering: Unordered, CommitInterval: 20 * time.Millisecond}
	switch d := env("SPOOL_TEST_DELIVERY"); d {
	case "", "at-least-once":
	case "exactly-once":
		opts.Delivery = ExactlyOnce
	default:
		t.Fatalf("SPOOL_TEST_DELIVERY=%s", d)
	}
	if s := env("SPOOL_TEST_REBALANCE_TIMEOUT"); s != "" {
		if opts.RebalanceTimeout, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	output := env("SPOOL_TEST_OUTPUT")
	unstick := make(chan struct{})
	var mu sync.Mutex
	w, err := db.NewWorkers(opts, func(ctx context.Context, r *Record, tx *Tx) error {
		if bytes.HasPrefix(r.Value, []byte("stuck")) {
			select {
			case <-unstick:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if output != "" {
			if err := tx.Produce(&Record{Topic: output, Key: r.Value, Value: append([]byte("out:"), r.Value...)}); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(events, "handled %s %d %d\n", r.Topic, r.Partition, r.Offset)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "unstick" {
				close(unstick)
			}
		}
		cancel()
	}()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitGroup polls group "g" until ok holds, and returns how long that took;
// it fails the test past limit.
func waitGroup(t *testing.T, db *DB, what string, limit time.Duration, ok func(*store.GroupState) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		gs, err := db.s.Group("g")
		if err != nil {
			t.Fatal(err)
		}
		if ok(&gs) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("after %v, still waiting for %s: %+v", limit, what, gs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ownedByLive returns a test that every partition of topic is owned by a
// live member, and that members live members own partitions.
func ownedByLive(topic string, partitions int32, members int) func(*store.GroupState) bool {
	return func(gs *store.GroupState) bool {
		live := 0
		for _, m := range gs.Members {
			if m.Alive {
				live++
			}
		}
		owners := map[string]bool{}
		for p := range partitions {
			o, ok := gs.Owners[store.TopicPartition{Topic: topic, Partition: p}]
			if !ok {
				return false
			}
			if m := gs.Member(o.Member); m == nil || !m.Alive {
				return false
			}
			owners[o.Member] = true
		}
		return live == members && len(owners) == min(members, int(partitions))
	}
}

// waitLagZero polls DB.Lag until every partition of topic has a committed
// offset and no lag, and fails the test after a minute.
func waitLagZero(t *testing.T, db *DB, topic string, partitions int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		lags, err := db.Lag("g")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range lags {
			// A partition that never had a record has nothing to commit.
			empty := l.HighWatermark == l.LogStartOffset
			if l.Topic == topic && (l.Committed >= 0 || empty) && l.Lag == 0 {
				n++
			}
		}
		if n == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the group's lag is %+v", lags)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processed returns the records of topic the group has processed, by its
// committed offsets and acknowledged ranges: the high watermarks less the
// lag.
func processed(t *testing.T, db *DB, topic string) int {
	t.Helper()
	lags, err := db.Lag("g")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lags {
		if l.Topic == topic {
			n += int(l.HighWatermark - l.Lag)
		}
	}
	return n
}

// durableAt reads, right after a member's process died, what the group
// has committed: every record below a partition's committed offset or in
// its acknowledged ranges. The dead process can commit nothing more, but
// the other members may take its partitions (one heartbeat later) and
// commit in them: a partition whose owner changed between before (read
// before the kill) and the group read after the offsets is left out, and
// logged.
func durableAt(t *testing.T, db *DB, before *store.GroupState) func(TopicPartition, int64) bool {
	t.Helper()
	offsets, err := db.s.GroupOffsets("g")
	if err != nil {
		t.Fatal(err)
	}
	after, err := db.s.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	byTP := map[TopicPartition]store.Committed{}
	for _, c := range offsets {
		tp := TopicPartition{c.Topic, c.Partition}
		if o := before.Owners[store.TopicPartition(tp)]; o != after.Owners[store.TopicPartition(tp)] {
			t.Logf("%s/%d moved before the committed offsets were read: not checked", tp.Topic, tp.Partition)
			continue
		}
		byTP[tp] = c
	}
	return func(tp TopicPartition, off int64) bool {
		c, ok := byTP[tp]
		return ok && (off < c.Offset || slices.ContainsFunc(c.Acked, func(r store.OffsetRange) bool { return r.Start <= off && off < r.End }))
	}
}

// TestKillMemberUnderLoad: three processes share a topic of six partitions
// as Workers of one group (AtLeastOnce) while the parent produces; one is
// killed with SIGKILL at a random point. What the group committed, read
// from the file once the process is dead, is everything it can ever have
// committed: no record in it is handled again. Every record is handled;
// only records the dead member handled and had not committed are handled
// twice; and the dead member's partitions go to the others within 10 s
// (the design says about one heartbeat, 100 ms: the slot lock dies with
// the process).
func TestKillMemberUnderLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(groupSeed(t), 0))
	const partitions = 6
	n := soak(t, 20000)
	path, db := groupFile(t, map[string]int{"t": partitions})
	var children []*groupChild
	for i := range 3 {
		children = append(children, startMember(t, fmt.Sprintf("member%d", i), path, "SPOOL_TEST_TOPIC=t"))
	}
	waitGroup(t, db, "three members sharing the partitions", time.Minute, ownedByLive("t", partitions, 3))

	produced := make(chan error, 1)
	go func() {
		p, err := db.NewProducer(nil)
		if err != nil {
			produced <- err
			return
		}
		defer p.Close()
		const chunk = 200
		for i := 0; i < n; i += chunk {
			rs := make([]*Record, 0, chunk)
			for j := i; j < min(i+chunk, n); j++ {
				rs = append(rs, &Record{Topic: "t", Value: fmt.Appendf(nil, "v-%d", j)})
			}
			if err := p.ProduceSync(ctx, rs...); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	victim := children[rng.IntN(len(children))]
	killAt := n/5 + rng.IntN(n*3/10)
	deadline := time.Now().Add(time.Minute)
	for processed(t, db, "t") < killAt {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute, %d of %d records processed", processed(t, db, "t"), killAt)
		}
		time.Sleep(time.Millisecond)
	}
	before, err := db.s.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	victim.kill()
	durable := durableAt(t, db, &before)
	waitGroup(t, db, "the dead member's partitions owned by the others", 10*time.Second, ownedByLive("t", partitions, 2))
	moved := time.Since(killed)
	t.Logf("killed %s with %d records processed; partitions moved in %d ms", victim.name, killAt, moved.Milliseconds())

	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitLagZero(t, db, "t", partitions)
	all := newHandled()
	var byVictim *handled
	for _, c := range children {
		if c != victim {
			c.stop()
		}
		if h := c.handled(all); c == victim {
			byVictim = h
		}
	}

	if got := all.total(); got != n {
		t.Fatalf("%d records handled, want %d", got, n)
	}
	again, durableN := 0, 0
	for tp, offsets := range all.n {
		for off, times := range offsets {
			isDurable := durable(tp, off)
			if isDurable {
				durableN++
			}
			switch {
			case isDurable && times != 1:
				t.Errorf("%s/%d offset %d was acknowledged durably before the kill, and handled %d times (%d by the killed member)",
					tp.Topic, tp.Partition, off, times, byVictim.n[tp][off])
			case times > 1 && byVictim.n[tp][off] == 0:
				t.Errorf("%s/%d offset %d handled %d times, never by the killed member", tp.Topic, tp.Partition, off, times)
			case times > 1:
				again++
			}
		}
	}
	t.Logf("%d records durably acknowledged at the kill; %d handled again (handled by the killed member, not committed)", durableN, again)
}

// TestWorkersPollLargerThanMaxInFlight is a regression test: a poll
// returns more records than MaxInFlight, and with Unordered (or PerKey)
// each is a lane of its own. The ready queue was a channel of MaxInFlight
// slots, sent to under the pool's mutex: the coordinator blocked on it
// and the workers on the mutex, for good.
func TestWorkersPollLargerThanMaxInFlight(t *testing.T) {
	for name, ordering := range map[string]Ordering{"unordered": Unordered, "per-key": PerKey} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, 1)
			p := newProducer(t, db, nil)
			rs := make([]*Record, 1000)
			for i := range rs {
				rs[i] = &Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}
			}
			if err := p.ProduceSync(ctx, rs...); err != nil {
				t.Fatal(err)
			}
			h := newHandled()
			runWorkers(t, db, WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g"}, Topics: []string{"t"},
				Ordering: ordering, Workers: 2, MaxInFlight: 10}, func(ctx context.Context, r *Record, tx *Tx) error {
				h.add("pool", r)
				return nil
			})
			h.waitFor(t, "1000 records handled", func() bool { return h.total() == 1000 })
		})
	}
}

// TestExactlyOncePipelineWithKills: member processes run Workers with
// Delivery ExactlyOnce whose handler turns each input record into one
// output record (Tx.Produce), while the parent kills one of them with
// SIGKILL at random points, several times, and starts a replacement each
// time. Once the group has processed every input record, the output topic
// holds each one's result exactly once, though some were handled twice.
func TestExactlyOncePipelineWithKills(t *testing.T) {
	rng := rand.New(rand.NewPCG(groupSeed(t), 0))
	n, kills := soak(t, 6000), soak(t, 4)
	path, db := groupFile(t, map[string]int{"in": 4, "out": 3})
	p := newProducer(t, db, nil)
	rs := make([]*Record, n)
	for i := range rs {
		rs[i] = &Record{Topic: "in", Value: fmt.Appendf(nil, "id-%d", i)}
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	env := []string{"SPOOL_TEST_TOPIC=in", "SPOOL_TEST_OUTPUT=out", "SPOOL_TEST_DELIVERY=exactly-once"}
	started := 0
	start := func() *groupChild {
		started++
		return startMember(t, fmt.Sprintf("member%d", started), path, env...)
	}
	live := []*groupChild{start(), start()}
	// The first kill strikes a member that owns partitions and works; the
	// later ones may strike one that is still joining.
	waitGroup(t, db, "two members sharing the partitions", time.Minute, ownedByLive("in", 4, 2))
	var dead []*groupChild
	deadline := time.Now().Add(time.Minute)
	for k := 0; k < kills; k++ {
		at := processed(t, db, "in") + n/(3*kills) + rng.IntN(n/(3*kills))
		for processed(t, db, "in") < at && processed(t, db, "in") < n {
			if time.Now().After(deadline) {
				t.Fatalf("after a minute, %d of %d records processed", processed(t, db, "in"), n)
			}
			time.Sleep(time.Millisecond)
		}
		if processed(t, db, "in") == n {
			t.Logf("all processed after %d kills", k)
			break
		}
		i := rng.IntN(len(live))
		live[i].kill()
		dead = append(dead, live[i])
		live[i] = start()
	}
	waitLagZero(t, db, "in", 4)
	all := newHandled()
	for _, c := range live {
		c.stop()
	}
	for _, c := range append(live, dead...) {
		c.handled(all)
	}
	twice := 0
	for _, offsets := range all.n {
		for _, times := range offsets {
			if times > 1 {
				twice++
			}
		}
	}
	t.Logf("%d processes killed; %d input records handled more than once", len(dead), twice)

	c := newConsumer(t, db, &ConsumerOptions{})
	if err := c.Assign("out"); err != nil {
		t.Fatal(err)
	}
	outputs := 0
	for part := range int32(3) {
		_, hwm, err := db.s.Offsets("out", part)
		if err != nil {
			t.Fatal(err)
		}
		outputs += int(hwm)
	}
	seen := map[string]int{}
	for _, r := range pollAll(t, c, outputs) {
		seen[string(r.Value)]++
	}
	for i := range n {
		if k := seen[fmt.Sprintf("out:id-%d", i)]; k != 1 {
			t.Errorf("the output of id-%d is there %d times", i, k)
		}
	}
	if outputs != n {
		t.Errorf("%d output records, want %d", outputs, n)
	}
}

// TestLagCountsAcknowledged: Lag is the records not yet processed, so the
// records acknowledged above the committed offset do not count, nor those
// retention removed.
func TestLagCountsAcknowledged(t *testing.T) {
	p := store.PartitionInfo{Partition: 0, LogStartOffset: 0, HighWatermark: 100}
	acked := []store.OffsetRange{{Start: 12, End: 20}, {Start: 30, End: 31}, {Start: 90, End: 120}}
	for _, c := range []struct {
		name     string
		logStart int64
		c        store.Committed
		lag, ack int64
	}{
		{"nothing committed", 0, store.Committed{Offset: -1}, 100, 0},
		{"no ranges", 0, store.Committed{Offset: 10}, 90, 0},
		{"ranges", 0, store.Committed{Offset: 10, Acked: acked}, 90 - 8 - 1 - 10, 19},
		{"retention inside a range", 15, store.Committed{Offset: 10, Acked: acked}, 85 - 5 - 1 - 10, 16},
		{"retention past the ranges", 95, store.Committed{Offset: 10, Acked: acked}, 0, 5},
	} {
		p.LogStartOffset = c.logStart
		l := lagOf("t", p, c.c)
		if l.Lag != c.lag || l.Acknowledged != c.ack || l.Committed != c.c.Offset {
			t.Errorf("%s: lag %d, acknowledged %d; want %d, %d", c.name, l.Lag, l.Acknowledged, c.lag, c.ack)
		}
	}
}

// lagByScan is the lag of each partition of topic, counted offset by
// offset from the group's committed offset and acknowledged ranges.
func lagByScan(t *testing.T, db *DB, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	for p := range partitions {
		logStart, hwm, err := db.s.Offsets(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		c, ok, err := db.s.CommittedOffset("g", topic, p)
		if err != nil {
			t.Fatal(err)
		}
		from := logStart
		if ok {
			from = max(from, c.Offset)
		}
		for off := from; off < hwm; off++ {
			if !slices.ContainsFunc(c.Acked, func(r store.OffsetRange) bool { return r.Start <= off && off < r.End }) {
				out[p]++
			}
		}
	}
	return out
}

// waitLag polls DB.Lag until each partition of "t" lags by want, and
// checks each time that it lies between the lags counted by lagByScan
// just before and just after: nothing is produced meanwhile, so lag can
// only fall.
func waitLag(t *testing.T, db *DB, what string, partitions int32, want map[int32]int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		before := lagByScan(t, db, "t", partitions)
		lags, err := db.Lag("g")
		if err != nil {
			t.Fatal(err)
		}
		after := lagByScan(t, db, "t", partitions)
		done := len(lags) == int(partitions)
		for _, l := range lags {
			if l.Lag > before[l.Partition] || l.Lag < after[l.Partition] {
				t.Fatalf("%s: lag of t/%d is %d (%+v), counted %d before and %d after", what, l.Partition, l.Lag, l, before[l.Partition], after[l.Partition])
			}
			done = done && l.Lag == want[l.Partition] && after[l.Partition] == want[l.Partition]
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after 30 s the lag is %+v, want %v", what, lags, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLagWhileMembersComeAndGo: DB.Lag agrees with the committed offsets
// and acknowledged ranges, counted record by record, while members join,
// leave, and die with SIGKILL. Some records get stuck in their handlers:
// the members go past them, and each stuck record is one record of lag,
// however far the committed offset stays behind it (each stuck record
// holds a worker: the pools have more workers than stuck records). Member A is in this
// process, B and C in children.
func TestLagWhileMembersComeAndGo(t *testing.T) {
	const partitions = 4
	path, db := groupFile(t, map[string]int{"t": partitions})
	p := newProducer(t, db, &ProducerOptions{Partitioner: ManualPartitioner()})
	stuck := map[int32]int64{}
	phase := 0
	// produce adds 50 records to each partition, one of them stuck in
	// each of stuckIn.
	produce := func(stuckIn ...int32) {
		t.Helper()
		phase++
		var rs []*Record
		for part := range int32(partitions) {
			for i := range 50 {
				v := fmt.Sprintf("v-%d-%d-%d", phase, part, i)
				if i == 10 && slices.Contains(stuckIn, part) {
					v = "stuck-" + v
					stuck[part]++
				}
				rs = append(rs, &Record{Topic: "t", Partition: part, Value: []byte(v)})
			}
		}
		if err := p.ProduceSync(ctx, rs...); err != nil {
			t.Fatal(err)
		}
	}
	// The lag is read through a DB of its own, which sees each commit whole
	// as other processes do. (The DB that commits applies a commit's
	// operations to its state one at a time, and a read of the same DB in
	// between sees the committed offset without its acknowledged ranges;
	// A commits through db.)
	obs, err := Open(path, &Options{ReadOnly: true, NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	settle := func(what string, members int) {
		t.Helper()
		waitGroup(t, obs, what, time.Minute, ownedByLive("t", partitions, members))
		waitLag(t, obs, what, partitions, stuck)
	}
	const rebalance = 300 * time.Millisecond
	stopA := runWorkers(t, db, WorkersOptions{ConsumerOptions: ConsumerOptions{Group: "g", RebalanceTimeout: rebalance},
		Topics: []string{"t"}, Ordering: Unordered, Workers: 16, CommitInterval: 20 * time.Millisecond},
		func(ctx context.Context, r *Record, tx *Tx) error {
			if bytes.HasPrefix(r.Value, []byte("stuck")) {
				<-ctx.Done() // until the partition goes
				return ctx.Err()
			}
			return nil
		})
	produce(0, 2)
	settle("A alone", 1)

	env := []string{"SPOOL_TEST_TOPIC=t", "SPOOL_TEST_REBALANCE_TIMEOUT=" + rebalance.String()}
	b := startMember(t, "B", path, env...)
	settle("B joined A", 2)
	produce(1)
	settle("A and B", 2)

	c := startMember(t, "C", path, env...)
	settle("C joined A and B", 3)
	produce(3)
	settle("A, B and C", 3)

	b.kill()
	settle("B killed", 2)
	produce(0)
	settle("A and C", 2)

	stopA()
	settle("A left", 1)
	produce(2)
	settle("C alone", 1)

	c.send("unstick")
	clear(stuck)
	settle("C unstuck", 1)
	c.stop()
	lags, err := obs.Lag("g")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lags {
		if l.Lag != 0 || l.Acknowledged != 0 || l.Committed != l.HighWatermark {
			t.Errorf("at the end: %+v", l)
		}
	}
}
