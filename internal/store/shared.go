package store

import (
	"sync/atomic"
	"unsafe"
)

// sharedPage is the page every process with the file open maps shared. It is
// a hint, never a source of truth: a reader learns from it that there is
// something new in the journal, and how far it may read, but reads and checks
// the journal itself. It is reset by a process that opens the file alone, so
// its contents after a crash or a reboot never matter.
//
//	word 0  magic
//	word 1  commit counter: bumped after every published commit
//	word 2  visible LSN: readers apply journal records up to it
//	word 3  written LSN: the last record any writer wrote
//	word 4  synced LSN: every record up to it is durable
type sharedPage struct{ b []byte }

const (
	sharedMagic   = 0x4d48535f4c4f4f50 // "POOL_SHM", little-endian
	wordMagic     = 0
	wordCounter   = 1
	wordVisible   = 2
	wordWritten   = 3
	wordSynced    = 4
	sharedWordMax = 5
)

func (p sharedPage) word(i int) *uint64 {
	_ = p.b[i*8 : (i+1)*8] // a bounds check that, unlike an index, reads no byte the race detector would see
	return (*uint64)(unsafe.Pointer(&p.b[i*8]))
}

func (p sharedPage) load(i int) uint64     { return atomic.LoadUint64(p.word(i)) }
func (p sharedPage) store(i int, v uint64) { atomic.StoreUint64(p.word(i), v) }

// raise sets word i to v unless it already holds more.
func (p sharedPage) raise(i int, v uint64) {
	w := p.word(i)
	for {
		old := atomic.LoadUint64(w)
		if old >= v || atomic.CompareAndSwapUint64(w, old, v) {
			return
		}
	}
}

// reset sets the page to say that everything up to lsn is visible and
// written, and up to synced durable.
func (p sharedPage) reset(lsn, synced uint64) {
	for i := range sharedWordMax {
		p.store(i, 0)
	}
	p.store(wordVisible, lsn)
	p.store(wordWritten, lsn)
	p.store(wordSynced, synced)
	p.store(wordMagic, sharedMagic)
}

// published bumps the counter after records up to lsn became visible.
func (p sharedPage) published(lsn uint64) {
	p.raise(wordVisible, lsn)
	atomic.AddUint64(p.word(wordCounter), 1)
}
