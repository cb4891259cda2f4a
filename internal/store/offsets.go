package store

import (
	"fmt"

	"github.com/spooldb/spool/internal/format"
)

// checkOffsets checks what can be checked of offset commits before they are
// queued, and returns the journal bytes they may take.
func checkOffsets(offsets []Offset) (estimate int, err error) {
	for _, o := range offsets {
		if err := ValidGroup(o.Group); err != nil {
			return 0, err
		}
		if len(o.Metadata) > maxMetadata {
			return 0, fmt.Errorf("%w: offset metadata of %d bytes, the limit is %d", ErrInvalidConfig, len(o.Metadata), maxMetadata)
		}
		if o.Offset < 0 {
			return 0, fmt.Errorf("%w: committed offset %d for %s/%d is negative", ErrOffsetOutOfRange, o.Offset, o.Topic, o.Partition)
		}
		prev := o.Offset
		for _, r := range o.Acked {
			if r.Start <= prev || r.End <= r.Start {
				return 0, fmt.Errorf("%w: acknowledged offsets [%d, %d) of %s/%d must be ascending, disjoint, not adjacent and above the committed offset %d",
					ErrOffsetOutOfRange, r.Start, r.End, o.Topic, o.Partition, o.Offset)
			}
			prev = r.End
		}
		estimate += 2*opSizeLimit + len(o.Group)*2 + len(o.Metadata) + len(o.Member) + len(o.Acked)*2*10
	}
	return estimate, nil
}

// planOffsets resolves offset commits against the state, fences those of
// members, and returns their operations.
func (w *batchWriter) planOffsets(offsets []Offset) ([]format.Op, error) {
	s := w.s
	var ops []format.Op
	now := w.now.UnixNano()
	for _, o := range offsets {
		k, err := s.key(o.Topic, o.Partition)
		if err != nil {
			return nil, err
		}
		if err := s.fence(o, k); err != nil {
			return nil, err
		}
		ops = append(ops, format.OffsetCommit{Group: o.Group, Topic: k.topic, Partition: k.partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, Time: now})
		if len(o.Acked) != 0 {
			ops = append(ops, format.OffsetAcks{Group: o.Group, Topic: k.topic, Partition: k.partition, Ranges: o.Acked})
		}
	}
	return ops, nil
}

// fence refuses an offset commit of a member that does not own the
// partition, and one from outside a group that has a live member.
func (s *Store) fence(o Offset, k partitionKey) error {
	g := s.st.groups[o.Group]
	if o.Member != "" {
		if g == nil || g.members[o.Member] == nil {
			return fmt.Errorf("%w: %s in group %s", ErrUnknownMember, o.Member, o.Group)
		}
		if ow := g.owners[k]; ow.member != o.Member {
			return fmt.Errorf("%w: %s/%d of group %s is not %s's", ErrNotOwner, o.Topic, o.Partition, o.Group, o.Member)
		}
		return nil
	}
	return s.checkNoLiveMember(o.Group)
}

// checkNoLiveMember fails with ErrGroupNotEmpty while a member of group is
// alive: a member of this Store, or of a process that holds its slot lock.
func (s *Store) checkNoLiveMember(group string) error {
	g := s.st.groups[group]
	if g == nil {
		return nil
	}
	for _, m := range g.members {
		s.slotMu.Lock()
		local := s.local[m.slot] == m.id
		s.slotMu.Unlock()
		held := local
		if !local {
			var err error
			if held, err = s.slotHeld(m.slot); err != nil {
				return err
			}
		}
		if held {
			return fmt.Errorf("%w: member %s of group %s is alive", ErrGroupNotEmpty, m.id, group)
		}
	}
	return nil
}
