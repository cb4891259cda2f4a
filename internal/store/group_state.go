package store

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// member is a group member as the journal knows it.
type member struct {
	group            string
	id               string
	instance         string
	slot             uint32
	assignor         string
	topics           []string
	sessionTimeout   int64 // milliseconds
	rebalanceTimeout int64 // milliseconds
	joined           int64 // Unix nanoseconds
	order            uint64
}

// owner is the member that owns a partition, and the generation it took it in.
type owner struct {
	member     string
	generation int32
}

// group returns the named group, creating it empty.
func (s *state) group(name string) *group {
	g := s.groups[name]
	if g == nil {
		g = &group{offsets: map[partitionKey]committed{}}
		s.groups[name] = g
	}
	return g
}

// dropEmpty forgets a group that has neither members nor offsets left.
func (s *state) dropEmpty(name string) {
	if g := s.groups[name]; g != nil && len(g.members) == 0 && len(g.offsets) == 0 {
		delete(s.groups, name)
	}
}

// dropTopic forgets everything g knows of a deleted topic.
func (g *group) dropTopic(id uint32, lsn uint64) {
	for k := range g.offsets {
		if k.topic == id {
			delete(g.offsets, k)
		}
	}
	for k := range g.target {
		if k.topic == id {
			delete(g.target, k)
			g.version = lsn
		}
	}
	for k := range g.owners {
		if k.topic == id {
			delete(g.owners, k)
			g.version = lsn
		}
	}
}

func (s *state) applyMemberJoin(o format.MemberJoin, lsn uint64) error {
	if o.Slot >= format.MemberSlots {
		return fmt.Errorf("member %s of group %s in slot %d, past the last", o.Member, o.Group, o.Slot)
	}
	g := s.group(o.Group)
	if g.members[o.Member] != nil {
		return fmt.Errorf("member %s joined group %s twice", o.Member, o.Group)
	}
	var replaced *member
	if o.Instance != "" {
		for _, m := range g.members {
			if m.instance == o.Instance {
				replaced = m
			}
		}
	}
	if m := s.slots[o.Slot]; m != nil && m != replaced {
		return fmt.Errorf("member %s of group %s in slot %d, which member %s of group %s holds", o.Member, o.Group, o.Slot, m.id, m.group)
	}
	if g.members == nil {
		g.members = map[string]*member{}
		g.target = map[partitionKey]string{}
		g.owners = map[partitionKey]owner{}
	}
	g.joins++
	m := &member{group: o.Group, id: o.Member, instance: o.Instance, slot: o.Slot, assignor: o.Assignor,
		topics: o.Topics, sessionTimeout: o.SessionTimeout, rebalanceTimeout: o.RebalanceTimeout, joined: o.Time, order: g.joins}
	if replaced != nil {
		// A static member coming back takes its predecessor's place: what
		// the generation gives it and what it owns, without a rebalance.
		g.removeMember(s, replaced)
		for k, id := range g.target {
			if id == replaced.id {
				g.target[k] = m.id
			}
		}
		for k, ow := range g.owners {
			if ow.member == replaced.id {
				g.owners[k] = owner{member: m.id, generation: ow.generation}
			}
		}
	}
	g.members[m.id] = m
	s.slots[m.slot] = m
	g.version = lsn
	return nil
}

// removeMember takes m out of g and of its slot, leaving its partitions as
// they are.
func (g *group) removeMember(s *state, m *member) {
	delete(g.members, m.id)
	if s.slots[m.slot] == m {
		delete(s.slots, m.slot)
	}
}

func (s *state) applyMemberLeave(o format.MemberLeave, lsn uint64) error {
	g := s.groups[o.Group]
	if g == nil || g.members[o.Member] == nil {
		return fmt.Errorf("unknown member %s left group %s", o.Member, o.Group)
	}
	g.removeMember(s, g.members[o.Member])
	for k, ow := range g.owners {
		if ow.member == o.Member {
			delete(g.owners, k)
		}
	}
	if len(g.members) == 0 {
		clear(g.target)
	}
	g.version = lsn
	s.dropEmpty(o.Group)
	return nil
}

func (s *state) applyGroupAssign(o format.GroupAssign, lsn uint64) error {
	g := s.groups[o.Group]
	if g == nil || len(g.members) == 0 {
		return fmt.Errorf("assignment for group %s, which has no members", o.Group)
	}
	if o.Generation <= g.generation {
		return fmt.Errorf("group %s assigned generation %d after %d", o.Group, o.Generation, g.generation)
	}
	target := map[partitionKey]string{}
	for _, mt := range o.Targets {
		if g.members[mt.Member] == nil {
			return fmt.Errorf("group %s generation %d assigns partitions to unknown member %s", o.Group, o.Generation, mt.Member)
		}
		for _, tp := range mt.Partitions {
			for _, p := range tp.Partitions {
				if _, err := s.partition(tp.Topic, p); err != nil {
					return err
				}
				k := partitionKey{tp.Topic, p}
				if _, dup := target[k]; dup {
					return fmt.Errorf("group %s generation %d assigns topic id %d partition %d twice", o.Group, o.Generation, tp.Topic, p)
				}
				target[k] = mt.Member
			}
		}
	}
	g.generation, g.assignor, g.target = o.Generation, o.Assignor, target
	g.version = lsn
	return nil
}

func (s *state) applyPartitionOwner(o format.PartitionOwner, lsn uint64) error {
	if _, err := s.partition(o.Topic, o.Partition); err != nil {
		return err
	}
	g := s.groups[o.Group]
	if g == nil || g.members == nil {
		return fmt.Errorf("owner change in group %s, which has no members", o.Group)
	}
	k := partitionKey{o.Topic, o.Partition}
	cur, owned := g.owners[k]
	switch {
	case o.Member == "" && !owned:
		return fmt.Errorf("group %s released topic id %d partition %d, which nobody owns", o.Group, o.Topic, o.Partition)
	case o.Member == "":
		delete(g.owners, k)
	case g.members[o.Member] == nil:
		return fmt.Errorf("unknown member %s of group %s took topic id %d partition %d", o.Member, o.Group, o.Topic, o.Partition)
	case owned:
		return fmt.Errorf("member %s of group %s took topic id %d partition %d, which %s owns", o.Member, o.Group, o.Topic, o.Partition, cur.member)
	default:
		g.owners[k] = owner{member: o.Member, generation: o.Generation}
	}
	g.version = lsn
	return nil
}

func (s *state) applyOffsetAcks(o format.OffsetAcks) error {
	g := s.groups[o.Group]
	k := partitionKey{o.Topic, o.Partition}
	c, ok := g.offsetOf(k)
	if !ok {
		return fmt.Errorf("acknowledged offsets for group %s topic id %d partition %d, which has no committed offset", o.Group, o.Topic, o.Partition)
	}
	prev := c.offset
	for _, r := range o.Ranges {
		if r.Start <= prev || r.End <= r.Start {
			return fmt.Errorf("acknowledged offsets [%d, %d) of group %s out of order above %d", r.Start, r.End, o.Group, prev)
		}
		prev = r.End
	}
	c.acked = slices.Clone(o.Ranges)
	g.offsets[k] = c
	return nil
}

// offsetOf returns g's committed offset for k; g may be nil.
func (g *group) offsetOf(k partitionKey) (committed, bool) {
	if g == nil {
		return committed{}, false
	}
	c, ok := g.offsets[k]
	return c, ok
}

func comparePartitionKeys(a, b partitionKey) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// appendGroup encodes a group for a checkpoint: its offsets, then its
// members in the order they joined, its target, and its owners.
func appendGroup(b []byte, name string, g *group) []byte {
	for _, k := range slices.SortedFunc(maps.Keys(g.offsets), comparePartitionKeys) {
		c := g.offsets[k]
		b = format.AppendOp(b, format.OffsetCommit{Group: name, Topic: k.topic, Partition: k.partition, Offset: c.offset,
			LeaderEpoch: c.leaderEpoch, Metadata: c.metadata, Time: c.time})
		if len(c.acked) != 0 {
			b = format.AppendOp(b, format.OffsetAcks{Group: name, Topic: k.topic, Partition: k.partition, Ranges: c.acked})
		}
	}
	members := slices.SortedFunc(maps.Values(g.members), func(a, b *member) int { return cmp.Compare(a.order, b.order) })
	for _, m := range members {
		b = format.AppendOp(b, format.MemberJoin{Group: name, Member: m.id, Instance: m.instance, Slot: m.slot,
			Assignor: m.assignor, Topics: m.topics, SessionTimeout: m.sessionTimeout, RebalanceTimeout: m.rebalanceTimeout, Time: m.joined})
	}
	if len(members) == 0 || g.generation == 0 {
		return b
	}
	b = format.AppendOp(b, format.GroupAssign{Group: name, Generation: g.generation, Assignor: g.assignor, Targets: g.targets()})
	for _, k := range slices.SortedFunc(maps.Keys(g.owners), comparePartitionKeys) {
		ow := g.owners[k]
		b = format.AppendOp(b, format.PartitionOwner{Group: name, Topic: k.topic, Partition: k.partition, Member: ow.member, Generation: ow.generation})
	}
	return b
}

// targets encodes g's target: members by id, topics and partitions ascending.
func (g *group) targets() []format.MemberTarget {
	byMember := map[string][]partitionKey{}
	for k, id := range g.target {
		byMember[id] = append(byMember[id], k)
	}
	var out []format.MemberTarget
	for _, id := range slices.Sorted(maps.Keys(byMember)) {
		keys := byMember[id]
		slices.SortFunc(keys, comparePartitionKeys)
		mt := format.MemberTarget{Member: id}
		for _, k := range keys {
			if n := len(mt.Partitions); n == 0 || mt.Partitions[n-1].Topic != k.topic {
				mt.Partitions = append(mt.Partitions, format.TopicPartitions{Topic: k.topic})
			}
			last := &mt.Partitions[len(mt.Partitions)-1]
			last.Partitions = append(last.Partitions, k.partition)
		}
		out = append(out, mt)
	}
	return out
}
