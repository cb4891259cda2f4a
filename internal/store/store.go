// Package store is the engine under spool: one file of extents, a journal
// that is the single source of truth for what the file holds, checkpoints,
// recovery, the group-committing writer, readers, retention, and the
// coordination of the processes that share the file.
//
// A commit writes its record batches into their partitions' extents, then one
// journal record that publishes them together with whatever other state the
// same commit changes, then syncs as its durability asks. Nothing is visible to
// a reader before its journal record. Within a process, one writer goroutine
// gathers the commits of every caller into one write and one sync; across
// processes, the writer lock in the file's lock space lets one process write
// at a time, after it has applied what the others wrote.
//
// Lock order: Store.catchMu, then Store.mu. The file's writer lock is taken
// only by the writer goroutine, before catchMu.
package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// Offsets in the file's lock space (relative to vfs.LockBase).
const (
	lockWriter   = 0  // held by the process writing
	lockPresence = 1  // held shared by every process with the file open
	lockMembers  = 64 // + slot: held by the process of the member in the slot
)

// Store is an open spool file. All methods are safe for concurrent use.
type Store struct {
	path string
	f    vfs.File
	opts Options
	meta format.Meta // the writer's and catch-up's: checkpoints rewrite it
	// extentSize is meta.ExtentSize, fixed at open, for the code that reads
	// it without catchMu (readers, callers of submit).
	extentSize uint32
	pg         sharedPage
	members    memberPage

	// slotMu guards local, the member slots this Store holds, by slot, with
	// the member id in each, and joining, those whose MemberJoin is not
	// applied yet.
	slotMu  sync.Mutex
	local   map[uint32]string
	joining map[uint32]bool

	// catchMu serializes the journal position: catching up on records other
	// processes wrote, and writing new ones.
	catchMu  sync.Mutex
	jpos     chainPos      // the next journal record, when catchMu is held
	jbuf     []byte        // chain reader buffer, reused
	seen     atomic.Uint64 // the shared counter as of the last catch-up
	ckptLen  int64         // journal bytes since the last checkpoint
	flushed  atomic.Uint64 // the last record written to the file
	unsynced atomic.Int64  // bytes written since the last sync, roughly
	zeroedTo int64         // the file offset the current journal extent is zeroed to
	zeroData bool          // the writer's group has synchronous commits: zero data extents ahead
	wbuf     *batchWriter
	alloced  map[uint32]uint32 // payload bytes allocated in data extents being written

	// mu guards st and the high watermarks; readers hold it briefly to find
	// what to read, never across I/O.
	mu sync.RWMutex
	st *state

	synced atomic.Uint64 // every record up to it is durable

	gate     sync.RWMutex // held shared by whoever reads the shared page outside the writer
	waitMu   sync.Mutex
	waiters  map[partitionKey]chan struct{}
	watchers atomic.Int64 // goroutines in Wait
	watching atomic.Bool  // the shared page watcher runs

	submitMu sync.RWMutex // held shared while queueing, exclusively to stop
	reqs     chan *request
	flights  chan *flight // written groups, from the writer to the syncer
	landing  atomic.Int32 // flights sent to the syncer and not yet landed
	// syncAhead is the last record of the last group the writer handed the
	// syncer to sync: the syncer syncs the file through it before it
	// writes the journal records of the groups after. The writer's.
	syncAhead uint64
	// carriedSince says the journal since the last checkpoint holds
	// batches carried by synchronous commits (AppendData): Close
	// checkpoints then.
	carriedSince atomic.Bool
	// writtenBack is unsynced when the writer last asked the flusher to
	// start a writeback. The writer's.
	writtenBack int64
	// journalPending counts the groups whose journal records the syncer
	// has yet to write; while there are any, the writer keeps the file's
	// writer lock (lockHeld) across groups, heldGroups of them so far.
	journalPending atomic.Int32
	lockHeld       bool
	heldGroups     int
	stop           chan struct{}
	stopped        chan struct{}
	failed         atomic.Pointer[error]
	closed         atomic.Bool
}

// Open opens the spool file at path, creating it unless opts.NoCreate or
// opts.ReadOnly. When this process is the only one with the file open, Open
// recovers it: it checks every commit that may not have reached the disk
// before a crash, and cuts the journal before the first that did not.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if opts.ExtentSize == 0 {
		opts.ExtentSize = format.DefaultExtentSize
	}
	if err := format.ValidExtentSize(opts.ExtentSize); err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	f, err := opts.FS.Open(path, !opts.ReadOnly && !opts.NoCreate)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	s := &Store{path: path, f: f, opts: opts, waiters: map[partitionKey]chan struct{}{}, alloced: map[uint32]uint32{}}
	if err := s.open(); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	if !opts.ReadOnly {
		s.reqs = make(chan *request, 1024)
		s.flights = make(chan *flight, 4)
		s.stop = make(chan struct{})
		s.stopped = make(chan struct{})
		go s.writeLoop()
	}
	return s, nil
}

func (s *Store) open() error {
	// The first process to open the file holds the presence lock exclusively
	// while it recovers; the others wait for it, then share the lock.
	alone := true
	if err := s.f.Lock(lockPresence, 1, vfs.Exclusive, false); errors.Is(err, vfs.ErrLocked) {
		alone = false
		if err := s.f.Lock(lockPresence, 1, vfs.Shared, true); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	size, err := s.f.Size()
	if err != nil {
		return err
	}
	if size == 0 || alone && s.unfinished(size) {
		if s.opts.ReadOnly {
			return fmt.Errorf("%w: the file is empty", format.ErrNotSpool)
		}
		if err := s.create(); err != nil {
			return err
		}
	}
	if err := s.readMeta(); err != nil {
		return err
	}
	s.extentSize = s.meta.ExtentSize
	if size < format.ExtentsStart {
		if s.opts.ReadOnly {
			return fmt.Errorf("%w: %d bytes, shorter than its header", ErrCorrupt, size)
		}
		if err := s.f.Allocate(0, format.ExtentsStart); err != nil {
			return err
		}
	}
	pg, err := s.f.Map(format.SharedPageOffset, format.PageSize)
	if err != nil {
		return err
	}
	s.pg = sharedPage{b: pg}
	mp, err := s.f.Map(format.MemberPageOffset, format.PageSize)
	if err != nil {
		return err
	}
	s.members = memberPage{b: mp}
	s.local, s.joining = map[uint32]string{}, map[uint32]bool{}
	if alone {
		if err := s.recover(); err != nil {
			return err
		}
		s.members.reset()
		return s.f.Lock(lockPresence, 1, vfs.Shared, true)
	}
	if s.pg.load(wordMagic) != sharedMagic {
		return fmt.Errorf("%w: shared page not initialised by the process that has the file open", ErrCorrupt)
	}
	return s.load(s.pg.load(wordVisible), false)
}

// create writes the header of a new file: meta page A naming extent 0 as the
// start of the journal. It holds the writer lock, so that two processes
// creating the same file at once write it once.
func (s *Store) create() error {
	if err := s.f.Lock(lockWriter, 1, vfs.Exclusive, true); err != nil {
		return err
	}
	defer s.f.Unlock(lockWriter, 1)
	if size, err := s.f.Size(); err != nil || size != 0 && !s.unfinished(size) {
		return err
	}
	m := format.Meta{ExtentSize: s.opts.ExtentSize, Sequence: 1, Created: s.opts.Now().UnixNano(),
		CheckpointExtent: format.NoExtent, JournalExtent: 0}
	if _, err := rand.Read(m.FileID[:]); err != nil {
		return err
	}
	m.JournalSeed = format.JournalOrigin(m.FileID)
	s.meta = m
	if err := s.f.Allocate(0, format.ExtentsStart); err != nil {
		return err
	}
	h := format.ExtentHeader{Kind: format.KindJournal, Generation: 1, Base: 1}
	if err := s.writeExtent(0, h, true); err != nil {
		return err
	}
	if err := s.writeMeta(m); err != nil {
		return err
	}
	return s.f.Sync()
}

// writeMeta writes m to the meta page its sequence selects, so that the page
// holding the current meta is never the one being overwritten.
func (s *Store) writeMeta(m format.Meta) error {
	_, err := s.f.WriteAt(m.AppendTo(nil), int64(m.Sequence%2)*format.PageSize)
	return err
}

// unfinished reports whether a file of size bytes is what a process killed
// while creating it leaves: no larger than a header and one extent, and zero
// but for the header of extent 0 (create writes the meta page last). Such a
// file holds no data and is created again.
func (s *Store) unfinished(size int64) bool {
	if size > format.ExtentsStart+format.MaxExtentSize {
		return false
	}
	buf := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		if err := readFull(s.f, b, off); err != nil {
			return false
		}
		if off == 0 && len(b) >= format.ExtentsStart+format.ExtentHeaderSize {
			if _, err := format.DecodeExtentHeader(b[format.ExtentsStart:]); err == nil {
				clear(b[format.ExtentsStart : format.ExtentsStart+format.ExtentHeaderSize])
			}
		}
		for _, c := range b {
			if c != 0 {
				return false
			}
		}
	}
	return true
}

// readMeta reads both meta pages and keeps the valid one with the higher
// sequence.
func (s *Store) readMeta() error {
	m, err := s.currentMeta()
	if err == nil {
		s.meta = m
	}
	return err
}

// currentMeta reads both meta pages and returns the valid one with the
// higher sequence.
func (s *Store) currentMeta() (format.Meta, error) {
	buf := make([]byte, 2*format.PageSize)
	if err := readFull(s.f, buf, 0); err != nil {
		return format.Meta{}, err
	}
	a, errA := format.DecodeMeta(buf[:format.MetaSize])
	b, errB := format.DecodeMeta(buf[format.PageSize : format.PageSize+format.MetaSize])
	switch {
	case errA == nil && (errB != nil || a.Sequence >= b.Sequence):
		return a, nil
	case errB == nil:
		return b, nil
	case errors.Is(errA, format.ErrNotSpool) && errors.Is(errB, format.ErrNotSpool):
		return format.Meta{}, format.ErrNotSpool
	case errors.Is(errA, format.ErrVersion) || errors.Is(errB, format.ErrVersion):
		return format.Meta{}, errors.Join(errA, errB)
	default:
		return format.Meta{}, fmt.Errorf("%w: both meta pages are damaged: %v; %v", ErrCorrupt, errA, errB)
	}
}

// writeExtent writes the header of extent e. With zero (for the journal), it
// first writes zeros over the start of the extent where it lies past the end
// of the file, and zeroAhead goes on as the journal grows: a sync after
// writing into blocks already written is cheaper than one that must also
// record their allocation. Other extents get their space allocated.
func (s *Store) writeExtent(e uint32, h format.ExtentHeader, zero bool) error {
	off := format.ExtentOffset(e, s.meta.ExtentSize)
	size := int64(s.meta.ExtentSize)
	if zero {
		s.zeroedTo = 0
		if err := s.zeroAhead(off, off+min(size, allocStep)); err != nil {
			return err
		}
	} else if err := s.f.Allocate(off, min(size, allocStep)); err != nil {
		return err
	}
	_, err := s.f.WriteAt(h.AppendTo(nil), off)
	return err
}

// zeroAhead writes zeros over the part of [from, to) past the end of the
// file, unless it did so up to to already. Bytes past the end of the file
// were never written, so zeros change nothing a reader can see.
func (s *Store) zeroAhead(from, to int64) error {
	if to <= s.zeroedTo {
		return nil
	}
	if err := s.zeroPastEnd(from, to); err != nil {
		return err
	}
	s.zeroedTo = to
	return nil
}

// zeroPastEnd writes zeros over the part of [from, to) past the end of the
// file. Bytes past the end were never written, so zeros change nothing a
// reader can see.
func (s *Store) zeroPastEnd(from, to int64) error {
	end, err := s.f.Size()
	if err != nil {
		return err
	}
	for start := max(end, from); start < to; start += int64(len(zeros)) {
		if _, err := s.f.WriteAt(zeros[:min(int64(len(zeros)), to-start)], start); err != nil {
			return err
		}
	}
	return nil
}

// zeros is what zeroPastEnd writes, never written to itself.
var zeros = make([]byte, allocStep)

// allocStep is how far ahead of the writer a data extent's space is allocated.
const allocStep = 1 << 20

// Close waits for pending commits, checkpoints the journal when this process
// holds the only handle, and closes the file.
func (s *Store) Close() error {
	s.submitMu.Lock()
	if s.closed.Swap(true) {
		s.submitMu.Unlock()
		return ErrClosed
	}
	s.submitMu.Unlock()
	var err error
	if s.stop != nil {
		close(s.stop)
		<-s.stopped
		if p := s.failed.Load(); p != nil && !errors.Is(*p, ErrClosed) {
			err = *p
		}
	}
	s.wakeAll()
	s.gate.Lock() // every reader of the shared page is gone
	defer s.gate.Unlock()
	return errors.Join(err, s.f.Close())
}

// fail puts the store into the failed state: an I/O error leaves the page
// cache and the disk in doubt, so no further write is allowed.
func (s *Store) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	s.failed.CompareAndSwap(nil, &err)
	return *s.failed.Load()
}

func (s *Store) usable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// now returns the store's clock in Unix milliseconds.
func (s *Store) nowMs() int64 { return s.opts.Now().UnixMilli() }
