package store

import (
	"bytes"
	"fmt"

	"github.com/spooldb/spool/internal/format"
)

// redo is the bytes an AppendData carried, to write back into its extent at
// recovery: a synchronous commit that carried its data synced only the
// journal, so after a power loss the extent's copy may be missing or torn.
type redo struct {
	extent     uint32
	generation uint64 // the extent's generation when the record was written
	start      uint32
	data       []byte
}

// appendRedo adds o, just applied to st.
func appendRedo(redos []redo, st *state, o format.AppendData) []redo {
	if int(o.Extent) < len(st.extents) {
		redos = append(redos, redo{extent: o.Extent, generation: st.extents[o.Extent].generation, start: o.Start, data: o.Data})
	}
	return redos
}

// liveRedos keeps the redos whose extent still holds the same segment in st,
// the state after the whole replay: an extent freed and reused since holds
// another partition's data, which the stale bytes must not overwrite.
func liveRedos(redos []redo, st *state) []redo {
	kept := redos[:0]
	for _, r := range redos {
		if e := st.extents[r.extent]; e.kind == format.KindData && e.generation == r.generation {
			kept = append(kept, r)
		}
	}
	return kept
}

// redoData writes back into their extents the carried bytes that differ
// there, and returns how many runs of batches it wrote. A read-only open cannot, and
// fails: its reads would find the extents without the data the journal says
// they hold.
func (s *Store) redoData(redos []redo) (int, error) {
	wrote := 0
	var buf []byte
	for _, r := range redos {
		off := s.payloadOffset(r.extent, r.start)
		if cap(buf) < len(r.data) {
			buf = make([]byte, len(r.data))
		}
		buf = buf[:len(r.data)]
		if err := readFull(s.f, buf, off); err == nil && bytes.Equal(buf, r.data) {
			continue
		}
		if s.opts.ReadOnly {
			return 0, fmt.Errorf("%w: extent %d lacks data its synchronous commits carried in the journal (the file was not closed cleanly); open it read-write once to write them back",
				ErrReadOnly, r.extent)
		}
		if _, err := s.f.WriteAt(r.data, off); err != nil {
			return 0, err
		}
		wrote++
	}
	return wrote, nil
}
