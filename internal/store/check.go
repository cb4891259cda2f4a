package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// Problem is one thing Check found wrong: in a partition's data, or, with
// Topic empty, in the journal (LSN set), the checkpoint (in Extent), or the
// meta pages (Extent format.NoExtent).
type Problem struct {
	Topic     string
	Partition int32
	Extent    uint32
	Offset    int64  // the offset the problem is at, or -1; in the journal, the byte of the extent's payload
	LSN       uint64 // in the journal, the record the problem is at
	Err       error
}

func (p Problem) String() string {
	switch {
	case p.Topic != "":
		return fmt.Sprintf("%s/%d extent %d offset %d: %v", p.Topic, p.Partition, p.Extent, p.Offset, p.Err)
	case p.LSN > 0:
		return fmt.Sprintf("journal extent %d byte %d record %d: %v", p.Extent, p.Offset, p.LSN, p.Err)
	case p.Extent != format.NoExtent:
		return fmt.Sprintf("extent %d: %v", p.Extent, p.Err)
	}
	return fmt.Sprintf("meta pages: %v", p.Err)
}

// CheckReport is what Check found.
type CheckReport struct {
	Partitions int
	Extents    int
	Batches    int64
	Bytes      int64
	Problems   []Problem
}

// Check verifies the file: the checkpoint the meta page names and the
// journal after it (its chain runs to the last record written, and no record
// of it that was synced lies past where it stops, see Store.checkJournal),
// then every published batch of every partition: its extent's header, its
// checksum, and that offsets run on without gaps from the extent's base to
// the partition's high watermark. progress, if not nil, is called after each
// extent with the bytes checked and the total.
func (s *Store) Check(ctx context.Context, progress func(done, total int64)) (CheckReport, error) {
	var r CheckReport
	if err := s.readable(); err != nil {
		return r, err
	}
	p, err := s.checkJournal()
	if err != nil {
		return r, err
	}
	r.Problems = append(r.Problems, p...)
	type job struct {
		topic string
		part  int32
		seg   segment
		hwm   int64
	}
	var jobs []job
	var total int64
	s.mu.RLock()
	for _, id := range slices.Sorted(maps.Keys(s.st.topics)) {
		t := s.st.topics[id]
		for _, p := range t.partitions {
			r.Partitions++
			for _, sg := range p.segments {
				if sg.visible > 0 {
					jobs = append(jobs, job{t.name, int32(p.index), sg, p.hwm})
					total += int64(sg.visible)
				}
			}
		}
	}
	s.mu.RUnlock()
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		r.Extents++
		problem := func(off int64, err error) {
			r.Problems = append(r.Problems, Problem{Topic: j.topic, Partition: j.part, Extent: j.seg.extent, Offset: off, Err: err})
		}
		h, err := s.readExtentHeader(j.seg.extent)
		if err == nil && (h.Kind != format.KindData || h.Generation != j.seg.generation || h.Base != j.seg.base) {
			err = fmt.Errorf("header says %s generation %d base %d, the journal generation %d base %d", h.Kind, h.Generation, h.Base, j.seg.generation, j.seg.base)
		}
		if err != nil {
			problem(-1, err)
			continue
		}
		next := j.seg.base
		plan := readPlan{extent: j.seg.extent, generation: j.seg.generation, end: j.seg.visible, first: j.seg.base, hwm: j.hwm}
		werr := s.walkBatches(plan, maxChunk, func(b []byte, bh format.BatchHeader, _ uint32) bool {
			if _, err := format.ValidateBatch(b); err != nil {
				problem(bh.BaseOffset, err)
			}
			if bh.BaseOffset != next {
				problem(bh.BaseOffset, fmt.Errorf("batch starts at offset %d, the one before ended at %d", bh.BaseOffset, next))
			}
			next = bh.LastOffset() + 1
			r.Batches++
			r.Bytes += int64(len(b))
			return true
		})
		if werr != nil {
			problem(next, werr)
		} else if want := min(j.seg.next, j.hwm); next != want {
			problem(next, fmt.Errorf("batches end at offset %d, the journal says %d", next, want))
		}
		if progress != nil {
			progress(r.Bytes, total)
		}
	}
	return r, nil
}

// checkJournal verifies the checkpoint and the journal as they are on disk
// now: the checkpoint whole, and the journal's chain running at least to the
// last record the shared page says was written (opening verified them, but
// damage may come later, and a process that opened the file while another
// had it open trusted that one), with no record past its end that a record
// found there or the shared page says was synced (see checkEnd). A
// checkpoint taken meanwhile, which moves the journal, makes it start over.
func (s *Store) checkJournal() ([]Problem, error) {
	for try := 0; ; try++ {
		// The shared page first: records it counts were in the file before
		// the journal is read.
		durable := knownDurable{}
		if err := s.enter(); err != nil {
			return nil, err
		}
		if s.pg.b != nil && s.pg.load(wordMagic) == sharedMagic {
			durable.raise(s.pg.load(wordWritten), func() string { return "the shared page says they were written" })
		}
		s.leave()
		m, err := s.currentMeta()
		if err != nil {
			return []Problem{{Extent: format.NoExtent, Offset: -1, Err: err}}, nil
		}
		var problem *Problem
		if m.CheckpointExtent != format.NoExtent {
			if err := s.loadCheckpointOf(newState(m.ExtentSize), m); err != nil {
				problem = &Problem{Extent: m.CheckpointExtent, Offset: -1, Err: err}
			}
		}
		if problem == nil {
			j, err := s.readJournal(m, math.MaxUint64, func(chainPos, chainPos, format.Record) {})
			switch {
			case errors.Is(err, ErrCorrupt):
				problem = &Problem{Extent: m.JournalExtent, Offset: 0, LSN: m.CheckpointLSN + 1, Err: err}
			case err != nil:
				return nil, err
			case j.stopErr != nil:
				j.durable.raise(durable.lsn, func() string { return durable.why })
				if _, _, err := s.checkEnd(j.stop, j.stopErr, j.durable); errors.Is(err, ErrCorrupt) {
					problem = &Problem{Extent: j.stop.extent, Offset: int64(j.stop.pos), LSN: j.stop.lsn, Err: err}
				} else if err != nil {
					return nil, err
				}
			}
		}
		if problem == nil {
			return nil, nil
		}
		if now, err := s.currentMeta(); err == nil && now.Sequence != m.Sequence && try < 3 {
			continue // checkpointed meanwhile: the extents read may have been reused
		}
		return []Problem{*problem}, nil
	}
}
