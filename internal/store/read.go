package store

import (
	"fmt"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// Fetch is the result of Read: whole record batches and the partition's
// offsets as of the read.
type Fetch struct {
	// Batches holds whole RecordBatch v2 batches, in offset order. The first
	// may start before the offset asked for, as Kafka's fetch does.
	Batches        []byte
	HighWatermark  int64
	LogStartOffset int64
}

// key resolves a topic name and partition number.
func (s *Store) key(topic string, partition int32) (partitionKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return partitionKey{}, err
	}
	return partitionKey{p.topic.id, p.index}, nil
}

// lookup finds a partition; the caller holds mu.
func (s *Store) lookup(topic string, partition int32) (*partition, error) {
	t := s.st.byName[topic]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, topic)
	}
	if partition < 0 || int(partition) >= len(t.partitions) {
		return nil, fmt.Errorf("%w: %s has %d partitions, not %d", ErrUnknownPartition, topic, len(t.partitions), partition)
	}
	return t.partitions[partition], nil
}

// Offsets returns a partition's log start offset and high watermark.
func (s *Store) Offsets(topic string, partition int32) (logStart, highWatermark int64, err error) {
	if err := s.readable(); err != nil {
		return 0, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return 0, 0, err
	}
	return p.logStart, p.hwm, nil
}

func (s *Store) readable() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.refresh()
}

// enter keeps Close from unmapping the shared page until leave: a read of an
// unmapped page would kill the process, not return an error.
func (s *Store) enter() error {
	s.gate.RLock()
	if s.closed.Load() {
		s.gate.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.gate.RUnlock() }

// readPlan is where a read finds its bytes.
type readPlan struct {
	extent     uint32
	generation uint64
	pos, end   uint32 // payload range that may hold the batches wanted
	first      int64  // the base offset of the batch at pos
	hwm        int64
	logStart   int64
	// part and indexed say where a read may add an index entry: the
	// partition, and the position of the next index entry after pos.
	part    *partition
	indexed uint32
}

// Read returns whole batches of a partition from the one holding offset,
// up to about maxBytes (at least one batch, however large, as Kafka's fetch
// since KIP-74). Reading at the high watermark returns no batches; before the
// log start offset or past the high watermark, ErrOffsetOutOfRange. buf is
// reused for the result when it is large enough.
func (s *Store) Read(topic string, partition int32, offset int64, maxBytes int, buf []byte) (Fetch, error) {
	if err := s.readable(); err != nil {
		return Fetch{}, err
	}
	plan, err := s.planRead(topic, partition, offset)
	if err != nil || plan.pos == plan.end {
		return Fetch{HighWatermark: plan.hwm, LogStartOffset: plan.logStart}, err
	}
	out, err := s.readBatches(plan, offset, max(maxBytes, 1), buf[:0])
	if err != nil {
		return Fetch{}, err
	}
	return Fetch{Batches: out, HighWatermark: plan.hwm, LogStartOffset: plan.logStart}, nil
}

func (s *Store) planRead(topic string, partition int32, offset int64) (readPlan, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.lookup(topic, partition)
	if err != nil {
		return readPlan{}, err
	}
	plan := readPlan{hwm: p.hwm, logStart: p.logStart}
	if offset < p.logStart || offset > plan.hwm {
		return plan, fmt.Errorf("%w: %d is outside [%d, %d] of %s/%d", ErrOffsetOutOfRange, offset, p.logStart, plan.hwm, topic, partition)
	}
	if offset == plan.hwm {
		return plan, nil
	}
	i, found := slices.BinarySearchFunc(p.segments, offset, func(sg segment, o int64) int { return cmpInt(sg.base, o) })
	if !found {
		i--
	}
	if i < 0 {
		return plan, fmt.Errorf("%w: no extent holds offset %d of %s/%d", ErrCorrupt, offset, topic, partition)
	}
	sg := &p.segments[i]
	j, found := slices.BinarySearchFunc(sg.index, offset, func(e indexEntry, o int64) int { return cmpInt(e.offset, o) })
	if !found {
		j--
	}
	e := sg.index[max(j, 0)]
	plan.extent, plan.generation, plan.pos, plan.end, plan.first = sg.extent, sg.generation, e.pos, sg.visible, e.offset
	plan.part, plan.indexed = p, sg.visible
	if j+1 < len(sg.index) {
		plan.indexed = sg.index[j+1].pos
	}
	return plan, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readBatches reads from plan.pos, skips the batches wholly before offset,
// and returns those after it, up to maxBytes and below the high watermark.
// Most reads start at an index entry close before offset, so one read of
// maxBytes into out's memory holds the answer, which is then returned in
// place; the general walk copies.
func (s *Store) readBatches(plan readPlan, offset int64, maxBytes int, out []byte) ([]byte, error) {
	n := min(maxBytes, int(plan.end-plan.pos))
	buf := out[:0]
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if err := readFull(s.f, buf, s.payloadOffset(plan.extent, plan.pos)); err != nil {
		return nil, err
	}
	start, end := -1, 0
	next := plan.first // a batch out of sequence is left to walkBatches to report
	for rest := buf; len(rest) >= format.BatchHeaderSize; {
		h, err := format.ParseBatchHeader(rest)
		if err != nil || h.BaseOffset != next || h.BaseOffset >= plan.hwm || h.Size() > len(rest) {
			break
		}
		if start < 0 && h.LastOffset() >= offset {
			start = end
		}
		next = h.LastOffset() + 1
		end += h.Size()
		rest = rest[h.Size():]
	}
	if start >= 0 {
		s.remember(plan, next, plan.pos+uint32(end))
		return buf[start:end], s.checkGeneration(plan)
	}
	out = out[:0]
	var endPos uint32
	err := s.walkBatches(plan, max(maxBytes, minReadChunk), func(b []byte, h format.BatchHeader, pos uint32) bool {
		if h.LastOffset() < offset {
			return true
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			return false
		}
		out = append(out, b...)
		next, endPos = h.LastOffset()+1, pos+uint32(len(b))
		return len(out) < maxBytes
	})
	if err == nil && len(out) > 0 {
		s.remember(plan, next, endPos)
	}
	return out, err
}

// indexGap is the least distance between index entries that reads add.
const indexGap = 64 << 10

// remember adds an index entry for the batch at pos, whose base offset is
// offset, when a read found it far from the entries the segment has: a
// segment loaded from a checkpoint has one entry, and without this every
// read deep into it would scan from its start. The next read of a
// sequential consumer then starts exactly where this one stopped.
func (s *Store) remember(plan readPlan, offset int64, pos uint32) {
	if pos < plan.pos+indexGap || pos+indexGap > plan.indexed || pos >= plan.end {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range plan.part.segments {
		sg := &plan.part.segments[i]
		if sg.extent != plan.extent || sg.generation != plan.generation {
			continue
		}
		j, found := slices.BinarySearchFunc(sg.index, offset, func(e indexEntry, o int64) int { return cmpInt(e.offset, o) })
		if !found {
			sg.index = slices.Insert(sg.index, j, indexEntry{offset: offset, pos: pos})
		}
		return
	}
}

// walkBatches calls fn with each whole batch below the high watermark from
// plan.pos on, and its payload position, reading chunk bytes at a time,
// until fn returns false. The batches are valid only during the call. It
// fails when the extent was recycled under the walk.
func (s *Store) walkBatches(plan readPlan, chunk int, fn func(b []byte, h format.BatchHeader, pos uint32) bool) error {
	pos := plan.pos
	next := plan.first // offsets run on without gaps; the base offset is outside the CRC
	want := chunk
	var buf []byte
	for pos < plan.end {
		n := min(want, int(plan.end-pos))
		buf = slices.Grow(buf[:0], n)[:n]
		if err := readFull(s.f, buf, s.payloadOffset(plan.extent, pos)); err != nil {
			return err
		}
		rest := buf
		for len(rest) >= format.BatchHeaderSize {
			h, err := format.ParseBatchHeader(rest)
			if err != nil {
				return s.damaged(plan, pos+uint32(len(buf)-len(rest)), err)
			}
			if h.BaseOffset != next {
				return s.damaged(plan, pos+uint32(len(buf)-len(rest)),
					fmt.Errorf("batch has base offset %d, the one before ended at %d", h.BaseOffset, next))
			}
			if h.BaseOffset >= plan.hwm {
				return s.checkGeneration(plan)
			}
			size := h.Size()
			if size > len(rest) {
				break
			}
			if !fn(rest[:size], h, pos+uint32(len(buf)-len(rest))) {
				return s.checkGeneration(plan)
			}
			next = h.LastOffset() + 1
			rest = rest[size:]
		}
		consumed := len(buf) - len(rest)
		want = chunk
		if consumed == 0 {
			// One batch larger than the chunk: read it whole next time.
			if len(rest) < format.BatchHeaderSize {
				return s.damaged(plan, pos, format.ErrShortBatch)
			}
			h, err := format.ParseBatchHeader(rest)
			if err != nil {
				return s.damaged(plan, pos, err)
			}
			if h.Size() > int(plan.end-pos) {
				// Reading more would read the same bytes again, forever.
				return s.damaged(plan, pos, fmt.Errorf("%w: a batch of %d bytes runs past the %d published", format.ErrShortBatch, h.Size(), plan.end-pos))
			}
			want = h.Size()
			continue
		}
		pos += uint32(consumed)
	}
	return s.checkGeneration(plan)
}

// minReadChunk is the least a read asks of the file at once.
const minReadChunk = 64 << 10

// checkGeneration fails a read whose extent was freed and reused while it
// read, which only a process that had not yet seen the retention that freed
// it can run into.
func (s *Store) checkGeneration(plan readPlan) error {
	h, err := s.readExtentHeader(plan.extent)
	if err != nil || h.Generation != plan.generation {
		return fmt.Errorf("%w: the records were deleted while being read", ErrOffsetOutOfRange)
	}
	return nil
}

// damaged reports batch bytes that fail their checks where the journal says
// valid batches are: the file was damaged after it was written.
func (s *Store) damaged(plan readPlan, pos uint32, err error) error {
	if gerr := s.checkGeneration(plan); gerr != nil {
		return gerr
	}
	return fmt.Errorf("%w: extent %d at byte %d: %v", ErrCorrupt, plan.extent, pos, err)
}
