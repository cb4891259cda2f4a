package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// testFS is one FS under test and a way to name a fresh file on it.
type testFS struct {
	name    string
	fs      FS
	newPath func(t *testing.T) string
}

func testFSes() []testFS {
	return []testFS{
		{"OS", OS, func(t *testing.T) string { return filepath.Join(t.TempDir(), "spool") }},
		{"Mem", NewMem(), func(t *testing.T) string { return t.Name() }},
	}
}

// forEachFS runs test on every FS with a path that does not exist yet.
func forEachFS(t *testing.T, test func(t *testing.T, fsys FS, path string)) {
	for _, tf := range testFSes() {
		t.Run(tf.name, func(t *testing.T) { test(t, tf.fs, tf.newPath(t)) })
	}
}

// open opens path on fsys, creating it, and closes it when the test ends
// unless the test closed it.
func open(t *testing.T, fsys FS, path string) File {
	t.Helper()
	f, err := fsys.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

func wantErr(t tb, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("got error %v, want %v", got, want)
	}
}

func must(t tb, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// awaitBlocked returns once n Files of f's file are waiting in Lock, so that
// a test knows it exercises the wake-up rather than a lock that was free on
// arrival.
func awaitBlocked(t *testing.T, f File, n int) {
	t.Helper()
	switch f := f.(type) {
	case *memFile:
		awaitWaiters(f.node.locks, n)
	case *osFile:
		awaitOSBlocked(t, f, n)
	default:
		t.Fatalf("unknown File %T", f)
	}
}

// awaitWaiters counts both Files waiting for other Files and Files waiting
// for the OS.
func awaitWaiters(lt *lockTable, n int) {
	poll(func() bool {
		lt.mu.Lock()
		defer lt.mu.Unlock()
		return lt.waiters+len(lt.pending) >= n
	})
}

// poll returns once cond holds; the test's deadline bounds the wait.
func poll(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func TestLockExclusion(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		a, b := open(t, fsys, path), open(t, fsys, path)

		must(t, a.Lock(0, 1, Exclusive, false))
		wantErr(t, b.Lock(0, 1, Exclusive, false), ErrLocked)
		wantErr(t, b.Lock(0, 1, Shared, false), ErrLocked)
		must(t, b.Lock(1, 1, Exclusive, false)) // disjoint ranges are independent
		must(t, a.Lock(0, 1, Exclusive, false)) // relocking one's own range
		must(t, a.Unlock(0, 1))

		must(t, a.Lock(0, 1, Shared, false))
		must(t, b.Lock(0, 1, Shared, false))
		wantErr(t, a.Lock(0, 1, Exclusive, false), ErrLocked) // upgrade refused while b reads
		must(t, b.Unlock(0, 1))
		must(t, a.Lock(0, 1, Exclusive, false)) // upgrade
		wantErr(t, b.Lock(0, 1, Shared, false), ErrLocked)
		must(t, a.Lock(0, 1, Shared, false)) // downgrade
		must(t, b.Lock(0, 1, Shared, false))
		must(t, a.Unlock(0, 1))
		must(t, b.Unlock(0, 1))
		must(t, b.Unlock(0, 1)) // unlocking what is not held is a no-op
		must(t, a.Lock(0, 1, Exclusive, false))
	})
}

func TestLockOverlap(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		if _, ok := fsys.(osFS); ok && runtime.GOOS == "windows" {
			t.Skip("Windows unlocks only whole ranges")
		}
		a, b := open(t, fsys, path), open(t, fsys, path)
		must(t, a.Lock(0, 10, Exclusive, false))
		wantErr(t, b.Lock(9, 10, Shared, false), ErrLocked)
		must(t, a.Unlock(0, 5))
		must(t, b.Lock(0, 5, Exclusive, false))
		wantErr(t, b.Lock(4, 2, Shared, false), ErrLocked)
	})
}

func TestLockBadRange(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		for _, r := range [][2]int64{{-1, 1}, {0, 0}, {0, -1}, {1 << 62, 1 << 62}} {
			if err := f.Lock(r[0], r[1], Exclusive, false); err == nil || err == ErrLocked {
				t.Errorf("Lock(%d, %d) = %v, want a range error", r[0], r[1], err)
			}
			if err := f.Unlock(r[0], r[1]); err == nil {
				t.Errorf("Unlock(%d, %d) = nil, want a range error", r[0], r[1])
			}
		}
		if err := f.Lock(0, 1, LockMode(7), false); err == nil {
			t.Error("Lock with an unknown mode succeeded")
		}
	})
}

func TestCloseKeepsOthersLocks(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		a, b := open(t, fsys, path), open(t, fsys, path)
		must(t, a.Lock(0, 1, Exclusive, false))
		must(t, a.Lock(5, 1, Shared, false))

		c := open(t, fsys, path)
		must(t, c.Lock(2, 1, Exclusive, false))
		must(t, c.Lock(5, 1, Shared, false))
		must(t, c.Close())
		wantErr(t, b.Lock(0, 1, Shared, false), ErrLocked)
		wantErr(t, b.Lock(5, 1, Exclusive, false), ErrLocked)
		must(t, b.Lock(2, 1, Exclusive, false)) // c's locks went with it

		must(t, a.Close())
		must(t, b.Lock(0, 1, Exclusive, false))
		must(t, b.Lock(5, 1, Exclusive, false))
	})
}

func TestLockWaitGranted(t *testing.T) {
	for _, release := range []string{"Unlock", "Close"} {
		t.Run(release, func(t *testing.T) {
			forEachFS(t, func(t *testing.T, fsys FS, path string) {
				a, b, c := open(t, fsys, path), open(t, fsys, path), open(t, fsys, path)
				must(t, a.Lock(0, 1, Exclusive, false))
				done := make(chan error, 1)
				go func() { done <- b.Lock(0, 1, Exclusive, true) }()
				awaitBlocked(t, b, 1)
				select {
				case err := <-done:
					t.Fatalf("waiting Lock returned %v while the lock was held", err)
				default:
				}
				wantErr(t, c.Lock(0, 1, Shared, false), ErrLocked)
				if release == "Unlock" {
					must(t, a.Unlock(0, 1))
				} else {
					must(t, a.Close())
				}
				must(t, <-done)
				wantErr(t, c.Lock(0, 1, Shared, false), ErrLocked) // b has it now
				must(t, b.Unlock(0, 1))
				must(t, c.Lock(0, 1, Shared, false))
			})
		})
	}
}

func TestSharedWaiterGranted(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		a, b, c := open(t, fsys, path), open(t, fsys, path), open(t, fsys, path)
		must(t, a.Lock(0, 4, Exclusive, false))
		done := make(chan error, 2)
		go func() { done <- b.Lock(0, 4, Shared, true) }()
		go func() { done <- c.Lock(2, 4, Shared, true) }()
		awaitBlocked(t, c, 2)
		must(t, a.Lock(0, 4, Shared, false)) // a downgrade admits both readers
		must(t, <-done)
		must(t, <-done)
		wantErr(t, a.Lock(0, 1, Exclusive, false), ErrLocked)
	})
}

func TestMapCoherence(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		a, b := open(t, fsys, path), open(t, fsys, path)
		must(t, a.Allocate(0, 2*memPageSize))
		ma, err := a.Map(memPageSize, memPageSize)
		must(t, err)
		mb, err := b.Map(memPageSize, memPageSize)
		must(t, err)
		if len(ma) != memPageSize || len(mb) != memPageSize {
			t.Fatalf("mapped %d and %d bytes, want %d", len(ma), len(mb), memPageSize)
		}

		copy(ma[10:], "hello")
		if got := readAt(t, b, memPageSize+10, 5); string(got) != "hello" {
			t.Errorf("ReadAt after a store through another File's mapping = %q", got)
		}
		if got := string(mb[10:15]); got != "hello" {
			t.Errorf("other mapping sees %q", got)
		}
		writeAt(t, b, "world", memPageSize+100)
		if got := string(ma[100:105]); got != "world" {
			t.Errorf("mapping after WriteAt sees %q", got)
		}

		// A range inside a page, at an offset no page size divides.
		sub, err := b.Map(memPageSize+8, 16)
		must(t, err)
		if len(sub) != 16 || cap(sub) != 16 {
			t.Errorf("sub-page mapping has len %d cap %d, want 16", len(sub), cap(sub))
		}
		copy(sub, "sub")
		if got := string(ma[8:11]); got != "sub" {
			t.Errorf("sub-page store seen as %q", got)
		}

		must(t, a.Close())
		mb[0] = 42 // b's mappings outlive a
		if got := readAt(t, b, memPageSize, 1); got[0] != 42 {
			t.Errorf("ReadAt after store = %d", got[0])
		}

		for _, r := range [][2]int64{{-1, 1}, {0, 0}, {memPageSize, memPageSize + 1}, {3 * memPageSize, 1}} {
			if _, err := b.Map(r[0], r[1]); err == nil {
				t.Errorf("Map(%d, %d) succeeded outside the file", r[0], r[1])
			}
		}
	})
}

func TestAllocate(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		writeAt(t, f, "abc", 0)
		for _, c := range []struct{ off, n, size int64 }{
			{0, 10000, 10000},
			{100, 50, 10000}, // never shrinks
			{20000, 5, 20005},
		} {
			must(t, f.Allocate(c.off, c.n))
			if got := size(t, f); got != c.size {
				t.Fatalf("after Allocate(%d, %d) size = %d, want %d", c.off, c.n, got, c.size)
			}
		}
		got := readAt(t, f, 0, 20005)
		if string(got[:3]) != "abc" || bytes.ContainsFunc(got[3:], func(r rune) bool { return r != 0 }) {
			t.Error("Allocate changed the contents")
		}
		if err := f.Allocate(0, 0); err == nil {
			t.Error("Allocate(0, 0) succeeded")
		}
	})
}

func TestReadWrite(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		writeAt(t, f, "hello", 5000)
		if got := size(t, f); got != 5005 {
			t.Fatalf("size = %d, want 5005", got)
		}
		p := make([]byte, 10)
		n, err := f.ReadAt(p, 5000)
		if n != 5 || err != io.EOF || string(p[:5]) != "hello" {
			t.Errorf("ReadAt past the end = %d, %v, %q", n, err, p[:n])
		}
		if got := readAt(t, f, 4998, 2); !bytes.Equal(got, []byte{0, 0}) {
			t.Errorf("hole reads %v", got)
		}
		must(t, f.Sync())
	})
}

func TestOpenMissing(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		_, err := fsys.Open(path, false)
		wantErr(t, err, fs.ErrNotExist)
	})
}

func TestCloseTwice(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		must(t, f.Close())
		wantErr(t, f.Close(), fs.ErrClosed)
		_, err := f.ReadAt(make([]byte, 1), 0)
		wantErr(t, err, fs.ErrClosed)
		_, err = f.WriteAt([]byte{1}, 0)
		wantErr(t, err, fs.ErrClosed)
		wantErr(t, f.Lock(0, 1, Shared, false), fs.ErrClosed)
		_, err = f.Map(0, 1)
		if err == nil {
			t.Error("Map after Close succeeded")
		}
	})
}

// TestConcurrentReadWrite is for the race detector: readers on several
// Files while one File writes and grows the file.
func TestConcurrentReadWrite(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		w := open(t, fsys, path)
		const block, blocks = 1000, 200
		writeAt(t, w, string(make([]byte, block)), 0)
		var wg sync.WaitGroup
		for r := range 4 {
			f := open(t, fsys, path)
			wg.Go(func() {
				p := make([]byte, block)
				for i := range blocks {
					size, err := f.Size()
					if err != nil {
						t.Error(err)
						return
					}
					off := int64(i*(r+1)*block) % max(size-block, 1)
					if _, err := f.ReadAt(p, off); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for i := range blocks {
			writeAt(t, w, string(bytes.Repeat([]byte{byte(i)}, block)), int64(i*block))
			if i%50 == 0 {
				must(t, w.Sync())
			}
		}
		wg.Wait()
	})
}

func readAt(t *testing.T, f File, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeAt(t *testing.T, f File, s string, off int64) {
	t.Helper()
	if _, err := f.WriteAt([]byte(s), off); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, f File) int64 {
	t.Helper()
	n, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteAtSync(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		writeAt(t, f, "unsynced", 0)
		if n, err := f.WriteAtSync([]byte("synced"), 100); err != nil || n != 6 {
			t.Fatalf("WriteAtSync: %d, %v", n, err)
		}
		if got := readAt(t, f, 100, 6); string(got) != "synced" {
			t.Errorf("read %q after WriteAtSync", got)
		}
		if got := size(t, f); got != 106 {
			t.Errorf("size %d after WriteAtSync, want 106", got)
		}
		must(t, f.Close())
		if _, err := f.WriteAtSync([]byte("x"), 0); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("WriteAtSync after Close: %v, want fs.ErrClosed", err)
		}
	})
}

func TestStartWriteback(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f := open(t, fsys, path)
		writeAt(t, f, "dirty", 0)
		must(t, f.StartWriteback())
		if got := readAt(t, f, 0, 5); string(got) != "dirty" {
			t.Errorf("read %q after StartWriteback", got)
		}
		must(t, f.Close())
		if err := f.StartWriteback(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("StartWriteback after Close: %v, want fs.ErrClosed", err)
		}
	})
}

func TestCacheID(t *testing.T) {
	forEachFS(t, func(t *testing.T, fsys FS, path string) {
		f, g := open(t, fsys, path), open(t, fsys, path)
		if runtime.GOOS != "windows" && f.CacheID() == ([16]byte{}) {
			t.Fatal("no cache ID")
		}
		if f.CacheID() != g.CacheID() {
			t.Error("two Files of one file have different cache IDs")
		}
		if h := open(t, fsys, path+".copy"); h.CacheID() == f.CacheID() {
			t.Error("another file has the same cache ID")
		}
	})
	m := NewMem()
	f := open(t, m, "f")
	for _, c := range []struct {
		crash *MemFS
		same  bool
	}{{m.CrashClean(), true}, {m.Crash(rand.New(rand.NewPCG(1, 2))), false}} {
		g := open(t, c.crash, "f")
		if (g.CacheID() == f.CacheID()) != c.same {
			t.Errorf("after a crash (clean %v) the cache ID is the same: %v", c.same, !c.same)
		}
	}
}
