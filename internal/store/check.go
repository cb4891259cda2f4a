package store

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// Problem is one thing Check found wrong.
type Problem struct {
	Topic     string
	Partition int32
	Extent    uint32
	Offset    int64 // the offset the problem is at, or -1
	Err       error
}

func (p Problem) String() string {
	return fmt.Sprintf("%s/%d extent %d offset %d: %v", p.Topic, p.Partition, p.Extent, p.Offset, p.Err)
}

// CheckReport is what Check found.
type CheckReport struct {
	Partitions int
	Extents    int
	Batches    int64
	Bytes      int64
	Problems   []Problem
}

// Check reads every published batch of every partition and verifies its
// extent's header, its checksum, and that offsets run on without gaps from the
// extent's base to the partition's high watermark. The journal and the
// checkpoint were verified when the file was opened. progress, if not nil, is
// called after each extent with the bytes checked and the total.
func (s *Store) Check(ctx context.Context, progress func(done, total int64)) (CheckReport, error) {
	var r CheckReport
	if err := s.readable(); err != nil {
		return r, err
	}
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
