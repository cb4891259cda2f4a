package store

import (
	"errors"
	"fmt"
	"math"

	"github.com/spooldb/spool/internal/format"
)

// refresh applies what other processes have published since this process
// last looked. It costs one atomic load when nothing is new.
func (s *Store) refresh() error {
	if s.pg.load(wordCounter) == s.seen.Load() {
		return nil
	}
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	counter := s.pg.load(wordCounter)
	if counter == s.seen.Load() {
		return nil
	}
	if err := s.follow(s.pg.load(wordVisible)); err != nil {
		return err
	}
	s.seen.Store(counter)
	return nil
}

// follow applies the journal records other processes wrote after s.jpos, up
// to record limit (math.MaxUint64: up to the written LSN of the shared page
// and on to the end of the chain, which only the holder of the writer lock
// may ask). When the chain ends before limit, or
// before the last record the shared page says was written, this process fell
// so far behind that the journal was checkpointed and recycled under it: it
// reloads from the meta page. The caller holds catchMu.
func (s *Store) follow(limit uint64) error {
	writer := limit == math.MaxUint64
	want := limit
	if writer {
		want = s.pg.load(wordWritten)
	}
	if s.st.lsn >= want {
		// Nothing new. A writer that died between writing a record and
		// raising the written LSN never published or acknowledged it, so
		// the next writer may overwrite it.
		return nil
	}
	r := newChainReader(s.f, s.meta.ExtentSize, format.KindJournal, s.jpos)
	r.buf = s.jbuf
	defer func() { s.jbuf = r.buf }()
	var pubs []pub
	checkpointed := false
	for r.at.lsn <= limit {
		rec, err := r.next()
		if errors.Is(err, format.ErrChainEnd) {
			break
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		err = applyRecord(s.st, rec, func(op format.Op) {
			if _, ok := op.(format.AppendData); ok {
				s.carriedSince.Store(true)
			}
			pubs, checkpointed = opPubs(op, pubs, checkpointed)
		})
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%w: journal record %d written by another process: %v", ErrCorrupt, rec.LSN, err)
		}
		s.jpos = r.at
		s.ckptLen += int64(format.RecordSize(len(rec.Ops)))
	}
	if s.st.lsn < want {
		return s.reload(limit)
	}
	if checkpointed {
		if err := s.readMeta(); err != nil {
			return err
		}
		s.ckptLen = 0
	}
	s.mu.Lock()
	s.st.settle(s.syncedHint())
	s.mu.Unlock()
	s.publishPartitions(pubs)
	return nil
}

// opPubs adds what publishing op makes visible, and whether it records a
// checkpoint.
func opPubs(op format.Op, pubs []pub, checkpointed bool) ([]pub, bool) {
	switch o := op.(type) {
	case format.Append:
		pubs = append(pubs, appendPub(o))
	case format.AppendData:
		pubs = append(pubs, appendPub(o.Append))
	case format.LogStart:
		pubs = append(pubs, pub{key: partitionKey{o.Topic, o.Partition}, extent: format.NoExtent})
	case format.Checkpoint:
		checkpointed = true
	}
	return pubs, checkpointed
}

// appendPub is what publishing an Append makes visible.
func appendPub(o format.Append) pub {
	return pub{key: partitionKey{o.Topic, o.Partition}, next: o.NextOffset, extent: o.Extent, size: o.End}
}

// reload rebuilds the state from the current meta page up to record limit.
func (s *Store) reload(limit uint64) error {
	if err := s.readMeta(); err != nil {
		return err
	}
	s.opts.Logger.Debug("spool: reloading after the journal was checkpointed under this process", "file", s.path)
	return s.load(limit, false)
}
