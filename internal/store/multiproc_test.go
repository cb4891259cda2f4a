package store

// Multi-process tests. Two Stores opened on one vfs.MemFS behave as two
// processes (each Open is a separate open file with its own locks), which
// lets a test stop one "process" at any write. The real thing runs this test
// binary again as child processes (TestChildProcess) on an OS file.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// TestMultiProcessWriterDiesMidCommit has processes A, B, C and D on one
// file. A dies (its writes fail from one point on, as if killed) at every
// write of a commit that also checkpoints; D opens the file then and commits,
// B goes on committing, C reads it all and commits last, and then the
// machine loses power or B is killed. Whatever A's death left, a process that
// opens the file alone must find every commit acknowledged. (A writer that died between its checkpoint's
// meta page and the record announcing it left the others taking the new
// checkpoint's extents for free: the file could not be opened.)
func TestMultiProcessWriterDiesMidCommit(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	for n := 0; ; n++ {
		fs := vfs.NewMem()
		optsA := Options{FS: fs, ExtentSize: format.MinExtentSize, RetentionCheck: time.Hour, Logger: discard, CheckpointBytes: 1}
		optsB := optsA
		optsB.CheckpointBytes = 1 << 30 // B does not checkpoint, so A's checkpoint is the last
		a, err := Open("f", optsA)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.CreateTopic(ctx, "t", 2, nil); err != nil {
			t.Fatal(err)
		}
		b, err := Open("f", optsB)
		if err != nil {
			t.Fatal(err)
		}
		// C reads along, and writes once at the end.
		c, err := Open("f", optsB)
		if err != nil {
			t.Fatal(err)
		}
		acked := map[int32]map[int64]string{0: {}, 1: {}}
		commit := func(s *Store, p int32, v string) error {
			res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Partition: p, Batches: valuesBatch(time.Now().UnixMilli(), []string{v})}}})
			if err == nil {
				acked[p][res[0].BaseOffset] = v
			}
			return err
		}
		for i := range 3 {
			if err := commit(a, 0, fmt.Sprint("a", i)); err != nil {
				t.Fatal(err)
			}
			if err := commit(b, 1, fmt.Sprint("b", i)); err != nil {
				t.Fatal(err)
			}
		}
		fs.FailAfter(n, errInjected)
		aval := strings.Repeat("A", 5000)
		aerr := commit(a, 0, aval)
		fs.FailAfter(0, nil)
		adied := a.failed.Load() != nil
		a.Close()
		// D opens now, from the meta page as A left it, and commits first.
		d, err := Open("f", optsB)
		if err != nil {
			t.Fatalf("fail after %d: open D: %v", n, err)
		}
		if err := commit(d, 0, "d"); err != nil {
			t.Fatalf("fail after %d: D: %v", n, err)
		}
		// B fills extents, enough to need ones A's checkpoint may use.
		for i := range 40 {
			if err := commit(b, int32(i%2), fmt.Sprint("b", i, strings.Repeat("B", 5000))); err != nil {
				t.Fatalf("fail after %d: B after A died: %v", n, err)
			}
		}
		for p := range int32(2) {
			recs, _, _, err := readLog(c, "t", p)
			if err != nil || len(recs) < len(acked[p]) {
				t.Fatalf("fail after %d: C reads %d records of t/%d, %d acknowledged: %v", n, len(recs), p, len(acked[p]), err)
			}
		}
		if err := commit(c, 1, "c"); err != nil {
			t.Fatalf("fail after %d: C: %v", n, err)
		}
		images := map[string]*vfs.MemFS{"kill -9 of B": fs.CrashClean(), "power loss": fs.Crash(rand.New(rand.NewPCG(uint64(n), 3)))}
		b.Close()
		c.Close()
		d.Close()
		images["clean close of B"] = fs
		for what, img := range images {
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("A failed after %d writes (commit: %v), then %s: %s", n, aerr, what, fmt.Sprintf(format, args...))
			}
			s, err := Open("f", Options{FS: img, Logger: discard})
			if err != nil {
				fail("open: %v", err)
			}
			for p := range int32(2) {
				recs, _, _, err := readLog(s, "t", p)
				if err != nil {
					fail("%v", err)
				}
				seen := 0
				for _, r := range recs {
					v, ok := acked[p][r.off]
					switch {
					case ok && v != r.val:
						fail("t/%d at %d holds %.20q, want %.20q", p, r.off, r.val, v)
					case ok:
						seen++
					case p != 0 || r.val != aval || aerr == nil:
						fail("t/%d at %d holds %.20q, never acknowledged", p, r.off, r.val)
					}
				}
				if seen != len(acked[p]) {
					fail("t/%d holds %d of the %d records acknowledged", p, seen, len(acked[p]))
				}
			}
			s.Close()
		}
		if !adied {
			t.Logf("A's commit and checkpoint take %d writes", n)
			return
		}
	}
}

// TestMultiProcessStaleRetention has process A plan a retention sweep, then
// process B delete records before A commits the sweep: A applies B's commit
// when it takes the writer lock, and its sweep must not free what is no
// longer before the log start, nor fail the store. (It failed A with an
// internal error, or panicked it when B had emptied the partition; the
// power-loss test with two processes found it.)
func TestMultiProcessStaleRetention(t *testing.T) {
	for _, deleteTo := range []string{"second extent", "high watermark", "topic deleted"} {
		fs := vfs.NewMem()
		opts := Options{FS: fs, ExtentSize: format.MinExtentSize, RetentionCheck: time.Hour, Logger: slog.New(slog.DiscardHandler)}
		a, err := Open("f", opts)
		if err != nil {
			t.Fatal(err)
		}
		const payload = format.MinExtentSize - format.ExtentHeaderSize
		if err := a.CreateTopic(ctx, "r", 1, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}, {Name: ConfigRetentionBytes, Value: fmt.Sprint(payload)}}); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			if _, err := a.Commit(ctx, &Txn{Appends: []Append{{Topic: "r", Batches: valuesBatch(time.Now().UnixMilli(), []string{fmt.Sprint(i, strings.Repeat("x", 8000))})}}}); err != nil {
				t.Fatal(err)
			}
		}
		b, err := Open("f", opts)
		if err != nil {
			t.Fatal(err)
		}
		sweep := a.retentionRequest()
		if sweep == nil {
			t.Fatal("nothing to expire")
		}
		info, _ := b.Topic("r")
		switch deleteTo {
		case "second extent":
			b.mu.RLock()
			second := b.st.byName["r"].partitions[0].segments[1].base
			b.mu.RUnlock()
			_, err = b.DeleteRecords(ctx, "r", 0, second)
		case "high watermark":
			_, err = b.DeleteRecords(ctx, "r", 0, -1)
		case "topic deleted":
			err = b.DeleteTopic(ctx, "r")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := a.submit(ctx, sweep); err != nil {
			t.Fatalf("%s: the stale sweep: %v", deleteTo, err)
		}
		if deleteTo != "topic deleted" {
			if _, err := a.Commit(ctx, &Txn{Appends: []Append{{Topic: "r", Batches: batch("after", 1)}}}); err != nil {
				t.Fatalf("%s: A after its sweep: %v", deleteTo, err)
			}
		}
		if err := errors.Join(a.Close(), b.Close()); err != nil {
			t.Fatalf("%s: %v", deleteTo, err)
		}
		s, err := Open("f", opts)
		if err != nil {
			t.Fatalf("%s: reopen: %v", deleteTo, err)
		}
		if deleteTo != "topic deleted" {
			recs, ls, hwm, err := readLog(s, "r", 0)
			if err != nil || hwm != 41 || recs[len(recs)-1].val != "after-0" || ls < info.Partitions[0].LogStartOffset {
				t.Fatalf("%s: r after the sweep: [%d, %d), %d records, %v", deleteTo, ls, hwm, len(recs), err)
			}
		}
		s.Close()
	}
}

// ---------------------------------------------------------------------------
// Child processes: this test binary run again with SPOOL_TEST_CHILD naming a
// role. A child talks to the test through lines on its stdout and stdin.

const childEnv = "SPOOL_TEST_CHILD"

// TestChildProcess is the entry point of the child processes; it does nothing
// in the test run itself.
func TestChildProcess(t *testing.T) {
	role := os.Getenv(childEnv)
	if role == "" {
		t.Skip("the child process of the kill and multi-process tests")
	}
	// The test's parent may die without killing its children: exit when
	// stdin closes, and in any case after a while.
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			childStdin <- sc.Text()
		}
		os.Exit(3)
	}()
	time.AfterFunc(2*time.Minute, func() { os.Exit(4) })
	var err error
	switch role {
	case "killwriter":
		err = childKillWriter()
	case "mpwriter":
		err = childMPWriter()
	case "mpreader":
		err = childMPReader()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		childOut("error %v", err)
		os.Exit(2)
	}
	os.Exit(0)
}

var (
	childOutMu sync.Mutex
	childStdin = make(chan string, 1024) // lines the test sent
)

// childOut writes one line to stdout, in one write.
func childOut(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	childOutMu.Lock()
	defer childOutMu.Unlock()
	os.Stdout.WriteString(line)
}

func envInt(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		panic(fmt.Sprintf("%s=%q: %v", name, os.Getenv(name), err))
	}
	return n
}

// child is a running child process.
type child struct {
	t     testing.TB
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, closed at its end
	err   strings.Builder
	done  chan struct{} // closed once the process was waited for
	werr  error
}

// startChild runs this test binary as a child with role and env.
func startChild(t testing.TB, role string, env ...string) *child {
	t.Helper()
	return startTestChild(t, "TestChildProcess", role, 5*time.Minute, append([]string{childEnv + "=" + role}, env...))
}

// startTestChild runs test of this binary as a child process with env added
// to this one's, reading its output line by line.
func startTestChild(t testing.TB, test, role string, timeout time.Duration, env []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), env...)
	c := &child{t: t, role: role, cmd: cmd, lines: make(chan string, 1<<16), done: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pipes sync.WaitGroup
	pipes.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	})
	pipes.Go(func() {
		b, _ := io.ReadAll(stderr)
		c.err.Write(b) // read by stderr, after the process was waited for
	})
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to their ends first
		c.werr = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		c.wait()
	})
	return c
}

// next returns the next line the child wrote, or false at the end of its
// output or after timeout.
func (c *child) next(timeout time.Duration) (string, bool) {
	select {
	case line, ok := <-c.lines:
		return line, ok
	case <-time.After(timeout):
		return "", false
	}
}

// expect reads lines until one starts with prefix, and fails the test at the
// end of the output or after timeout.
func (c *child) expect(prefix string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		line, ok := c.next(time.Until(deadline))
		if !ok {
			c.t.Fatalf("%s: no %q line: %s", c.role, prefix, c.stderr())
		}
		if strings.HasPrefix(line, "error ") {
			c.t.Fatalf("%s: %s", c.role, line)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

func (c *child) send(format string, args ...any) {
	fmt.Fprintf(c.stdin, format+"\n", args...)
}

func (c *child) kill() { c.cmd.Process.Kill() }

// wait waits for the child to exit and returns how it did.
func (c *child) wait() error {
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		c.kill()
		<-c.done
	}
	return c.werr
}

// stderr returns what the child wrote to stderr, once it has exited.
func (c *child) stderr() string {
	c.kill()
	c.wait()
	return c.err.String()
}

// hashVals hashes the values of one commit, in order.
func hashVals(vals []string) uint64 {
	h := fnv.New64a()
	for _, v := range vals {
		io.WriteString(h, v)
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// kvID names a record the kill test's child wrote: round, goroutine,
// commit, record.
type kvID struct{ round, g, seq, i int }

func (id kvID) String() string { return fmt.Sprintf("c%d.g%d.s%d.i%d", id.round, id.g, id.seq, id.i) }

func parseKV(v string) (kvID, bool) {
	var id kvID
	f := strings.SplitN(v, ".", 5)
	return id, len(f) >= 4 && parseTagged(f, "cgsi", &id.round, &id.g, &id.seq, &id.i)
}

// childKillWriter commits from several goroutines until it is killed, and
// reports every acknowledged commit on stdout:
//
//	ack <topic> <partition> <base> <last> <hash of the values> <goroutine> <seq> <with offset>
func childKillWriter() error {
	path := os.Getenv("SPOOL_CHILD_PATH")
	round, seed := envInt("SPOOL_CHILD_ROUND"), uint64(envInt("SPOOL_CHILD_SEED"))
	s, err := Open(path, Options{ExtentSize: format.MinExtentSize, CheckpointBytes: int64(envInt("SPOOL_CHILD_CKPT")),
		RetentionCheck: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	keep := []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}
	if err := s.CreateTopic(ctx, "k", 3, keep); err != nil && !errors.Is(err, ErrTopicExists) {
		return err
	}
	if err := s.CreateTopic(ctx, "kr", 1, append(keep, format.ConfigEntry{Name: ConfigRetentionBytes, Value: "8192"})); err != nil && !errors.Is(err, ErrTopicExists) {
		return err
	}
	childOut("ready")
	for g := range envInt("SPOOL_CHILD_GOROUTINES") {
		go func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for seq := 1; ; seq++ {
				topic, part := "k", int32(rng.IntN(3))
				if rng.IntN(5) == 0 {
					topic, part = "kr", 0
				}
				vals := make([]string, 1+rng.IntN(5))
				for i := range vals {
					vals[i] = kvID{round, g, seq, i}.String() + "." + strings.Repeat("x", rng.IntN(300))
				}
				txn := &Txn{Appends: []Append{{Topic: topic, Partition: part, Batches: valuesBatch(time.Now().UnixMilli(), vals)}}}
				withOffset := rng.IntN(3) == 0
				if withOffset {
					txn.Offsets = []Offset{{Group: fmt.Sprintf("c%dg%d", round, g), Topic: "k", Partition: 0, Offset: int64(seq)}}
				}
				res, err := s.Commit(ctx, txn)
				if err != nil {
					childOut("error commit: %v", err)
					os.Exit(2)
				}
				childOut("ack %s %d %d %d %016x %d %d %v", topic, part, res[0].BaseOffset, res[0].LastOffset, hashVals(vals), g, seq, withOffset)
			}
		}()
	}
	time.Sleep(time.Hour)
	return nil
}

// mpID names a record of the multi-process test: writer, goroutine, commit,
// record.
type mpID struct{ w, g, seq, i int }

func (id mpID) String() string { return fmt.Sprintf("w%d.g%d.s%d.i%d", id.w, id.g, id.seq, id.i) }

func parseMP(v string) (mpID, bool) {
	var id mpID
	n, err := fmt.Sscanf(v, "w%d.g%d.s%d.i%d", &id.w, &id.g, &id.seq, &id.i)
	return id, err == nil && n == 4 && id.String() == v
}

// childMPWriter waits for "go", then commits SPOOL_CHILD_COMMITS times from
// each of its goroutines to the two partitions of topic m, and reports each
// acknowledged commit:
//
//	ack <partition> <base> <last> <goroutine> <seq> <submitted, Unix ns> <acknowledged, Unix ns>
//
// Goroutine 0 pauses up to 2ms between commits, so that the readers of the
// file are often idle, waiting, when a commit arrives.
func childMPWriter() error {
	id, seed := envInt("SPOOL_CHILD_ID"), uint64(envInt("SPOOL_CHILD_SEED"))
	s, err := Open(os.Getenv("SPOOL_CHILD_PATH"), Options{NoCreate: true, CheckpointBytes: int64(envInt("SPOOL_CHILD_CKPT")),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	childOut("ready")
	if line := <-childStdin; line != "go" {
		return fmt.Errorf("got %q, want go", line)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range envInt("SPOOL_CHILD_GOROUTINES") {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for seq := 1; seq <= envInt("SPOOL_CHILD_COMMITS"); seq++ {
				if g == 0 {
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				}
				p := int32(rng.IntN(2))
				vals := make([]string, 1+rng.IntN(3))
				for i := range vals {
					vals[i] = mpID{id, g, seq, i}.String()
				}
				b := valuesBatch(time.Now().UnixMilli(), vals)
				t0 := time.Now()
				res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "m", Partition: p, Batches: b}}})
				if err != nil {
					errs <- err
					return
				}
				childOut("ack %d %d %d %d %d %d %d", p, res[0].BaseOffset, res[0].LastOffset, g, seq, t0.UnixNano(), time.Now().UnixNano())
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(<-errs, s.Close()); err != nil {
		return err
	}
	childOut("done")
	return nil
}

// childMPReader follows both partitions of topic m with Wait and Read and
// reports every record as it sees it:
//
//	rec <partition> <offset> <value> <seen, Unix ns>
//
// until the test sends "end <hwm 0> <hwm 1>" and it has read that far.
func childMPReader() error {
	s, err := Open(os.Getenv("SPOOL_CHILD_PATH"), Options{NoCreate: true, ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	var end [2]atomic.Int64
	end[0].Store(-1)
	end[1].Store(-1)
	go func() {
		for line := range childStdin {
			var e0, e1 int64
			if _, err := fmt.Sscanf(line, "end %d %d", &e0, &e1); err == nil {
				end[0].Store(e0)
				end[1].Store(e1)
			}
		}
	}()
	childOut("ready")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for p := range int32(2) {
		wg.Go(func() {
			next := int64(0)
			for e := end[p].Load(); e < 0 || next < e; e = end[p].Load() {
				wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				err := s.Wait(wctx, "m", p, next)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				f, err := s.Read("m", p, next, 1<<20, nil)
				if err != nil {
					errs <- err
					return
				}
				seen := time.Now().UnixNano()
				for b := f.Batches; len(b) > 0; {
					one, rest, err := format.NextBatch(b)
					if err != nil {
						errs <- err
						return
					}
					it, err := format.NewRecordIter(one)
					if err != nil {
						errs <- err
						return
					}
					var r format.BatchRecord
					for it.Next(&r) {
						if r.Offset >= next {
							childOut("rec %d %d %s %d", p, r.Offset, r.Value, seen)
							next = r.Offset + 1
						}
					}
					if err := it.Err(); err != nil {
						errs <- err
						return
					}
					b = rest
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	childOut("done")
	return nil
}

// mpAck is a commit a writer child acknowledged.
type mpAck struct {
	w          int
	part       int32
	base, last int64
	g, seq     int
	sub, ack   int64 // Unix ns
}

// mpRec is a record the reader child saw.
type mpRec struct {
	val  string
	seen int64 // Unix ns
}

// TestMultiProcess runs two writer processes and a reader process on one
// file. The writers append to the same two partitions from two goroutines
// each; the reader follows with Wait and Read. It checks that the reader saw
// every acknowledged record exactly once at the offset its writer was told,
// nothing else, offsets contiguous from 0, and each writer goroutine's
// commits in order within each partition; then that a process opening the
// file alone reads the same. It logs how long a commit took to reach the
// reader.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := range rounds(1, 20) {
		runMultiProcess(t, rng, round, false)
	}
}

// TestMultiProcessKillWriter is TestMultiProcess with one writer killed with
// SIGKILL at a random point, checkpointing often: the other writer and the
// reader go on, and nothing acknowledged is lost.
func TestMultiProcessKillWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	for round := range rounds(2, 40) {
		runMultiProcess(t, rng, round, true)
	}
}

func runMultiProcess(t *testing.T, rng *rand.Rand, round int, kill bool) {
	path := filepath.Join(t.TempDir(), "mp.spool")
	s, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "m", 2, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const commits, goroutines = 150, 2
	reader := startChild(t, "mpreader", "SPOOL_CHILD_PATH="+path)
	reader.expect("ready", time.Minute)
	seen := [2]map[int64]mpRec{{}, {}}
	var readerErr error
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for line := range reader.lines {
			var p int32
			var off, at int64
			var val string
			switch {
			case strings.HasPrefix(line, "rec "):
				if _, err := fmt.Sscanf(line, "rec %d %d %s %d", &p, &off, &val, &at); err != nil || p < 0 || p > 1 {
					readerErr = fmt.Errorf("reader: %q: %v", line, err)
					return
				}
				if prev, dup := seen[p][off]; dup {
					readerErr = fmt.Errorf("reader saw m/%d:%d twice: %s and %s", p, off, prev.val, val)
				}
				seen[p][off] = mpRec{val, at}
			case strings.HasPrefix(line, "error "):
				readerErr = fmt.Errorf("reader: %s", line)
			}
		}
	}()

	ckpt := 0
	if kill {
		ckpt = []int{1, 2 << 10, 8 << 10}[rng.IntN(3)]
	}
	var writers []*child
	for w := 1; w <= 2; w++ {
		c := startChild(t, "mpwriter", "SPOOL_CHILD_PATH="+path, fmt.Sprint("SPOOL_CHILD_ID=", w),
			fmt.Sprint("SPOOL_CHILD_SEED=", rng.Uint32()), fmt.Sprint("SPOOL_CHILD_CKPT=", ckpt),
			fmt.Sprint("SPOOL_CHILD_COMMITS=", commits), fmt.Sprint("SPOOL_CHILD_GOROUTINES=", goroutines))
		c.expect("ready", time.Minute)
		writers = append(writers, c)
	}
	for _, c := range writers {
		c.send("go")
	}
	killAfter := -1
	if kill {
		killAfter = 1 + rng.IntN(commits*goroutines-1)
	}
	var acks []mpAck
	var ackMu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range writers {
		w := i + 1
		wg.Go(func() {
			n := 0
			for line := range c.lines {
				switch {
				case strings.HasPrefix(line, "ack "):
					a := mpAck{w: w}
					if _, err := fmt.Sscanf(line, "ack %d %d %d %d %d %d %d", &a.part, &a.base, &a.last, &a.g, &a.seq, &a.sub, &a.ack); err != nil {
						t.Errorf("writer %d: %q: %v", w, line, err)
						return
					}
					ackMu.Lock()
					acks = append(acks, a)
					ackMu.Unlock()
					if n++; w == 1 && n == killAfter {
						c.kill()
					}
				case strings.HasPrefix(line, "error "):
					t.Errorf("writer %d: %s", w, line)
				}
			}
		})
	}
	wg.Wait()
	for i, c := range writers {
		if err := c.wait(); err != nil && !(kill && i == 0) {
			t.Fatalf("writer %d: %v: %s", i+1, err, c.stderr())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The end of what the reader must see: what a new process sees.
	s, err = Open(path, Options{ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var ends [2]int64
	for p := range int32(2) {
		if _, ends[p], err = s.Offsets("m", p); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	reader.send("end %d %d", ends[0], ends[1])
	select {
	case <-readerDone:
	case <-time.After(time.Minute):
		t.Fatalf("the reader did not reach %v: %s", ends, reader.stderr())
	}
	if err := reader.wait(); err != nil || readerErr != nil {
		t.Fatalf("reader: %v, %v: %s", err, readerErr, reader.stderr())
	}

	// What the reader saw: contiguous, acknowledged records where their
	// writers were told, and in order.
	acked := map[mpID]bool{}
	lastAck := map[[2]int]int{}
	for _, a := range acks {
		lastAck[[2]int{a.w, a.g}] = max(lastAck[[2]int{a.w, a.g}], a.seq)
		for off := a.base; off <= a.last; off++ {
			id := mpID{a.w, a.g, a.seq, int(off - a.base)}
			acked[id] = true
			if r, ok := seen[a.part][off]; !ok || r.val != id.String() {
				t.Fatalf("round %d: m/%d:%d holds %q for the reader, %v was acknowledged there", round, a.part, off, r.val, id)
			}
		}
	}
	for p := range int32(2) {
		if int64(len(seen[p])) != ends[p] {
			t.Fatalf("round %d: the reader saw %d records of m/%d, whose high watermark is %d", round, len(seen[p]), p, ends[p])
		}
		last := map[[2]int]mpID{}
		for off := range ends[p] {
			r, ok := seen[p][off]
			if !ok {
				t.Fatalf("round %d: the reader never saw m/%d:%d", round, p, off)
			}
			id, ok := parseMP(r.val)
			switch {
			case !ok:
				t.Fatalf("round %d: m/%d:%d: %q was never written", round, p, off, r.val)
			case !acked[id] && !(kill && id.w == 1 && id.seq == lastAck[[2]int{1, id.g}]+1):
				t.Fatalf("round %d: m/%d:%d: %v was never acknowledged", round, p, off, id)
			}
			k := [2]int{id.w, id.g}
			if prev, ok := last[k]; ok && (id.seq < prev.seq || id.seq == prev.seq && id.i != prev.i+1) {
				t.Fatalf("round %d: m/%d:%d: %v after %v", round, p, off, id, prev)
			}
			last[k] = id
		}
	}
	// A process alone with the file recovers it and reads the same, and
	// perhaps the last commit of the killed writer, which it wrote but
	// never published.
	s, err = Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("round %d: open alone: %v", round, err)
	}
	defer s.Close()
	for p := range int32(2) {
		recs, _, _, err := readLog(s, "m", p)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, r := range recs {
			id, _ := parseMP(r.val)
			if r.off < ends[p] && r.val != seen[p][r.off].val || r.off >= ends[p] && !(kill && id.w == 1 && id.seq == lastAck[[2]int{1, id.g}]+1) {
				t.Fatalf("round %d: after recovery m/%d:%d holds %q, the reader saw %q", round, p, r.off, r.val, seen[p][r.off].val)
			}
		}
		if int64(len(recs)) < ends[p] {
			t.Fatalf("round %d: after recovery m/%d holds %d records, the reader saw %d", round, p, len(recs), ends[p])
		}
	}
	if err := checkExtents(s); err != nil {
		t.Fatalf("round %d: after recovery: %v", round, err)
	}

	// How long a commit took to reach the reader, from its submission.
	var lat, idle, commit []time.Duration
	for _, a := range acks {
		d := time.Duration(seen[a.part][a.base].seen - a.sub)
		lat = append(lat, d)
		commit = append(commit, time.Duration(a.ack-a.sub))
		if a.g == 0 {
			idle = append(idle, d)
		}
	}
	slices.Sort(lat)
	slices.Sort(idle)
	slices.Sort(commit)
	pct := func(d []time.Duration, q float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, int(q*float64(len(d))))]
	}
	t.Logf("round %d: %d commits by 2 writer processes (one killed after %d acks), seen by the reader process; "+
		"submission to seen in another process: p50 %v p90 %v p99 %v max %v; paced goroutine only: p50 %v p99 %v; "+
		"submission to acknowledgement (the commit itself, with its sync): p50 %v p99 %v",
		round, len(acks), killAfter, pct(lat, .5), pct(lat, .9), pct(lat, .99), pct(lat, 1), pct(idle, .5), pct(idle, .99),
		pct(commit, .5), pct(commit, .99))
}
