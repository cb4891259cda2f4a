package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// planGroupChange checks change against the group's state g, then emits it
// in the order the journal applies it: offsets (checked against the owners
// before the change, so a member's final commit may go with its release),
// leaves, the join, the target, owners. Nothing is emitted unless all of it
// is valid.
func (w *batchWriter) planGroupChange(group string, change *GroupChange) error {
	if change.IsEmpty() {
		return nil
	}
	s := w.s
	s.mu.RLock()
	g := s.groupState(group)
	s.mu.RUnlock()
	ops, err := w.planOffsets(change.Offsets)
	if err != nil {
		return err
	}
	members := map[string]bool{}
	for _, m := range g.Members {
		members[m.ID] = true
	}
	owners := map[TopicPartition]string{}
	for tp, ow := range g.Owners {
		owners[tp] = ow.Member
	}
	for _, l := range change.Leave {
		if !members[l.Member] {
			return fmt.Errorf("%w: %s in group %s", ErrUnknownMember, l.Member, group)
		}
		delete(members, l.Member)
		for tp, id := range owners {
			if id == l.Member {
				delete(owners, tp)
			}
		}
		ops = append(ops, format.MemberLeave{Group: group, Member: l.Member, Reason: l.Reason})
	}
	generation := g.Generation
	if change.Assign != nil {
		generation++
	}
	var slot = noSlot
	if j := change.Join; j != nil {
		op, err := w.planJoin(group, &g, members, owners, j)
		if err != nil {
			return err
		}
		slot = op.Slot
		ops = append(ops, op)
	}
	more, err := s.planTargetAndOwners(group, generation, members, owners, change)
	if err != nil {
		if slot != noSlot {
			s.dropSlot(slot)
		}
		return err
	}
	if err := w.emitAll(append(ops, more...)...); err != nil {
		return err
	}
	if slot != noSlot {
		s.slotMu.Lock()
		delete(s.joining, slot)
		s.slotMu.Unlock()
	}
	for _, l := range change.Leave {
		s.dropSlot(g.Member(l.Member).Slot)
	}
	return nil
}

const noSlot = ^uint32(0)

// planJoin checks a joining member and takes a free slot for it.
func (w *batchWriter) planJoin(group string, g *GroupState, members map[string]bool, owners map[TopicPartition]string, j *GroupMember) (format.MemberJoin, error) {
	s := w.s
	if j.ID == "" || len(j.ID) > maxGroupID {
		return format.MemberJoin{}, fmt.Errorf("spool: member id must be 1 to %d bytes", maxGroupID)
	}
	if members[j.ID] {
		return format.MemberJoin{}, fmt.Errorf("spool: member %s is in group %s already", j.ID, group)
	}
	for _, m := range g.Members {
		if members[m.ID] && m.Assignor != j.Assignor {
			return format.MemberJoin{}, fmt.Errorf("%w: group %s uses %s, the member %s", ErrInconsistentAssignor, group, m.Assignor, j.Assignor)
		}
		if j.InstanceID != "" && m.InstanceID == j.InstanceID && members[m.ID] {
			// The static member's successor takes its place, and what it owns.
			delete(members, m.ID)
			for tp, id := range owners {
				if id == m.ID {
					owners[tp] = j.ID
				}
			}
		}
	}
	slot, err := s.takeSlot(j.ID)
	if err != nil {
		return format.MemberJoin{}, err
	}
	members[j.ID] = true
	s.members.beat(slot, s.opts.Now().UnixMilli())
	return format.MemberJoin{Group: group, Member: j.ID, Instance: j.InstanceID, Slot: slot, Assignor: j.Assignor,
		Topics: slices.Clone(j.Topics), SessionTimeout: j.SessionTimeout.Milliseconds(),
		RebalanceTimeout: j.RebalanceTimeout.Milliseconds(), Time: s.opts.Now().UnixNano()}, nil
}

// takeSlot takes the lowest slot that no member in the journal has and no
// other process holds, for member id of this Store.
func (s *Store) takeSlot(id string) (uint32, error) {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	for slot := range uint32(format.MemberSlots) {
		if s.st.slots[slot] != nil {
			continue
		}
		if _, mine := s.local[slot]; mine {
			continue
		}
		err := s.f.Lock(lockSlot(slot), 1, vfs.Exclusive, false)
		if errors.Is(err, vfs.ErrLocked) {
			continue
		}
		if err != nil {
			return 0, err
		}
		s.local[slot] = id
		s.joining[slot] = true
		return slot, nil
	}
	return 0, fmt.Errorf("%w: all %d are taken", ErrTooManyMembers, format.MemberSlots)
}

// dropSlot releases slot if this Store holds it.
func (s *Store) dropSlot(slot uint32) {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	if _, ok := s.local[slot]; ok {
		delete(s.local, slot)
		delete(s.joining, slot)
		_ = s.f.Unlock(lockSlot(slot), 1)
	}
}

// planTargetAndOwners checks the new target and owner changes against the
// members and owners the change leaves, and returns their operations.
func (s *Store) planTargetAndOwners(group string, generation int32, members map[string]bool, owners map[TopicPartition]string, change *GroupChange) ([]format.Op, error) {
	var ops []format.Op
	if change.Assign != nil {
		if len(members) == 0 {
			return nil, fmt.Errorf("spool: an assignment for group %s, which has no members", group)
		}
		op := format.GroupAssign{Group: group, Generation: generation}
		seen := map[partitionKey]bool{}
		for _, id := range slices.Sorted(maps.Keys(change.Assign)) {
			if !members[id] {
				return nil, fmt.Errorf("%w: %s in the assignment of group %s", ErrUnknownMember, id, group)
			}
			mt := format.MemberTarget{Member: id}
			for _, tp := range change.Assign[id] {
				k, err := s.key(tp.Topic, tp.Partition)
				if err != nil {
					return nil, err
				}
				if seen[k] {
					return nil, fmt.Errorf("spool: the assignment of group %s gives %s/%d twice", group, tp.Topic, tp.Partition)
				}
				seen[k] = true
				if n := len(mt.Partitions); n == 0 || mt.Partitions[n-1].Topic != k.topic {
					mt.Partitions = append(mt.Partitions, format.TopicPartitions{Topic: k.topic})
				}
				last := &mt.Partitions[len(mt.Partitions)-1]
				last.Partitions = append(last.Partitions, k.partition)
			}
			op.Targets = append(op.Targets, mt)
		}
		op.Assignor = change.Join.assignorOr(s.groupAssignor(group))
		ops = append(ops, op)
	}
	for _, o := range change.Own {
		k, err := s.key(o.Topic, o.Partition)
		if err != nil {
			return nil, err
		}
		cur, owned := owners[o.TopicPartition]
		switch {
		case o.Member == "" && !owned:
			return nil, fmt.Errorf("spool: group %s releases %s/%d, which nobody owns", group, o.Topic, o.Partition)
		case o.Member == "":
			delete(owners, o.TopicPartition)
		case !members[o.Member]:
			return nil, fmt.Errorf("%w: %s in group %s", ErrUnknownMember, o.Member, group)
		case owned:
			return nil, fmt.Errorf("%w: %s/%d of group %s is %s's", ErrNotOwner, o.Topic, o.Partition, group, cur)
		default:
			owners[o.TopicPartition] = o.Member
		}
		ops = append(ops, format.PartitionOwner{Group: group, Topic: k.topic, Partition: k.partition, Member: o.Member, Generation: generation})
	}
	return ops, nil
}

// assignorOr returns the joining member's assignor, or def without one.
func (m *GroupMember) assignorOr(def string) string {
	if m == nil {
		return def
	}
	return m.Assignor
}

// groupAssignor returns the assignor of group's members, or "".
func (s *Store) groupAssignor(group string) string {
	if g := s.st.groups[group]; g != nil {
		for _, m := range g.members {
			return m.assignor
		}
	}
	return ""
}
