package store

import (
	"fmt"
	"maps"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// checkpointRecord bounds one record of a checkpoint chain.
const checkpointRecord = 64 << 10

// checkpoint writes the whole state as a checkpoint, so that opening the file
// replays only the journal written after it:
//
//  1. the journal continues in a fresh extent, with record L (after a
//     record that forgets the producers that expired, if any);
//  2. the state as of L goes into new checkpoint extents, as operations that
//     rebuild it, and is synced;
//  3. the other meta page names the checkpoint and the journal extent after
//     L, and is synced: from here on, opening reads the new checkpoint;
//  4. a journal record tells other processes, and frees the journal extents
//     before L and the previous checkpoint's extents.
//
// A crash before 3 leaves the previous checkpoint and journal whole; after
// it, the new ones. It runs on the writer goroutine, holding the writer lock.
func (s *Store) checkpoint() error {
	if err := s.readMeta(); err != nil {
		return err
	}
	w := s.newBatchWriter()
	// Producers expire here, by a journal record that every process
	// applies, so that all agree on which producers they remember.
	if until, ok := s.expiredUntil(); ok {
		if err := w.record(opSizeLimit, 0, func(w *batchWriter) error { return w.emit(format.ProducerExpire{Until: until}) }); err != nil {
			return err
		}
	}
	if err := w.continueJournal(); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	lsn := w.lastLSN
	ops := s.snapshotOps()
	extents, sum, err := s.writeCheckpoint(lsn, ops)
	if err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.carriedSince.Store(false)
	s.unsynced.Store(0)
	s.raiseSynced(s.flushed.Load())
	m := s.meta
	m.Sequence++
	m.CheckpointLSN, m.CheckpointExtent, m.CheckpointChecksum = lsn, extents[0], sum
	m.JournalExtent, m.JournalSeed = s.jpos.extent, s.jpos.prev
	if err := s.writeMeta(m); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.meta = m
	w = s.newBatchWriter()
	done := format.Checkpoint{LSN: lsn, JournalExtent: m.JournalExtent, Extents: extents}
	if err := w.record(opSizeLimit+5*len(extents), 0, func(w *batchWriter) error { return w.emit(done) }); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	s.publish(nil, w.lastLSN)
	s.ckptLen = 0
	s.opts.Logger.Debug("spool: checkpoint", "file", s.path, "lsn", lsn, "bytes", len(ops), "extents", len(extents))
	return nil
}

// adoptCheckpoint finishes the checkpoint of a writer that died after its
// meta page named the new checkpoint (step 3) and before the journal record
// that tells the other processes (step 4): without that record, the states
// of the processes that had the file open would hold the new checkpoint's
// extents free, and the next writer among them would overwrite the
// checkpoint the meta page names. It runs with the writer lock, after
// catching up: the journal then ends right after the checkpoint's LSN, at
// the start of the extent the meta page names, where the record belongs.
// (A process that opened the file since, from that meta page, knows the
// checkpoint; the record it writes then changes nothing of its own state.)
func (s *Store) adoptCheckpoint() error {
	if s.jpos.pos != 0 {
		return nil
	}
	if err := s.readMeta(); err != nil {
		return err
	}
	m := s.meta
	if m.CheckpointLSN != s.st.lsn || m.JournalExtent != s.jpos.extent || m.CheckpointExtent == format.NoExtent {
		return nil
	}
	ckpt := newState(m.ExtentSize)
	if err := s.loadCheckpoint(ckpt); err != nil {
		return err
	}
	w := s.newBatchWriter()
	done := format.Checkpoint{LSN: m.CheckpointLSN, JournalExtent: m.JournalExtent, Extents: ckpt.ckpt}
	if err := w.record(opSizeLimit+5*len(done.Extents), 0, func(w *batchWriter) error { return w.emit(done) }); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	s.publish(nil, w.lastLSN)
	s.ckptLen = 0
	s.opts.Logger.Info("spool: finished the checkpoint of a process that died writing it", "file", s.path, "lsn", m.CheckpointLSN)
	return nil
}

// continueJournal ends the current journal extent with a record that
// continues the chain in a fresh one.
func (w *batchWriter) continueJournal() error {
	return w.journalRoom(int(w.s.meta.ExtentSize))
}

// snapshotOps encodes the state as the operations that rebuild it, ending
// with Counters (and the next producer id before it, as the ProducerInit of
// the id before).
func (s *Store) snapshotOps() []byte {
	st := s.st
	var b []byte
	for _, id := range slices.Sorted(maps.Keys(st.topics)) {
		t := st.topics[id]
		b = format.AppendOp(b, format.TopicCreate{ID: t.id, Name: t.name, Partitions: uint32(len(t.partitions)), Config: t.entries, Created: t.created})
		for _, p := range t.partitions {
			b = appendPartition(b, p)
			b = appendProducers(b, p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.groups)) {
		b = appendGroup(b, name, st.groups[name])
	}
	if st.nextProducerID > 0 {
		b = format.AppendOp(b, format.ProducerInit{ProducerID: st.nextProducerID - 1})
	}
	return format.AppendOp(b, format.Counters{NextTopicID: st.nextTopicID, NextGeneration: st.nextGeneration, ExtentCount: uint32(len(st.extents))})
}

// appendPartition encodes a partition: its log start where the log begins
// past zero, its segments, then its log start again where it lies inside them.
func appendPartition(b []byte, p *partition) []byte {
	id, part := p.topic.id, p.index
	if len(p.segments) == 0 {
		if p.next > 0 {
			b = format.AppendOp(b, format.LogStart{Topic: id, Partition: part, Offset: p.next})
		}
		return b
	}
	if base := p.segments[0].base; base > 0 {
		b = format.AppendOp(b, format.LogStart{Topic: id, Partition: part, Offset: base})
	}
	for _, sg := range p.segments {
		b = format.AppendOp(b, format.ExtentAlloc{Extent: sg.extent, Generation: sg.generation, Topic: id, Partition: part, BaseOffset: sg.base})
		if sg.size > 0 {
			b = format.AppendOp(b, format.Append{Topic: id, Partition: part, Extent: sg.extent, End: sg.size,
				FirstOffset: sg.base, NextOffset: sg.next, MaxTimestamp: sg.maxTimestamp})
		}
	}
	if p.logStart > p.segments[0].base {
		b = format.AppendOp(b, format.LogStart{Topic: id, Partition: part, Offset: p.logStart})
	}
	return b
}

// writeCheckpoint writes ops as a chain of records in checkpoint extents and
// returns the extents and the chain checksum of the last record.
func (s *Store) writeCheckpoint(lsn uint64, ops []byte) ([]uint32, uint32, error) {
	w := s.newBatchWriter()
	payload := s.meta.ExtentSize - format.ExtentHeaderSize
	var extents []uint32
	at := chainPos{prev: checkpointSeed(s.meta.FileID, lsn), lsn: 1}
	var buf []byte
	newExtent := func() error {
		e, gen, err := w.takeExtent()
		if err != nil {
			return err
		}
		h := format.ExtentHeader{Kind: format.KindCheckpoint, Generation: gen, Base: int64(lsn)}
		if err := s.writeExtent(e, h, false); err != nil {
			return err
		}
		if len(extents) > 0 {
			cont := format.AppendOp(nil, format.Continue{Extent: e, Generation: gen})
			buf = buf[:0]
			buf, at.prev = format.AppendRecord(buf, at.prev, at.lsn, 0, 0, cont)
			if err := s.writePayload(at.extent, at.pos, buf); err != nil {
				return err
			}
			at.lsn++
		}
		extents = append(extents, e)
		at.extent, at.pos = e, 0
		return nil
	}
	if err := newExtent(); err != nil {
		return nil, 0, err
	}
	or := format.NewOpReader(ops)
	for rest := ops; len(rest) > 0; {
		// Cut at an operation boundary near checkpointRecord bytes.
		n := 0
		for n < len(rest) && n < checkpointRecord {
			before := len(or.Remaining())
			if _, err := or.Next(); err != nil {
				return nil, 0, fmt.Errorf("internal error re-reading the checkpoint: %w", err)
			}
			n += before - len(or.Remaining())
		}
		rec := rest[:n]
		rest = rest[n:]
		if int(at.pos)+format.RecordSize(len(rec))+continueReserve > int(payload) {
			if err := newExtent(); err != nil {
				return nil, 0, err
			}
		}
		buf = buf[:0]
		buf, at.prev = format.AppendRecord(buf, at.prev, at.lsn, 0, 0, rec)
		if err := s.writePayload(at.extent, at.pos, buf); err != nil {
			return nil, 0, err
		}
		at.pos += uint32(len(buf))
		at.lsn++
	}
	return extents, at.prev, nil
}

func (s *Store) writePayload(e, pos uint32, b []byte) error {
	_, err := s.f.WriteAt(b, s.payloadOffset(e, pos))
	return err
}
