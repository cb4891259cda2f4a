package vfs

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"unsafe"
)

// sectorSize is the unit a disk writes atomically: a torn write keeps some
// of its sectors and loses others, but never half a sector.
const sectorSize = 512

// memWrite is a change made since the last Sync: data written at off, or,
// with nil data, the size grown to end by Allocate.
type memWrite struct {
	off, end int64
	data     []byte
}

// sync makes the node's contents durable.
func (n *memNode) sync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, w := range n.unsynced {
		writePages(n.durable, w.data, w.off)
	}
	// A mapped page may have been stored to since; like msync, Sync takes
	// its current contents.
	for pn := range n.mapped {
		d := loadMapped(n.pages[pn])
		n.durable[pn] = &d
	}
	n.durableSize = n.size
	n.unsynced = nil
}

// writeDurable writes p at off, durable at once, as a write that syncs its
// own range: the node's other unsynced writes stay unsynced, except for what
// p writes over, which no crash can bring back.
func (n *memNode) writeDurable(p []byte, off int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	end := off + int64(len(p))
	writePages(n.pages, p, off)
	writePages(n.durable, p, off)
	n.size = max(n.size, end)
	n.durableSize = max(n.durableSize, end)
	var kept []memWrite // not n.unsynced[:0]: a write cut in two takes two places
	for _, w := range n.unsynced {
		if w.data == nil || w.end <= off || w.off >= end {
			kept = append(kept, w)
			continue
		}
		if w.off < off {
			kept = append(kept, memWrite{off: w.off, end: off, data: w.data[:off-w.off]})
		}
		if w.end > end {
			kept = append(kept, memWrite{off: end, end: w.end, data: w.data[end-w.off:]})
		}
	}
	n.unsynced = kept
}

// Crash returns a new MemFS holding what a power loss could leave of m: all
// that m's files held at their last Sync and, for each later WriteAt or
// Allocate independently, either nothing, all of it, or (a torn write) a
// random subset of its 512-byte sectors. Stores through Map count as a
// write of the whole page at the time of Crash. A write not lost grows the
// size to its end, even if torn.
//
// The choices come from rng alone, so a seed reproduces a crash. Files open
// on m go on working on m; the new MemFS has no Files open and no locks held.
func (m *MemFS) Crash(rng *rand.Rand) *MemFS { return m.crash(rng) }

// CrashClean returns a new MemFS holding everything written to m, synced or
// not: what a killed process leaves, as the OS's page cache survives it.
func (m *MemFS) CrashClean() *MemFS { return m.crash(nil) }

// crashOutcome is what a power loss did to one unsynced write.
type crashOutcome int

const (
	lost crashOutcome = iota
	kept
	torn
)

// crash keeps every write whole if rng is nil.
func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	// Sorted, so that a seed makes the same choices for the same files.
	for _, path := range slices.Sorted(maps.Keys(m.files)) {
		c.files[path] = m.files[path].crashed(rng)
	}
	return c
}

// crashed returns the node as a crash leaves it, all of it durable.
func (n *memNode) crashed(rng *rand.Rand) *memNode {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c := newMemNode()
	if rng == nil {
		c.id = n.id // only the processes died: the contents are the same
	}
	c.pages, c.size = clonePages(n.durable), n.durableSize
	for _, w := range n.crashWrites() {
		outcome := kept
		if rng != nil {
			outcome = crashOutcome(rng.IntN(3))
		}
		switch outcome {
		case lost:
			continue
		case kept:
			writePages(c.pages, w.data, w.off)
		case torn:
			for s := w.off - w.off%sectorSize; s < w.end && w.data != nil; s += sectorSize {
				if rng.IntN(2) == 0 {
					a, b := max(s, w.off), min(s+sectorSize, w.end)
					writePages(c.pages, w.data[a-w.off:b-w.off], a)
				}
			}
		}
		c.size = max(c.size, w.end)
	}
	c.durable, c.durableSize = clonePages(c.pages), c.size
	return c
}

// crashWrites returns the unsynced writes followed by one write of each
// mapped page, in page order, trimmed to the size.
func (n *memNode) crashWrites() []memWrite {
	ws := slices.Clone(n.unsynced)
	for _, pn := range slices.Sorted(maps.Keys(n.mapped)) {
		off := pn * memPageSize
		end := min(off+memPageSize, n.size)
		if off < end {
			pg := loadMapped(n.pages[pn])
			ws = append(ws, memWrite{off: off, end: end, data: pg[:end-off]})
		}
	}
	return ws
}

// loadMapped copies a mapped page with atomic loads of its 8-byte words:
// the Files that mapped it store to it atomically, without the node's lock,
// while Sync or Crash copies it.
func loadMapped(pg *memPage) memPage {
	var c memPage
	for i := 0; i < memPageSize; i += 8 {
		binary.NativeEndian.PutUint64(c[i:], atomic.LoadUint64((*uint64)(unsafe.Pointer(&pg[i]))))
	}
	return c
}

func clonePages(pages map[int64]*memPage) map[int64]*memPage {
	c := make(map[int64]*memPage, len(pages))
	for pn, pg := range pages {
		cp := *pg
		c[pn] = &cp
	}
	return c
}
