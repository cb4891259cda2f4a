package vfs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fill returns n bytes from rng.
func fill(rng *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// contents reads all of path on fsys.
func contents(t *testing.T, fsys *MemFS, path string) []byte {
	t.Helper()
	f, err := fsys.Open(path, false)
	must(t, err)
	defer f.Close()
	return readAt(t, f, 0, int(size(t, f)))
}

func TestMemCrashKeepsSynced(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		m := NewMem()
		f := open(t, m, "spool")
		for range 1 + rng.IntN(20) {
			off := rng.Int64N(64 << 10)
			if rng.IntN(4) == 0 {
				must(t, f.Allocate(off, 1+rng.Int64N(8<<10)))
			} else {
				writeAt(t, f, string(fill(rng, 1+rng.IntN(3000))), off)
			}
			if rng.IntN(3) == 0 {
				must(t, f.Sync())
			}
		}
		must(t, f.Sync())
		want := contents(t, m, "spool")
		if got := contents(t, m.Crash(rng), "spool"); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: synced contents changed by Crash (%d bytes, want %d)", seed, len(got), len(want))
		}
	}
}

// TestMemCrashUnsynced checks that each unsynced write comes back whole,
// lost, or torn along sector lines, and that over many seeds all three
// happen.
func TestMemCrashUnsynced(t *testing.T) {
	const base, slot, slots = 16 << 10, 2500, 8
	outcomes := map[string]int{}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 2))
		m := NewMem()
		f := open(t, m, "spool")
		old := fill(rng, base)
		writeAt(t, f, string(old), 0)
		must(t, f.Sync())

		// Disjoint writes, one per slot; the last slots reach past the
		// synced size.
		type write struct {
			off  int64
			data []byte
		}
		var ws []write
		for s := range slots {
			if rng.IntN(3) == 0 {
				continue
			}
			n := 1 + rng.IntN(slot-1)
			w := write{int64(s*slot + rng.IntN(slot-n+1)), fill(rng, n)}
			writeAt(t, f, string(w.data), w.off)
			ws = append(ws, w)
		}
		crashSeed := rng.Uint64()
		got := contents(t, m.Crash(rand.New(rand.NewPCG(crashSeed, 3))), "spool")
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d, crash seed %d: "+format, append([]any{seed, crashSeed}, args...)...)
		}
		if len(got) < base || len(got) > int(size(t, f)) {
			fail("size %d outside [%d, %d]", len(got), base, size(t, f))
		}
		oldAt := func(i int64) byte {
			if i < base {
				return old[i]
			}
			return 0
		}
		covered := make([]bool, len(got))
		for _, w := range ws {
			end := w.off + int64(len(w.data))
			kept, lost := 0, 0
			for s := w.off - w.off%sectorSize; s < end; s += sectorSize {
				a, b := max(s, w.off), min(s+sectorSize, end)
				isNew, isOld := true, true
				for i := a; i < b; i++ {
					if i >= int64(len(got)) {
						isNew = false
						continue
					}
					covered[i] = true
					isNew = isNew && got[i] == w.data[i-w.off]
					isOld = isOld && got[i] == oldAt(i)
				}
				switch {
				case isNew:
					kept++
				case isOld:
					lost++
				default:
					fail("write at %d: sector at %d is neither old nor new", w.off, s)
				}
			}
			if kept > 0 && int64(len(got)) < end {
				fail("write at %d kept in part but size %d is short of its end %d", w.off, len(got), end)
			}
			switch {
			case lost == 0:
				outcomes["whole"]++
			case kept == 0:
				outcomes["lost"]++
			default:
				outcomes["torn"]++
			}
		}
		for i, c := range covered {
			if !c && got[i] != oldAt(int64(i)) {
				fail("byte %d outside every write changed", i)
			}
		}
	}
	t.Logf("outcomes over all seeds: %v", outcomes)
	for _, o := range []string{"whole", "lost", "torn"} {
		if outcomes[o] == 0 {
			t.Errorf("no write was %s", o)
		}
	}
}

func TestMemCrashAllocate(t *testing.T) {
	sizes := map[int64]bool{}
	for seed := range uint64(20) {
		m := NewMem()
		f := open(t, m, "spool")
		must(t, f.Allocate(0, 100))
		must(t, f.Sync())
		must(t, f.Allocate(0, 5000))
		sizes[size(t, open(t, m.Crash(rand.New(rand.NewPCG(seed, 4))), "spool"))] = true
	}
	if len(sizes) != 2 || !sizes[100] || !sizes[5000] {
		t.Errorf("sizes after crash = %v, want 100 and 5000", sizes)
	}
}

func TestMemCrashClean(t *testing.T) {
	m := NewMem()
	f := open(t, m, "spool")
	writeAt(t, f, "synced", 0)
	must(t, f.Sync())
	writeAt(t, f, "UNSYNCED", 3)
	mp, err := f.Map(0, 11)
	must(t, err)
	mp[0] = 'S'
	c := m.CrashClean()
	if got := string(contents(t, c, "spool")); got != "SynUNSYNCED" {
		t.Errorf("after CrashClean: %q", got)
	}
	// A clean crash leaves everything durable.
	if got := string(contents(t, c.Crash(rand.New(rand.NewPCG(1, 1))), "spool")); got != "SynUNSYNCED" {
		t.Errorf("crash after CrashClean: %q", got)
	}
}

func TestMemCrashMapped(t *testing.T) {
	for seed := range uint64(20) {
		m := NewMem()
		f := open(t, m, "spool")
		must(t, f.Allocate(0, 2*memPageSize))
		mp, err := f.Map(memPageSize, memPageSize)
		must(t, err)
		copy(mp, "stored")
		must(t, f.Sync())
		copy(mp, "STORED")
		got := string(contents(t, m.Crash(rand.New(rand.NewPCG(seed, 5))), "spool")[memPageSize:][:6])
		if got != "stored" && got != "STORED" {
			t.Fatalf("seed %d: mapped page after crash starts %q", seed, got)
		}
	}
}

func TestMemCrashDetached(t *testing.T) {
	m := NewMem()
	f := open(t, m, "spool")
	writeAt(t, f, "before", 0)
	must(t, f.Sync())
	must(t, f.Lock(0, 1, Exclusive, false))
	c := m.CrashClean()

	writeAt(t, f, "after!", 0) // the old FS goes on working
	if got := string(readAt(t, f, 0, 6)); got != "after!" {
		t.Errorf("old file reads %q", got)
	}
	g := open(t, c, "spool")
	if got := string(readAt(t, g, 0, 6)); got != "before" {
		t.Errorf("crashed file reads %q", got)
	}
	must(t, g.Lock(0, 1, Exclusive, false)) // no locks survive a crash
}

func TestMemFailAfter(t *testing.T) {
	errDisk := errors.New("disk on fire")
	m := NewMem()
	f := open(t, m, "spool")
	m.FailAfter(2, errDisk)
	writeAt(t, f, "ok", 0)
	must(t, f.Sync())
	_, err := f.WriteAt([]byte("no"), 0)
	wantErr(t, err, errDisk)
	wantErr(t, f.Sync(), errDisk)
	wantErr(t, f.Allocate(0, 100), errDisk)
	if got := string(contents(t, m, "spool")); got != "ok" {
		t.Errorf("a failed write changed the contents to %q", got)
	}
	m.FailAfter(0, nil)
	writeAt(t, f, "yes", 0)
	must(t, f.Sync())
}

func TestMemMapOnePage(t *testing.T) {
	m := NewMem()
	f := open(t, m, "spool")
	must(t, f.Allocate(0, 3*memPageSize))
	if _, err := f.Map(0, 2*memPageSize); err == nil {
		t.Error("Map across pages succeeded")
	}
	if _, err := f.Map(memPageSize-1, 2); err == nil {
		t.Error("Map across a page boundary succeeded")
	}
}

// TestMemCrashWriteAtSync checks that a crash keeps what WriteAtSync wrote,
// over unsynced writes under, around and after it, and may still lose those.
func TestMemCrashWriteAtSync(t *testing.T) {
	lostSome := false
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 3))
		m := NewMem()
		f := open(t, m, "spool")
		before := fill(rng, 1+rng.IntN(9000))
		writeAt(t, f, string(before), 0)
		off := rng.Int64N(8 << 10)
		synced := fill(rng, 1+rng.IntN(3000))
		if _, err := f.WriteAtSync(synced, off); err != nil {
			t.Fatal(err)
		}
		after := fill(rng, 100)
		afterOff := off + int64(len(synced)) + rng.Int64N(1000)
		writeAt(t, f, string(after), afterOff)
		got := contents(t, m.Crash(rng), "spool")
		if int64(len(got)) < off+int64(len(synced)) || !bytes.Equal(got[off:off+int64(len(synced))], synced) {
			t.Fatalf("seed %d: a crash lost bytes WriteAtSync wrote at %d", seed, off)
		}
		if int64(len(got)) < afterOff+100 || !bytes.Equal(got[afterOff:afterOff+100], after) {
			lostSome = true
		}
	}
	if !lostSome {
		t.Error("no crash lost the unsynced write after WriteAtSync: it synced more than its range")
	}
}
