package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// setWatchTest sets what tests change about the watcher for the rest of t.
func setWatchTest(t testing.TB, poll bool, sleep time.Duration) {
	watchTest.poll.Store(poll)
	watchTest.sleep.Store(int64(sleep))
	t.Cleanup(func() {
		watchTest.poll.Store(false)
		watchTest.sleep.Store(0)
	})
}

// watchEnds returns a channel that receives s each time one of its watcher
// goroutines ends.
func watchEnds(t testing.TB, s *Store) <-chan struct{} {
	ch := make(chan struct{}, 64)
	f := func(w *Store) {
		if w == s {
			ch <- struct{}{}
		}
	}
	watchTest.ended.Store(&f)
	t.Cleanup(func() { watchTest.ended.Store(nil) })
	return ch
}

// asleep reports whether a watcher has gone to sleep, or is about to, on the
// current value of the counter of the shared page s maps: in any process.
func asleep(s *Store) bool { return s.pg.load(wordSleepers) > s.pg.load(wordCounter) }

// awaitAsleep returns once a watcher sleeps on s's shared page.
func awaitAsleep(t testing.TB, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !asleep(s); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("no watcher went to sleep on the shared page")
		}
	}
}

// waitModes are the watcher's two ways of waiting: the futex, where a lost
// wake would hang (the futex wait has no useful timeout), and polling.
var waitModes = []struct {
	name  string
	poll  bool
	sleep time.Duration
}{
	{"futex", false, time.Hour},
	{"poll", true, 0},
}

// TestWaitOtherStore has a Store wait for the commits of another on the same
// Mem file, as another process would: with its watcher asleep when the
// commit comes, or still spinning.
func TestWaitOtherStore(t *testing.T) {
	for _, m := range waitModes {
		t.Run(m.name, func(t *testing.T) {
			if !m.poll && !vfs.CanWaitWord {
				t.Skip("no futex on " + runtime.GOOS)
			}
			setWatchTest(t, m.poll, m.sleep)
			fs := vfs.NewMem()
			a := openWithTopic(t, fs, 1)
			defer a.Close()
			b, err := Open("f", memOpts(fs))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for i := range int64(20) {
				done := make(chan error, 1)
				go func() {
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					done <- b.Wait(wctx, "t", 0, i)
				}()
				if !m.poll && i%2 == 0 {
					awaitAsleep(t, a)
				}
				if _, err := a.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint("v", i), 1)}}}); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatalf("wait for offset %d: %v", i, err)
				}
				if got := values(t, b, "t", 0, i); !slices.Equal(got, []string{fmt.Sprint("v", i, "-0")}) {
					t.Fatalf("after the wait for offset %d, b reads %q", i, got)
				}
			}
		})
	}
}

// TestWatcherEnds checks that the watcher goroutine ends once nobody waits,
// asleep on the shared page or not, and at Close.
func TestWatcherEnds(t *testing.T) {
	fs := vfs.NewMem()
	a := openWithTopic(t, fs, 1)
	defer a.Close()
	b, err := Open("f", memOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	ended := watchEnds(t, b)
	// awaitEnded returns once no watcher of b runs, and one ended.
	awaitEnded := func(what string) {
		t.Helper()
		for {
			select {
			case <-ended:
			case <-time.After(time.Minute):
				t.Fatalf("%s: the watcher still runs", what)
			}
			if !b.watching.Load() {
				return
			}
		}
	}
	// awaitWatching returns once a watcher of b runs: a Wait that found
	// nothing for a while sleeps and starts it.
	awaitWatching := func() {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !b.watching.Load(); runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatal("no watcher started")
			}
		}
	}
	waitOn := func(ctx context.Context, offset int64) chan error {
		done := make(chan error, 1)
		go func() { done <- b.Wait(ctx, "t", 0, offset) }()
		return done
	}

	// The wait ends with its context, the watcher asleep.
	wctx, cancel := context.WithCancel(ctx)
	done := waitOn(wctx, 0)
	awaitWatching()
	if vfs.CanWaitWord {
		awaitAsleep(t, a)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("wait: %v, want context.Canceled", err)
	}
	awaitEnded("after a wait's context ended")

	// Two waits that overlap; the second ends with a commit.
	wctx, cancel = context.WithCancel(ctx)
	done = waitOn(wctx, 0)
	done2 := waitOn(ctx, 0)
	awaitWatching()
	cancel()
	<-done
	if _, err := a.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("x", 1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	awaitEnded("after a wait that a commit ended")

	// Close ends a wait and the watcher.
	done = waitOn(ctx, 1)
	awaitWatching()
	if vfs.CanWaitWord {
		awaitAsleep(t, a)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("wait: %v, want ErrClosed", err)
	}
	awaitEnded("after Close")
}

// waitChildEnv names the spool file of the child process of
// TestWaitOtherProcess and BenchmarkCrossProcessWake.
const waitChildEnv = "SPOOL_WAIT_CHILD"

// TestWaitChildProcess is the child process of TestWaitOtherProcess and
// BenchmarkCrossProcessWake; it does nothing in the test run itself. It
// waits for offsets 0, 1, ... of t/0 in turn and writes for each, as its wait
// returns:
//
//	woke <offset> <Unix ns>
//
// SPOOL_WAIT_POLL=1 makes its watcher poll; SPOOL_WAIT_SLEEP sets the
// timeout of the watcher's futex wait.
func TestWaitChildProcess(t *testing.T) {
	path := os.Getenv(waitChildEnv)
	if path == "" {
		t.Skip("the child process of the cross-process wait test and benchmark")
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3) // the parent is gone, or done
	}()
	time.AfterFunc(10*time.Minute, func() { os.Exit(4) })
	watchTest.poll.Store(os.Getenv("SPOOL_WAIT_POLL") == "1")
	if d, err := time.ParseDuration(os.Getenv("SPOOL_WAIT_SLEEP")); err == nil {
		watchTest.sleep.Store(int64(d))
	}
	s, err := Open(path, Options{NoCreate: true, ReadOnly: true, Logger: quietLogger})
	if err != nil {
		childOut("error %v", err)
		os.Exit(2)
	}
	childOut("ready")
	for i := int64(0); ; i++ {
		if err := s.Wait(ctx, "t", 0, i); err != nil {
			childOut("error %v", err)
			os.Exit(2)
		}
		childOut("woke %d %d", i, time.Now().UnixNano())
	}
}

// startWaitChild runs this test binary as the child of TestWaitChildProcess
// on the file at path.
func startWaitChild(t testing.TB, path string, env ...string) *child {
	t.Helper()
	c := startTestChild(t, "TestWaitChildProcess", "waiter", 15*time.Minute, append([]string{waitChildEnv + "=" + path}, env...))
	c.expect("ready", time.Minute)
	return c
}

// woke reads the child's line for offset i and returns when it woke, in Unix
// ns.
func (c *child) woke(i int64) int64 {
	c.t.Helper()
	var off, at int64
	line := c.expect("woke ", time.Minute)
	if _, err := fmt.Sscanf(line, "woke %d %d", &off, &at); err != nil || off != i {
		c.t.Fatalf("child: %q, want offset %d woken (%v)", line, i, err)
	}
	return at
}

// openWaitFile creates a spool file on disk with topic t of one partition
// and returns it open.
func openWaitFile(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wait.spool")
	s, err := Open(path, Options{RetentionCheck: time.Hour, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTopic(ctx, "t", 1, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// TestWaitOtherProcess has a child process wait for this one's commits, its
// watcher asleep when the commit comes or still spinning. The child's futex
// wait has a timeout of an hour: a lost wake fails the test.
func TestWaitOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for _, m := range waitModes {
		t.Run(m.name, func(t *testing.T) {
			if !m.poll && !vfs.CanWaitWord {
				t.Skip("no futex on " + runtime.GOOS)
			}
			s, path := openWaitFile(t)
			env := []string{"SPOOL_WAIT_SLEEP=" + m.sleep.String()}
			if m.poll {
				env = append(env, "SPOOL_WAIT_POLL=1")
			}
			c := startWaitChild(t, path, env...)
			for i := range int64(50) {
				if !m.poll && i%2 == 0 {
					awaitAsleep(t, s)
				}
				if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("v", 1)}}, Durability: DurabilityNone}); err != nil {
					t.Fatal(err)
				}
				c.woke(i)
			}
		})
	}
}

// BenchmarkCrossProcessWake measures how long a commit takes to wake a Wait in
// another process: from just before Commit (durability none) in this process
// to the return of the child's Wait, p50 and p99 over the iterations
// (commit-p50-ns: the part until Commit returned here, which includes the
// publish). The commits come back to back (gap=0: the child's watcher still
// spins) or after a pause (its watcher asleep on the futex, or, mode=poll,
// polling as before the futex).
func BenchmarkCrossProcessWake(b *testing.B) {
	for _, mode := range []string{"futex", "poll"} {
		for _, gap := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond} {
			b.Run(fmt.Sprintf("mode=%s/gap=%v", mode, gap), func(b *testing.B) {
				if mode == "futex" && !vfs.CanWaitWord {
					b.Skip("no futex on " + runtime.GOOS)
				}
				s, path := openWaitFile(b)
				var env []string
				if mode == "poll" {
					env = append(env, "SPOOL_WAIT_POLL=1")
				}
				c := startWaitChild(b, path, env...)
				txn := &Txn{Appends: []Append{{Topic: "t", Batches: benchBatch(1, 100)}}, Durability: DurabilityNone}
				lat := make([]time.Duration, 0, b.N)
				commit := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := range int64(b.N) {
					time.Sleep(gap)
					start := time.Now()
					if _, err := s.Commit(ctx, txn); err != nil {
						b.Fatal(err)
					}
					commit = append(commit, time.Since(start))
					lat = append(lat, time.Duration(c.woke(i)-start.UnixNano()))
				}
				b.StopTimer()
				slices.Sort(lat)
				slices.Sort(commit)
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
				b.ReportMetric(float64(commit[len(commit)/2].Nanoseconds()), "commit-p50-ns")
			})
		}
	}
}
