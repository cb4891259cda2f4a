package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/spooldb/spool/internal/format"
)

// loaded is a state rebuilt from the file and where its journal goes on.
type loaded struct {
	st      *state
	next    chainPos // where the next journal record goes
	synced  uint64   // the highest synced LSN any record claims
	cut     bool     // a record at next failed its checks and must be erased
	journal int64    // journal bytes replayed
	stop    chainPos // where the journal's chain stopped, if stopErr is set
	stopErr error
	redos   []redo // the data the records carry, for recover to write back
	carried bool   // the records carry data (whether written back or not)
}

// rebuild reads the checkpoint the meta page names and replays the journal
// after it, up to record limit. With check, it verifies the record batches and
// extent headers that every record after the last one known durable points
// at, and stops before the first that fails: after a power failure those
// records may have reached the disk without their data.
func (s *Store) rebuild(limit uint64, check bool) (*loaded, error) {
	m := s.meta
	st := newState(m.ExtentSize)
	if m.CheckpointExtent != format.NoExtent {
		if err := s.loadCheckpoint(st); err != nil {
			return nil, err
		}
	}
	st.lsn = m.CheckpointLSN

	// First pass: follow the chain to its end, to learn which records are
	// known durable.
	type rec struct {
		at  chainPos
		r   format.Record
		end chainPos
	}
	var recs []rec
	l := &loaded{}
	j, err := s.readJournal(m, limit, func(start, end chainPos, x format.Record) {
		x.Ops = append([]byte(nil), x.Ops...)
		recs = append(recs, rec{at: start, r: x, end: end})
		l.synced = max(l.synced, x.SyncedLSN)
	})
	if err != nil {
		return nil, err
	}
	if err := st.use(m.JournalExtent, format.KindJournal, j.start.generation); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	st.journal = []uint32{m.JournalExtent}
	l.next, l.stop, l.stopErr = j.start, j.stop, j.stopErr
	keep := len(recs)
	durable := j.durable
	intact := s.intactHint()
	if check {
		// A record that does not decode at or before a record known
		// durable is damage, not the unfinished end of the journal.
		durable.raise(s.durableHint(), func() string { return "the shared page says they were synced" })
		if j.stopErr != nil {
			var seen sighting
			if durable, seen, err = s.checkEnd(j.stop, j.stopErr, durable); err != nil {
				return nil, err
			}
			if seen.records > 0 {
				s.opts.Logger.Warn("spool: the journal ends at a record that does not decode; records after it were never synced and are dropped",
					"file", s.path, "lsn", j.stop.lsn, "extent", j.stop.extent, "byte", j.stop.pos, "found", seen.records, "from", seen.first.lsn, "reason", j.stopErr)
			}
		}
		// Second pass: check what the records after the last one known
		// durable point at, and keep the longest prefix in which every
		// failed check is excused. A check fails where the bytes never
		// reached the disk, but also where a later record freed the extent
		// and, that free synced, the extent was reused and written over
		// before any record that survived claimed the sync. A record after
		// the failed one, inside the prefix, that frees the same extent
		// excuses the failure: the prefix never reads those bytes.
		frees := map[uint32][]int{} // the records that free each extent
		for i, x := range recs {
			for or := format.NewOpReader(x.r.Ops); ; {
				op, err := or.Next()
				if op == nil || err != nil {
					break
				}
				if o, ok := op.(format.ExtentFree); ok {
					frees[o.Extent] = append(frees[o.Extent], i)
				}
			}
		}
		type failure struct {
			at, excused int // the record, and the first later one that frees the extent
			err         error
		}
		var fails []failure
		for i, x := range recs {
			if x.r.LSN <= l.synced {
				continue // durable, by the word of a record that follows
			}
			if x.r.LSN <= intact {
				continue // written whole in this boot: the page cache holds it
			}
			s.checkRecord(x.r, func(e uint32, err error) {
				f := failure{at: i, excused: len(recs), err: err}
				for _, k := range frees[e] {
					if k > i {
						f.excused = k
						break
					}
				}
				fails = append(fails, f)
			})
		}
		var reason failure
		for changed := true; changed; {
			changed = false
			for _, f := range fails {
				if f.at < keep && f.excused >= keep {
					keep, reason, changed = f.at, f, true
				}
			}
		}
		if keep < len(recs) && recs[keep].r.LSN <= durable.lsn {
			x := recs[keep]
			return nil, fmt.Errorf("%w: journal record %d (extent %d, byte %d) publishes data that is damaged (%v), and it was synced: %s",
				ErrCorrupt, x.r.LSN, x.at.extent, x.at.pos, reason.err, durable.source())
		}
		if keep < len(recs) {
			s.opts.Logger.Warn("spool: recovery cuts the journal at a commit that did not reach the disk whole",
				"file", s.path, "lsn", recs[keep].r.LSN, "reason", reason.err)
			l.cut = true
		}
	}
	// Carried batches are written back only where the extents may lack
	// them: the page cache holds whole what the records up to intact point
	// at, so a difference there is damage, for Check to report, not a lost
	// write.
	for _, x := range recs[:keep] {
		redo := x.r.LSN > intact
		if err := applyRecord(st, x.r, func(op format.Op) {
			if o, ok := op.(format.AppendData); ok {
				l.carried = true
				if redo {
					l.redos = appendRedo(l.redos, st, o)
				}
			}
		}); err != nil {
			return nil, fmt.Errorf("%w: journal record %d: %v", ErrCorrupt, x.r.LSN, err)
		}
		l.next = x.end
		if x.r.LSN > m.CheckpointLSN+1 {
			// The first record after a checkpoint announces it; a file
			// closed right after a checkpoint has nothing to checkpoint.
			l.journal += int64(format.RecordSize(len(x.r.Ops)))
		}
	}
	l.st = st
	l.redos = liveRedos(l.redos, st)
	return l, nil
}

// knownDurable is the highest journal LSN known to have been synced, and
// what says so.
type knownDurable struct {
	lsn uint64
	why string
}

// raise raises the LSN to lsn, if that is higher, with why() as the reason.
func (d *knownDurable) raise(lsn uint64, why func() string) {
	if lsn > d.lsn {
		d.lsn, d.why = lsn, why()
	}
}

func (d knownDurable) source() string {
	return fmt.Sprintf("the journal must hold every record up to %d (%s)", d.lsn, d.why)
}

// durableHint is the synced LSN of the shared page, if it was initialised
// and is no higher than its written LSN. It is a hint, but a true one: a
// process raises it only after a sync, and the process that recovers a file
// lowers it to what it kept, so the journal holds every record up to it
// unless it is damaged.
func (s *Store) durableHint() uint64 {
	if s.pg.b == nil || s.pg.load(wordMagic) != sharedMagic {
		return 0
	}
	if synced := s.pg.load(wordSynced); synced <= s.pg.load(wordWritten) {
		return synced
	}
	return 0
}

// journalRead is what readJournal found: where the journal starts and where
// its chain stops, and the highest LSN its records claim synced.
type journalRead struct {
	start   chainPos
	stop    chainPos // the record that does not decode, if stopErr is set
	stopErr error
	durable knownDurable
}

// readJournal follows the journal the meta page m names, from its first
// extent to the end of its chain or record limit, and calls each for every
// record (start and end are where it lies; the record's Ops alias a buffer
// reused by the next record).
func (s *Store) readJournal(m format.Meta, limit uint64, each func(start, end chainPos, r format.Record)) (journalRead, error) {
	var j journalRead
	h, err := s.readExtentHeader(m.JournalExtent)
	if err != nil || h.Kind != format.KindJournal {
		return j, fmt.Errorf("%w: the journal's first extent %d: %v (kind %s)", ErrCorrupt, m.JournalExtent, err, h.Kind)
	}
	j.start = chainPos{extent: m.JournalExtent, generation: h.Generation, prev: m.JournalSeed, lsn: m.CheckpointLSN + 1}
	j.durable = knownDurable{lsn: m.CheckpointLSN, why: "the meta page's checkpoint holds them"}
	r := newChainReader(s.f, m.ExtentSize, format.KindJournal, j.start)
	for r.at.lsn <= limit {
		start := r.at
		x, err := r.next()
		if errors.Is(err, format.ErrChainEnd) {
			j.stop, j.stopErr = start, err
			break
		}
		if err != nil {
			return j, err
		}
		j.durable.raise(x.SyncedLSN, func() string { return fmt.Sprintf("record %d says they were synced", x.LSN) })
		each(start, r.at, x)
	}
	return j, nil
}

// checkEnd decides whether the journal may end at record stop.lsn, whose
// bytes at stop do not decode (why): it may, as the end of what was written
// or the torn write of records never synced, unless the record was synced,
// which durable or a record found after it (see lookPast) says: then it
// returns an error wrapping ErrCorrupt that names the record. It returns
// durable raised by what the records found after it claim, and them.
func (s *Store) checkEnd(stop chainPos, why error, durable knownDurable) (knownDurable, sighting, error) {
	var seen sighting
	if durable.lsn < stop.lsn {
		var err error
		if seen, err = s.lookPast(stop); err != nil {
			return durable, seen, err
		}
		if seen.records > 0 {
			durable.raise(seen.claim, func() string {
				return fmt.Sprintf("record %d, found after it (from record %d at extent %d byte %d on), says they were synced", seen.claimBy, seen.first.lsn, seen.first.extent, seen.first.pos)
			})
		}
	}
	if durable.lsn < stop.lsn {
		return durable, seen, nil
	}
	return durable, seen, fmt.Errorf("%w: journal record %d (extent %d, byte %d, file offset %d) is damaged (%v), and it is not the unfinished end of the journal: %s",
		ErrCorrupt, stop.lsn, stop.extent, stop.pos, s.payloadOffset(stop.extent, stop.pos), why, durable.source())
}

// applyRecord applies every operation of a journal record, and hands each to
// visit once it is applied: the operations are decoded once.
func applyRecord(st *state, r format.Record, visit func(format.Op)) error {
	or := format.NewOpReader(r.Ops)
	for {
		op, err := or.Next()
		if err != nil {
			return err
		}
		if op == nil {
			break
		}
		if err := st.apply(op, r.LSN); err != nil {
			return err
		}
		visit(op)
	}
	st.lsn = r.LSN
	return nil
}

// checkRecord verifies that what record r publishes is on disk: the header
// of every extent it allocates and every batch it appends. It calls bad for
// each extent that fails, with format.NoExtent when the operations do not
// decode.
func (s *Store) checkRecord(r format.Record, bad func(extent uint32, err error)) {
	or := format.NewOpReader(r.Ops)
	for {
		op, err := or.Next()
		if err != nil {
			bad(format.NoExtent, err)
			return
		}
		switch o := op.(type) {
		case nil:
			return
		case format.ExtentAlloc:
			h, err := s.readExtentHeader(o.Extent)
			if err != nil {
				bad(o.Extent, err)
			} else if h.Kind != format.KindData || h.Generation != o.Generation || h.Topic != o.Topic || h.Partition != o.Partition || h.Base != o.BaseOffset {
				bad(o.Extent, fmt.Errorf("extent %d header does not match its allocation", o.Extent))
			}
		case format.Append:
			if err := s.checkAppend(o); err != nil {
				bad(o.Extent, err)
			}
		case format.AppendData:
			// The record carries the bytes: check them, not the extent's
			// copy, which recovery writes back (redoData).
			if err := s.checkAppendRange(o.Append); err != nil {
				bad(o.Extent, err)
			} else if err := checkBatchRun(o.Data, o.FirstOffset, o.NextOffset); err != nil {
				bad(o.Extent, err)
			}
		}
	}
}

// checkAppend reads the batches an Append publishes and checks that they are
// whole, valid and carry exactly its offsets.
func (s *Store) checkAppend(o format.Append) error {
	if err := s.checkAppendRange(o); err != nil {
		return err
	}
	buf := make([]byte, o.End-o.Start)
	if err := readFull(s.f, buf, s.payloadOffset(o.Extent, o.Start)); err != nil {
		return err
	}
	return checkBatchRun(buf, o.FirstOffset, o.NextOffset)
}

func (s *Store) checkAppendRange(o format.Append) error {
	if o.End < o.Start || o.End > s.meta.ExtentSize-format.ExtentHeaderSize {
		return fmt.Errorf("append range [%d, %d) out of the extent", o.Start, o.End)
	}
	return nil
}

// checkBatchRun checks that buf holds whole, valid batches carrying exactly
// offsets [first, end).
func checkBatchRun(buf []byte, first, end int64) error {
	next := first
	for rest := buf; len(rest) > 0; {
		b, r, err := format.NextBatch(rest)
		if err != nil {
			return fmt.Errorf("batch at offset %d: %w", next, err)
		}
		h, err := format.ValidateBatch(b)
		if err != nil {
			return fmt.Errorf("batch at offset %d: %w", next, err)
		}
		if h.BaseOffset != next {
			return fmt.Errorf("batch has base offset %d, want %d", h.BaseOffset, next)
		}
		next = h.LastOffset() + 1
		rest = r
	}
	if next != end {
		return fmt.Errorf("batches end at offset %d, want %d", next, end)
	}
	return nil
}

func (s *Store) readExtentHeader(e uint32) (format.ExtentHeader, error) {
	var b [format.ExtentHeaderSize]byte
	if err := readFull(s.f, b[:], format.ExtentOffset(e, s.extentSize)); err != nil {
		return format.ExtentHeader{}, err
	}
	return format.DecodeExtentHeader(b[:])
}

// checkpointSeed is the chain checksum a checkpoint of record lsn starts from.
func checkpointSeed(fileID [16]byte, lsn uint64) uint32 {
	return format.ChainChecksum(format.Checksum(fileID[:]), binary.LittleEndian.AppendUint64(nil, lsn))
}

// loadCheckpoint applies the checkpoint the meta page names to st.
func (s *Store) loadCheckpoint(st *state) error { return s.loadCheckpointOf(st, s.meta) }

// loadCheckpointOf applies the checkpoint meta page m names to st.
func (s *Store) loadCheckpointOf(st *state, m format.Meta) error {
	h, err := s.readExtentHeader(m.CheckpointExtent)
	if err != nil || h.Kind != format.KindCheckpoint || h.Base != int64(m.CheckpointLSN) {
		return fmt.Errorf("%w: checkpoint extent %d: %v", ErrCorrupt, m.CheckpointExtent, err)
	}
	if err := st.use(m.CheckpointExtent, format.KindCheckpoint, h.Generation); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	st.ckpt = []uint32{m.CheckpointExtent}
	r := newChainReader(s.f, m.ExtentSize, format.KindCheckpoint,
		chainPos{extent: m.CheckpointExtent, generation: h.Generation, prev: checkpointSeed(m.FileID, m.CheckpointLSN), lsn: 1})
	for {
		rec, err := r.next()
		if err != nil {
			return fmt.Errorf("%w: checkpoint of record %d ends early: %v", ErrCorrupt, m.CheckpointLSN, err)
		}
		last := false
		or := format.NewOpReader(rec.Ops)
		for {
			op, err := or.Next()
			if err != nil {
				return fmt.Errorf("%w: checkpoint: %v", ErrCorrupt, err)
			}
			if op == nil {
				break
			}
			switch o := op.(type) {
			case format.Continue:
				if err := st.use(o.Extent, format.KindCheckpoint, o.Generation); err != nil {
					return fmt.Errorf("%w: checkpoint: %v", ErrCorrupt, err)
				}
				st.ckpt = append(st.ckpt, o.Extent)
				continue
			case format.Counters:
				last = true
			}
			if err := st.apply(op, 0); err != nil {
				return fmt.Errorf("%w: checkpoint: %v", ErrCorrupt, err)
			}
		}
		if last {
			if rec.Checksum != m.CheckpointChecksum {
				return fmt.Errorf("%w: checkpoint ends with checksum %08x, meta page says %08x", ErrCorrupt, rec.Checksum, m.CheckpointChecksum)
			}
			st.settle(math.MaxUint64)
			return nil
		}
	}
}

// recover rebuilds the state of a file no other process has open, checking
// the commits that may not be durable, erasing the first that fails its
// checks, and syncing the rest.
func (s *Store) recover() error {
	l, err := s.rebuild(math.MaxUint64, true)
	if err != nil {
		return err
	}
	if l.cut && !s.opts.ReadOnly {
		// Zero the frame of the first bad record, so that no reader can
		// follow the chain into it before a writer overwrites it.
		off := format.ExtentOffset(l.next.extent, s.meta.ExtentSize) + format.ExtentHeaderSize + int64(l.next.pos)
		if _, err := s.f.WriteAt(make([]byte, format.RecordFrameSize), off); err != nil {
			return err
		}
	}
	rewrote, err := s.redoData(l.redos)
	if err != nil {
		return err
	}
	if rewrote > 0 {
		s.opts.Logger.Info("spool: wrote back batches that synchronous commits carried in the journal and their extents had lost",
			"file", s.path, "runs", rewrote)
	}
	// After a cut, sync even when every record kept is known durable: the
	// zeroed frame must be, or a later crash could bring the bad record
	// back, now with whatever the next writer puts where its data was. The
	// records kept that were not synced need no sync here: they were never
	// acknowledged as durable, and the shared page says they are not.
	if (l.cut || rewrote > 0) && !s.opts.ReadOnly {
		if err := s.f.Sync(); err != nil {
			return err
		}
		l.synced = l.st.lsn
	}
	s.pg.reset(l.st.lsn, min(l.synced, l.st.lsn))
	s.storeCacheID()
	s.install(l)
	return nil
}

// load rebuilds the state up to record limit, trusting the process that
// recovered the file. Records up to limit (unless it is math.MaxUint64) were
// published, so the journal holds them: if its chain stops short, under a
// meta page that did not change meanwhile (a checkpoint moves the journal and
// lets its old extents be reused; then it starts over), the file is damaged.
func (s *Store) load(limit uint64, check bool) error {
	for try := 0; ; try++ {
		l, err := s.rebuild(limit, check)
		if err == nil && (limit == math.MaxUint64 || l.st.lsn >= limit || l.stopErr == nil) {
			s.install(l)
			return nil
		}
		// A writer may have checkpointed meanwhile and reused the extents
		// of the checkpoint and journal this process was reading: under a
		// new meta page, start over.
		m, merr := s.currentMeta()
		if merr != nil {
			return merr
		}
		if m.Sequence != s.meta.Sequence && try < 3 {
			s.meta = m
			continue
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: journal record %d (extent %d, byte %d, file offset %d) is damaged (%v): records up to %d were published",
			ErrCorrupt, l.stop.lsn, l.stop.extent, l.stop.pos, s.payloadOffset(l.stop.extent, l.stop.pos), l.stopErr, limit)
	}
}

// install makes a rebuilt state current, every partition's high watermark its
// log end.
func (s *Store) install(l *loaded) {
	l.st.settle(max(l.synced, s.syncedHint()))
	s.mu.Lock()
	s.st = l.st
	for _, t := range l.st.topics {
		for _, p := range t.partitions {
			p.publish()
		}
	}
	s.mu.Unlock()
	s.jpos = l.next
	s.ckptLen = l.journal
	s.carriedSince.Store(l.carried)
	s.synced.Store(max(s.synced.Load(), l.synced))
	if s.pg.b != nil {
		s.seen.Store(s.pg.load(wordCounter))
	}
	s.wakeAll()
}

// syncedHint is the synced LSN other processes have published, or zero
// before the shared page is mapped.
func (s *Store) syncedHint() uint64 {
	if s.pg.b == nil || s.pg.load(wordMagic) != sharedMagic {
		return 0
	}
	return s.pg.load(wordSynced)
}
