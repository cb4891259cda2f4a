package format

import "encoding/binary"

// The operations of consumer-group membership: who is in a group, which
// partitions the group's current generation gives each member (the target),
// which member owns each partition now, and which offsets above a committed
// offset are already acknowledged.
//
// A member joins with MemberJoin and leaves (or is removed) with MemberLeave;
// a change of members or of the subscribed partitions is followed, in the
// same record, by a GroupAssign of the next generation. A member takes a
// partition the target gives it with PartitionOwner once nobody owns it, and
// hands it back with a PartitionOwner naming no member, in the record that
// commits its final offset there.

// MemberJoin adds a member to a group. A member whose Instance names a static
// member already in the group takes that member's place, its target and the
// partitions it owns.
type MemberJoin struct {
	Group            string
	Member           string // member id, unique in the file
	Instance         string // static membership id, "" if none
	Slot             uint32 // member slot: its lock and heartbeat word
	Assignor         string
	Topics           []string // the subscription
	SessionTimeout   int64    // milliseconds
	RebalanceTimeout int64    // milliseconds
	Time             int64    // Unix nanoseconds
}

// LeaveReason says why a member left its group.
type LeaveReason uint8

// The reasons a member leaves. Values are part of the format.
const (
	LeaveClosed       LeaveReason = 0 // the member left, or its process ended the membership
	LeaveDied         LeaveReason = 1 // its process died: its slot lock was free
	LeaveSession      LeaveReason = 2 // no heartbeat within the session timeout
	LeavePollInterval LeaveReason = 3 // it did not poll within the maximum poll interval
	LeaveReplaced     LeaveReason = 4 // a new member with the same instance id took its place
)

// MemberLeave removes a member from a group; the partitions it owned have no
// owner from here on.
type MemberLeave struct {
	Group  string
	Member string
	Reason LeaveReason
}

// MemberTarget is one member's part of a GroupAssign.
type MemberTarget struct {
	Member     string
	Partitions []TopicPartitions
}

// TopicPartitions is a set of partitions of one topic.
type TopicPartitions struct {
	Topic      uint32
	Partitions []uint32
}

// GroupAssign replaces a group's target assignment with that of Generation.
type GroupAssign struct {
	Group      string
	Generation int32
	Assignor   string
	Targets    []MemberTarget
}

// PartitionOwner makes Member the owner of a partition for a group, or, with
// Member empty, leaves the partition without an owner. Generation is the
// group's generation when the member took it.
type PartitionOwner struct {
	Group      string
	Topic      uint32
	Partition  uint32
	Member     string
	Generation int32
}

// OffsetAcks records the offsets above a group's committed offset in a
// partition that are acknowledged already, as ranges [Start, End); it
// follows the partition's OffsetCommit in the same record, and replaces the
// acknowledged set that commit left empty. Ranges are ascending, disjoint,
// non-empty, and start above the committed offset.
type OffsetAcks struct {
	Group     string
	Topic     uint32
	Partition uint32
	Ranges    []OffsetRange
}

// OffsetRange is the offsets [Start, End).
type OffsetRange struct{ Start, End int64 }

func (MemberJoin) Type() OpType     { return OpMemberJoin }
func (MemberLeave) Type() OpType    { return OpMemberLeave }
func (GroupAssign) Type() OpType    { return OpGroupAssign }
func (PartitionOwner) Type() OpType { return OpPartitionOwner }
func (OffsetAcks) Type() OpType     { return OpOffsetAcks }

func (o MemberJoin) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = appendStr(b, o.Member)
	b = appendStr(b, o.Instance)
	b = binary.AppendUvarint(b, uint64(o.Slot))
	b = appendStr(b, o.Assignor)
	b = binary.AppendUvarint(b, uint64(len(o.Topics)))
	for _, t := range o.Topics {
		b = appendStr(b, t)
	}
	b = binary.AppendVarint(b, o.SessionTimeout)
	b = binary.AppendVarint(b, o.RebalanceTimeout)
	return binary.AppendVarint(b, o.Time)
}

func (o MemberLeave) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = appendStr(b, o.Member)
	return append(b, byte(o.Reason))
}

func (o GroupAssign) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = binary.AppendVarint(b, int64(o.Generation))
	b = appendStr(b, o.Assignor)
	b = binary.AppendUvarint(b, uint64(len(o.Targets)))
	for _, m := range o.Targets {
		b = appendStr(b, m.Member)
		b = binary.AppendUvarint(b, uint64(len(m.Partitions)))
		for _, tp := range m.Partitions {
			b = binary.AppendUvarint(b, uint64(tp.Topic))
			b = appendU32s(b, tp.Partitions)
		}
	}
	return b
}

func (o PartitionOwner) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	b = appendStr(b, o.Member)
	return binary.AppendVarint(b, int64(o.Generation))
}

// The ranges are encoded as deltas: each start from the previous range's end,
// each end from its start, so that a set of small gaps costs a few bytes.
func (o OffsetAcks) appendPayload(b []byte) []byte {
	b = appendStr(b, o.Group)
	b = binary.AppendUvarint(b, uint64(o.Topic))
	b = binary.AppendUvarint(b, uint64(o.Partition))
	b = binary.AppendUvarint(b, uint64(len(o.Ranges)))
	prev := int64(0)
	for _, r := range o.Ranges {
		b = binary.AppendVarint(b, r.Start-prev)
		b = binary.AppendVarint(b, r.End-r.Start)
		prev = r.End
	}
	return b
}

func decodeMemberJoin(d *opDecoder) MemberJoin {
	o := MemberJoin{Group: d.str("group"), Member: d.str("member"), Instance: d.str("instance"),
		Slot: d.u32("slot"), Assignor: d.str("assignor")}
	n := d.count("topics", 1)
	for range n {
		o.Topics = append(o.Topics, d.str("topic"))
	}
	o.SessionTimeout = d.varint("session timeout")
	o.RebalanceTimeout = d.varint("rebalance timeout")
	o.Time = d.varint("time")
	return o
}

func decodeGroupAssign(d *opDecoder) GroupAssign {
	o := GroupAssign{Group: d.str("group"), Generation: d.i32("generation"), Assignor: d.str("assignor")}
	members := d.count("members", 2)
	for range members {
		m := MemberTarget{Member: d.str("member")}
		topics := d.count("topics", 2)
		for range topics {
			m.Partitions = append(m.Partitions, TopicPartitions{Topic: d.u32("topic id"), Partitions: d.u32s("partitions")})
		}
		o.Targets = append(o.Targets, m)
	}
	return o
}

func decodeOffsetAcks(d *opDecoder) OffsetAcks {
	o := OffsetAcks{Group: d.str("group"), Topic: d.u32("topic id"), Partition: d.u32("partition")}
	n := d.count("ranges", 2)
	prev := int64(0)
	for range n {
		start := prev + d.varint("range start")
		end := start + d.varint("range length")
		o.Ranges = append(o.Ranges, OffsetRange{Start: start, End: end})
		prev = end
	}
	return o
}
