package store

import (
	"encoding/binary"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/spooldb/spool/internal/vfs"
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
//	word 5  sleepers: zero, or one more than the highest counter a watcher
//	        went to sleep on
//
// A watcher (see Store.watch) that found nothing new for a while sleeps on
// the low 32 bits of the counter (a futex on Linux) after raising the
// sleepers word to counter+1; a publisher that finds the sleepers word at or
// below the counter it made clears it and wakes every sleeper of every
// process. So a publisher makes no system call while nobody sleeps, and a
// sleeper that never woke (it timed out, or its process died) costs the next
// publisher one wake, not every one.
type sharedPage struct{ b []byte }

const (
	sharedMagic   = 0x4d48535f4c4f4f50 // "POOL_SHM", little-endian
	wordMagic     = 0
	wordCounter   = 1
	wordVisible   = 2
	wordWritten   = 3
	wordSynced    = 4
	wordSleepers  = 5
	sharedWordMax = 6
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

// published bumps the counter after records up to lsn became visible, wakes
// the watchers asleep on it, and returns the counter's new value.
func (p sharedPage) published(lsn uint64) uint64 {
	p.raise(wordVisible, lsn)
	c := atomic.AddUint64(p.word(wordCounter), 1)
	w := p.word(wordSleepers)
	for s := atomic.LoadUint64(w); s != 0; s = atomic.LoadUint64(w) {
		// s above c: a watcher already saw this commit and sleeps for the
		// next; others may sleep on an older counter, so wake them all but
		// leave the word for the next publisher.
		if s > c || atomic.CompareAndSwapUint64(w, s, 0) {
			p.wake()
			return c
		}
	}
	return c
}

// sleep blocks until the counter moves from seen, timeout passes, or a wake
// comes for another reason (see wake). It returns false when the wait failed,
// and always where there is no futex (vfs.CanWaitWord): the caller polls.
func (p sharedPage) sleep(seen uint64, timeout time.Duration) bool {
	if !vfs.CanWaitWord {
		return false
	}
	// Raise first, then look: a publisher that bumps the counter after
	// the look finds the raised word and wakes; one that bumped it before
	// is seen here, or by the futex's own comparison.
	p.raise(wordSleepers, seen+1)
	if p.load(wordCounter) != seen {
		return true
	}
	return vfs.WaitWord(p.counterLow(), uint32(seen), timeout) == nil
}

// wake wakes every watcher asleep on the counter, in every process.
func (p sharedPage) wake() { vfs.WakeWord(p.counterLow()) }

// counterLow is the low 32 bits of the counter, the word a futex waits on:
// each bump changes them.
func (p sharedPage) counterLow() *uint32 {
	w := unsafe.Pointer(p.word(wordCounter))
	if bigEndian {
		w = unsafe.Add(w, 4)
	}
	return (*uint32)(w)
}

var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
