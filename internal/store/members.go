package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spooldb/spool/internal/format"
)

// LeaveReason says why a member left its group.
type LeaveReason = format.LeaveReason

// The reasons a member leaves its group.
const (
	LeaveClosed       = format.LeaveClosed
	LeaveDied         = format.LeaveDied
	LeaveSession      = format.LeaveSession
	LeavePollInterval = format.LeavePollInterval
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Compare orders partitions by topic, then partition number.
func (tp TopicPartition) Compare(o TopicPartition) int {
	return cmp.Or(strings.Compare(tp.Topic, o.Topic), cmp.Compare(tp.Partition, o.Partition))
}

// GroupMember is a member of a consumer group.
type GroupMember struct {
	ID               string
	InstanceID       string // static membership id, "" if none
	Slot             uint32
	Assignor         string
	Topics           []string // the subscription
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	Joined           time.Time

	// Local is set for a member that joined through this Store.
	Local bool
	// Alive is set while the member's process holds its slot lock: always
	// for a local member; for another process's, until that process dies.
	Alive bool
	// Heartbeat is the member's last heartbeat; zero if it has made none
	// since the file was last opened by a process alone.
	Heartbeat time.Time
}

// Ownership is the member that owns a partition, and the generation in
// which it took it.
type Ownership struct {
	Member     string
	Generation int32
}

// GroupState is a consumer group's membership as of one journal record.
type GroupState struct {
	Name       string
	Assignor   string // of the last assignment
	Generation int32
	Members    []GroupMember // in the order they joined
	// Target is what the generation gives each partition.
	Target map[TopicPartition]string
	// Owners is the member that owns each partition now; a partition that
	// moves is released by its old owner before the new one takes it.
	Owners map[TopicPartition]Ownership
	// Partitions is the partition count of every topic, for the assignor
	// (which assigns those its members subscribe to); it holds the topics
	// of a member about to join too.
	Partitions map[string]int32
	// Version changes whenever membership, target or owners change.
	Version uint64
}

// Member returns the member with id, or nil.
func (g *GroupState) Member(id string) *GroupMember {
	for i := range g.Members {
		if g.Members[i].ID == id {
			return &g.Members[i]
		}
	}
	return nil
}

// Leave is a member leaving its group, and why.
type Leave struct {
	Member string
	Reason LeaveReason
}

// Own makes Member the owner of a partition, or releases it (Member "").
type Own struct {
	TopicPartition
	Member string
}

// GroupChange is a change of a group committed in one journal record, in
// this order: members leave, a member joins, the target is replaced, owners
// change, offsets are committed.
type GroupChange struct {
	Leave []Leave
	// Join adds a member: ID, InstanceID, Assignor, Topics and the timeouts
	// are the caller's; the store gives it a free slot, takes the slot's
	// lock and makes its first heartbeat.
	Join *GroupMember
	// Assign, when not nil, is the target of the next generation: the
	// partitions of each member.
	Assign map[string][]TopicPartition
	Own    []Own
	// Offsets are committed with the change; each names the group, and
	// those with a Member are fenced as in Txn.
	Offsets []Offset
}

// IsEmpty reports whether the change changes nothing.
func (c *GroupChange) IsEmpty() bool {
	return len(c.Leave) == 0 && c.Join == nil && c.Assign == nil && len(c.Own) == 0 && len(c.Offsets) == 0
}

// GroupVersion returns a number that changes whenever group's membership,
// target or owners change: a cheap test of whether to look again.
func (s *Store) GroupVersion(group string) (uint64, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if g := s.st.groups[group]; g != nil {
		return g.version, nil
	}
	return 0, nil
}

// Group returns group's membership, probing the slot lock of every member
// of another process to tell whether it is alive. A group that does not
// exist has no members.
func (s *Store) Group(group string) (GroupState, error) {
	if err := s.readable(); err != nil {
		return GroupState{}, err
	}
	s.mu.RLock()
	g := s.groupState(group)
	s.mu.RUnlock()
	s.forgetLost()
	return g, s.probe(&g)
}

// groupState copies group's membership out of the state; the caller holds
// s.mu.
func (s *Store) groupState(name string) GroupState {
	gs := GroupState{Name: name, Target: map[TopicPartition]string{}, Owners: map[TopicPartition]Ownership{},
		Partitions: map[string]int32{}}
	for name, t := range s.st.byName {
		gs.Partitions[name] = int32(len(t.partitions))
	}
	g := s.st.groups[name]
	if g == nil {
		return gs
	}
	gs.Assignor, gs.Generation, gs.Version = g.assignor, g.generation, g.version
	members := slices.SortedFunc(maps.Values(g.members), func(a, b *member) int { return cmp.Compare(a.order, b.order) })
	for _, m := range members {
		gs.Members = append(gs.Members, GroupMember{ID: m.id, InstanceID: m.instance, Slot: m.slot, Assignor: m.assignor,
			Topics: m.topics, SessionTimeout: time.Duration(m.sessionTimeout) * time.Millisecond,
			RebalanceTimeout: time.Duration(m.rebalanceTimeout) * time.Millisecond, Joined: time.Unix(0, m.joined)})
	}
	for k, id := range g.target {
		gs.Target[s.topicPartition(k)] = id
	}
	for k, ow := range g.owners {
		gs.Owners[s.topicPartition(k)] = Ownership{Member: ow.member, Generation: ow.generation}
	}
	return gs
}

func (s *Store) topicPartition(k partitionKey) TopicPartition {
	return TopicPartition{Topic: s.st.topics[k.topic].name, Partition: int32(k.partition)}
}

// probe fills in the liveness of g's members.
func (s *Store) probe(g *GroupState) error {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	for i := range g.Members {
		m := &g.Members[i]
		if ms := s.members.heartbeat(m.Slot); ms != 0 {
			m.Heartbeat = time.UnixMilli(ms)
		}
		if s.local[m.Slot] == m.ID {
			m.Local, m.Alive = true, true
			continue
		}
		held, err := s.slotHeld(m.Slot)
		if err != nil {
			return err
		}
		m.Alive = held
	}
	return nil
}

// forgetLost drops the slot locks of this Store's members that are no
// longer in their group: another process removed them (their session timed
// out while this one was stopped), and the slot is theirs no more.
func (s *Store) forgetLost() {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for slot, id := range s.local {
		if m := s.st.slots[slot]; !s.joining[slot] && (m == nil || m.id != id) {
			delete(s.local, slot)
			_ = s.f.Unlock(lockSlot(slot), 1)
		}
	}
}

// Detach releases the slot lock of a member of this Store without taking
// the member out of its group, as when its process ends: the member's
// heartbeats stop, and other members see its process gone. A static
// member's successor takes its place by joining with its instance id.
func (s *Store) Detach(slot uint32) { s.dropSlot(slot) }

// Heartbeat records that the member in slot is alive now.
func (s *Store) Heartbeat(slot uint32) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if slot >= format.MemberSlots {
		return fmt.Errorf("spool: member slot %d out of range", slot)
	}
	s.members.beat(slot, s.opts.Now().UnixMilli())
	return nil
}

// UpdateGroup commits the change fn returns for group, computed from the
// group's state as of the commit: fn runs on the writer, after every record
// before, with the liveness of members probed; it may change the state it
// is given, which is a copy. A change that is empty writes nothing. fn must
// not block; an error from it fails the update without writing. UpdateGroup returns the group's state after the change.
func (s *Store) UpdateGroup(ctx context.Context, group string, durability Durability, fn func(*GroupState) (GroupChange, error)) (GroupState, error) {
	if err := ValidGroup(group); err != nil {
		return GroupState{}, err
	}
	var after GroupState
	r := &request{estimate: s.maxRecordOps(), durability: durability, plan: func(w *batchWriter) error {
		s.mu.RLock()
		before := s.groupState(group)
		s.mu.RUnlock()
		if err := s.probe(&before); err != nil {
			return err
		}
		change, err := fn(&before)
		if err != nil {
			return err
		}
		if err := w.planGroupChange(group, &change); err != nil {
			return err
		}
		s.mu.RLock()
		after = s.groupState(group)
		s.mu.RUnlock()
		return s.probe(&after)
	}}
	if err := s.submit(ctx, r); err != nil {
		return GroupState{}, err
	}
	return after, nil
}
