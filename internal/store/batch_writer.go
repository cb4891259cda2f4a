package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/spooldb/spool/internal/format"
)

// batchWriter builds one group commit: the data and journal bytes to write,
// and the partitions whose high watermarks move. It applies every operation to
// the state as it is emitted, so that later requests of the group plan against
// the earlier ones; readers do not see the new records before publish raises
// the high watermarks.
type batchWriter struct {
	s       *Store
	lsn     uint64    // the record being planned
	now     time.Time // the group's commit time: one clock read a group
	ops     []byte
	data    []byte
	writes  []pendingWrite
	merged  []byte // writeData's buffer for ranges written by several requests
	jdata   []byte
	jwrites []pendingWrite
	// hdata and hwrites are the headers of the data extents a group that
	// carries its data allocates, for the syncer to make durable before
	// its journal records (the writer writes them at once too).
	hdata   []byte
	hwrites []pendingWrite
	touched []partitionKey
	// appends and plans are planTxn's, kept to be reused by the next
	// commit: the Appends of the commit being planned, and its batches.
	appends []plannedAppend
	plans   []batchPlan
	lastLSN uint64
	// carry says the group's records carry the batches it writes
	// (AppendData), so that syncing the journal's bytes alone makes it
	// durable (see flush); anything else the group writes outside the
	// journal clears it. carried counts the bytes carried, extra those of
	// the current record, whose estimate did not count them.
	carry          bool
	carried, extra int
	estimate       int           // of the current record
	journal        *journalWrite // what flush left to the syncer
	// broken is an error after operations were applied: the state is ahead
	// of the file and the store must fail.
	broken error
}

// pendingWrite is bytes [start, end) of a buffer to write at off.
type pendingWrite struct {
	off        int64
	start, end int
}

func (s *Store) newBatchWriter() *batchWriter {
	w := s.wbuf
	if w == nil {
		w = &batchWriter{s: s}
		s.wbuf = w
	}
	w.data, w.writes, w.jdata, w.jwrites, w.touched = w.data[:0], w.writes[:0], w.jdata[:0], w.jwrites[:0], w.touched[:0]
	w.hdata, w.hwrites = w.hdata[:0], w.hwrites[:0]
	w.lastLSN, w.broken, w.now = 0, nil, s.opts.Now()
	w.carry, w.carried, w.journal = false, 0, nil
	return w
}

// record plans one request into one journal record. carried bounds the
// batch bytes the record may carry (AppendData): while the group carries,
// the journal extent must have room for them too, or the record would stop
// carrying, and the group be synced whole, for want of it.
func (w *batchWriter) record(estimate, carried int, plan func(*batchWriter) error) error {
	room := estimate
	if w.carry && carried > 0 && w.carried+carried <= maxCarried &&
		format.RecordSize(estimate+carried)+continueReserve <= w.s.journalPayload()/2 {
		// Beyond half an extent, moving to a new journal extent for
		// the batches would leave much of the old one unused.
		room += carried
	}
	if err := w.journalRoom(room); err != nil {
		w.broken = err
		return err
	}
	w.ops, w.lsn = w.ops[:0], w.s.jpos.lsn
	w.estimate, w.extra = estimate, 0
	if err := plan(w); err != nil {
		if len(w.ops) > 0 && w.broken == nil {
			w.broken = err
		}
		if w.broken != nil {
			return w.broken
		}
		return err
	}
	if len(w.ops) > 0 {
		w.endRecord()
	}
	return nil
}

// emit applies op to the state and adds it to the record being planned.
func (w *batchWriter) emit(op format.Op) error { return w.emitAll(op) }

// emitAll applies ops under one hold of the state's lock, so that a reader
// sees all of them or none: an offset commit and its acknowledged ranges,
// a member's leave and the assignment that follows it.
func (w *batchWriter) emitAll(ops ...format.Op) error {
	if len(ops) == 0 {
		return nil // most commits have no offsets to emit: spare the lock
	}
	w.s.mu.Lock()
	for _, op := range ops {
		if err := w.s.st.apply(op, w.lsn); err != nil {
			w.s.mu.Unlock()
			w.broken = fmt.Errorf("internal error applying %T: %w", op, err)
			return w.broken
		}
		w.ops = format.AppendOp(w.ops, op)
	}
	w.s.mu.Unlock()
	return nil
}

// endRecord frames the planned operations as the next journal record.
func (w *batchWriter) endRecord() {
	s := w.s
	start := len(w.jdata)
	var sum uint32
	w.jdata, sum = format.AppendRecord(w.jdata, s.jpos.prev, s.jpos.lsn, s.synced.Load(), w.now.UnixNano(), w.ops)
	n := len(w.jdata) - start
	w.jwrites = appendWrite(w.jwrites, s.payloadOffset(s.jpos.extent, s.jpos.pos), start, len(w.jdata))
	w.lastLSN = s.jpos.lsn
	s.mu.Lock()
	s.st.lsn = s.jpos.lsn
	s.mu.Unlock()
	s.jpos.pos += uint32(n)
	s.jpos.prev = sum
	s.jpos.lsn++
	// The checkpoint bounds the journal an open replays; carried batches
	// are only read, and written back after a power loss, not applied:
	// they count a quarter, so that synchronous groups, which carry theirs,
	// do not checkpoint four times as often as the others.
	s.ckptLen += int64(n - w.extra*3/4)
	w.extra = 0
}

// journalPayload is the bytes of records a journal extent holds.
func (s *Store) journalPayload() int { return int(s.meta.ExtentSize - format.ExtentHeaderSize) }

// journalFits reports whether a record of ops bytes of operations fits in
// the current journal extent, with room left for the record that continues
// the chain.
func (s *Store) journalFits(ops int) bool {
	return int(s.jpos.pos)+format.RecordSize(ops)+continueReserve <= s.journalPayload()
}

// journalRoom makes sure a record of estimate bytes of operations fits in the
// current journal extent, continuing the chain in a new extent if not.
func (w *batchWriter) journalRoom(estimate int) error {
	s := w.s
	if s.journalFits(estimate) {
		return nil
	}
	e, gen, err := w.takeExtent()
	if err != nil {
		return err
	}
	h := format.ExtentHeader{Kind: format.KindJournal, Generation: gen, Base: int64(s.jpos.lsn + 1)}
	if err := s.writeExtent(e, h, true); err != nil {
		return err
	}
	w.ops, w.lsn = w.ops[:0], s.jpos.lsn
	if err := w.emit(format.Continue{Extent: e, Generation: gen}); err != nil {
		return err
	}
	w.endRecord()
	s.jpos.extent, s.jpos.generation, s.jpos.pos = e, gen, 0
	if w.carry {
		// The new extent's header must be as durable as the records
		// after it: it goes with them, in the same range of the file.
		start := len(w.jdata)
		w.jdata = h.AppendTo(w.jdata)
		w.jwrites = appendWrite(w.jwrites, format.ExtentOffset(e, s.meta.ExtentSize), start, len(w.jdata))
	}
	return nil
}

// maxCarried bounds the batch bytes one group carries in its journal
// records: past it, writing the batches twice costs more than the separate
// syncs it saves.
const maxCarried = 256 << 10

// publishRun emits the operation that publishes run, whose batches are data:
// an AppendData that carries them while the group carries its data and they
// fit, else an Append.
func (w *batchWriter) publishRun(run format.Append, data []byte) error {
	s := w.s
	// The record's estimate counted an Append; carrying adds the bytes and
	// a longer length.
	extra := len(data) + binary.MaxVarintLen32
	if w.carry && w.carried+len(data) <= maxCarried && s.journalFits(w.estimate+w.extra+extra) {
		w.carried += len(data)
		w.extra += extra
		s.carriedSince.Store(true)
		return w.emit(format.AppendData{Append: run, Data: data})
	}
	w.carry = false
	return w.emit(run)
}

// takeExtent takes the lowest free extent, or a new one at the end of the
// file, for an operation about to allocate it. When every free extent waits
// for a sync to become reusable, it syncs rather than grow the file.
func (w *batchWriter) takeExtent() (uint32, uint64, error) {
	s := w.s
	s.mu.RLock()
	reuse := len(s.st.free) == 0 && len(s.st.pending) > 0
	s.mu.RUnlock()
	if reuse {
		if err := s.syncIfBehind(); err != nil {
			return 0, 0, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	var e uint32
	if len(st.free) > 0 {
		e = st.free[0]
		st.free = st.free[1:]
	} else {
		e = uint32(len(st.extents))
		if e == format.NoExtent {
			return 0, 0, fmt.Errorf("the file has no room for another extent")
		}
		st.extents = append(st.extents, extent{})
	}
	gen := st.nextGeneration
	st.nextGeneration++
	return e, gen, nil
}

// write adds b, to be written at file offset off, to the group's data.
func (w *batchWriter) write(off int64, b []byte) {
	start := len(w.data)
	w.data = append(w.data, b...)
	w.writes = appendWrite(w.writes, off, start, len(w.data))
}

// reserve adds n bytes to be written at off and returns them to fill in.
func (w *batchWriter) reserve(off int64, n int) []byte {
	start := len(w.data)
	w.data = append(w.data, make([]byte, n)...)
	w.writes = appendWrite(w.writes, off, start, len(w.data))
	return w.data[start:]
}

// appendWrite adds a write, merging it into the last when both the file
// range and the buffer range continue it.
func appendWrite(ws []pendingWrite, off int64, start, end int) []pendingWrite {
	if n := len(ws); n > 0 && ws[n-1].end == start && ws[n-1].off+int64(ws[n-1].end-ws[n-1].start) == off {
		ws[n-1].end = end
		return ws
	}
	return append(ws, pendingWrite{off: off, start: start, end: end})
}

// flush writes the group's data, then its journal records: a record must
// never reach the file before the batches it publishes. A group that carries
// its data leaves its journal records to the syncer (journal), which writes
// them durably (WriteAtSync, syncing them alone) while the writer plans the
// next group; the writer keeps the file's writer lock until they are
// written, so that no other process writes where they go.
func (w *batchWriter) flush() error {
	s := w.s
	if err := w.writeData(); err != nil {
		return err
	}
	w.journal = nil
	if w.carry && len(w.jwrites) > 0 {
		w.journal = &journalWrite{bytes: bytes.Clone(w.jdata), writes: slices.Clone(w.jwrites), lastLSN: w.lastLSN,
			headers: bytes.Clone(w.hdata), hwrites: slices.Clone(w.hwrites)}
	} else {
		// The journal goes on after the records the syncer is writing.
		if err := s.awaitJournal(); err != nil {
			return err
		}
		for _, x := range w.jwrites {
			if _, err := s.f.WriteAt(w.jdata[x.start:x.end], x.off); err != nil {
				return err
			}
		}
	}
	if n := len(w.jwrites); n > 0 {
		// Keep the journal's next megabyte in written blocks.
		last := w.jwrites[n-1]
		end := last.off + int64(last.end-last.start)
		extentEnd := format.ExtentOffset(s.jpos.extent, s.meta.ExtentSize) + int64(s.meta.ExtentSize)
		if end+allocStep/2 > s.zeroedTo {
			if err := s.zeroAhead(end, min(end+allocStep, extentEnd)); err != nil {
				return err
			}
		}
	}
	s.unsynced.Add(int64(len(w.data) + len(w.jdata)))
	if w.lastLSN != 0 && w.journal == nil {
		s.wrote(w.lastLSN)
	}
	return nil
}

// writeData writes the group's data with one write per range of the file:
// the requests of a group interleave their partitions in w.data, but each
// partition's batches continue each other in its extent.
func (w *batchWriter) writeData() error {
	ws := w.writes
	if !slices.IsSortedFunc(ws, cmpWriteOffset) {
		ws = slices.Clone(ws)
		slices.SortStableFunc(ws, cmpWriteOffset)
	}
	for len(ws) > 0 {
		n, end := 1, ws[0].off+int64(ws[0].end-ws[0].start)
		for n < len(ws) && ws[n].off == end {
			end += int64(ws[n].end - ws[n].start)
			n++
		}
		b := w.data[ws[0].start:ws[0].end]
		if n > 1 {
			w.merged = w.merged[:0]
			for _, x := range ws[:n] {
				w.merged = append(w.merged, w.data[x.start:x.end]...)
			}
			b = w.merged
		}
		if _, err := w.s.f.WriteAt(b, ws[0].off); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return nil
}

func cmpWriteOffset(a, b pendingWrite) int { return cmpInt(a.off, b.off) }

// journalWrite is the journal records of a group that carries its data, for
// the syncer to write durably, after the headers of the data extents the
// group allocated.
type journalWrite struct {
	bytes   []byte
	writes  []pendingWrite
	lastLSN uint64
	headers []byte
	hwrites []pendingWrite
}

// wrote records that every record up to lsn is written.
func (s *Store) wrote(lsn uint64) {
	s.flushed.Store(lsn)
	s.pg.raise(wordWritten, lsn)
}

// pubs returns what publishing the group makes visible of each partition it
// touched. It runs right after the group is planned, before the next.
func (w *batchWriter) pubs() []pub {
	out := make([]pub, 0, len(w.touched))
	for _, k := range w.touched {
		p, err := w.s.st.partition(k.topic, k.partition)
		if err != nil {
			continue // deleted by the group
		}
		pb := pub{key: k, next: p.next, extent: format.NoExtent}
		if n := len(p.segments); n > 0 {
			pb.extent, pb.size = p.segments[n-1].extent, p.segments[n-1].size
		}
		out = append(out, pb)
	}
	return out
}

// touch records that partition k's high watermark moves with this group.
func (w *batchWriter) touch(k partitionKey) {
	for _, t := range w.touched {
		if t == k {
			return
		}
	}
	w.touched = append(w.touched, k)
}

// payloadOffset is the file offset of byte pos of extent e's payload.
func (s *Store) payloadOffset(e uint32, pos uint32) int64 {
	return format.ExtentOffset(e, s.extentSize) + format.ExtentHeaderSize + int64(pos)
}
