package assign

import (
	"cmp"
	"slices"
)

// Member is one group member as an assignor sees it.
type Member struct {
	ID         string   // unique member id
	InstanceID string   // static membership id (group.instance.id), "" if none
	Topics     []string // the topics it subscribes to (any order, may repeat; treated as a set)
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Assignment maps a member id to the partitions it owns, each member's list
// sorted by topic then partition.
type Assignment map[string][]TopicPartition

// Assignor computes a group's assignment.
type Assignor interface {
	// Name is Kafka's protocol name: "range", "roundrobin", "sticky" or
	// "cooperative-sticky".
	Name() string
	// Cooperative reports whether partitions that keep their owner are never
	// revoked during a rebalance (true only for cooperative-sticky). The
	// two-phase hand-over itself is the group protocol's business.
	Cooperative() bool
	// Assign returns the new owner of every partition of the topics (name to
	// partition count) that at least one member subscribes to. prev is the
	// previous assignment; it may be nil and may name members that left and
	// partitions that no longer exist, which are ignored. The result is a
	// function of its inputs alone, whatever the order of members or of map
	// iteration. Every member is a key of the result; one that gets nothing
	// has an empty, non-nil list.
	//
	// Member ids should be unique; entries that repeat an id are merged into
	// one member subscribing to the union of their topics, with the least
	// non-empty instance id.
	Assign(members []Member, topics map[string]int32, prev Assignment) Assignment
}

// assignor is an Assignor built from a name and an assignment function.
type assignor struct {
	name        string
	cooperative bool
	assign      func(g *group, prev Assignment) Assignment
}

func (a assignor) Name() string      { return a.name }
func (a assignor) Cooperative() bool { return a.cooperative }

func (a assignor) Assign(members []Member, topics map[string]int32, prev Assignment) Assignment {
	return a.assign(newGroup(members, topics), prev)
}

var (
	// Range gives each member a contiguous range of every topic it
	// subscribes to ("range").
	Range Assignor = assignor{name: "range", assign: assignRange}
	// RoundRobin deals all subscribed partitions to the members in turn
	// ("roundrobin").
	RoundRobin Assignor = assignor{name: "roundrobin", assign: assignRoundRobin}
	// Sticky balances the partitions and keeps as many as it can with their
	// previous owners ("sticky").
	Sticky Assignor = assignor{name: "sticky", assign: assignSticky}
	// CooperativeSticky is Sticky for the cooperative protocol
	// ("cooperative-sticky"): the same assignment, Cooperative is true.
	CooperativeSticky Assignor = assignor{name: "cooperative-sticky", cooperative: true, assign: assignSticky}
)

// all lists the assignors in the order Names reports them.
var all = []Assignor{Range, RoundRobin, Sticky, CooperativeSticky}

// ByName returns the assignor with Kafka's protocol name name.
func ByName(name string) (Assignor, bool) {
	for _, a := range all {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// Names returns the protocol names of the assignors, in a fixed order.
func Names() []string {
	names := make([]string, len(all))
	for i, a := range all {
		names[i] = a.Name()
	}
	return names
}

// member is a Member with its subscription reduced to the topics that exist.
type member struct {
	id, instance string
	topics       map[string]bool
}

// group is an assignor's input, normalized: members merged by id and sorted
// in Kafka's order, subscriptions reduced to topics with partitions.
type group struct {
	members []*member
	topics  []string // the topics some member subscribes to, sorted
	counts  map[string]int32
}

func newGroup(members []Member, counts map[string]int32) *group {
	byID := make(map[string]*member, len(members))
	g := &group{counts: counts}
	for _, m := range members {
		gm := byID[m.ID]
		if gm == nil {
			gm = &member{id: m.ID, instance: m.InstanceID, topics: map[string]bool{}}
			byID[m.ID] = gm
			g.members = append(g.members, gm)
		} else if m.InstanceID != "" && (gm.instance == "" || m.InstanceID < gm.instance) {
			gm.instance = m.InstanceID
		}
		for _, t := range m.Topics {
			if counts[t] > 0 {
				gm.topics[t] = true
			}
		}
	}
	slices.SortFunc(g.members, compareMembers)
	seen := map[string]bool{}
	for _, m := range g.members {
		for t := range m.topics {
			if !seen[t] {
				seen[t] = true
				g.topics = append(g.topics, t)
			}
		}
	}
	slices.Sort(g.topics)
	return g
}

// compareMembers orders members as Kafka's AbstractPartitionAssignor.MemberInfo
// does: static members first, by instance id, then dynamic members by member
// id. The member id breaks ties between equal instance ids.
func compareMembers(a, b *member) int {
	switch {
	case a.instance != "" && b.instance != "":
		return cmp.Or(cmp.Compare(a.instance, b.instance), cmp.Compare(a.id, b.id))
	case a.instance != "":
		return -1
	case b.instance != "":
		return 1
	}
	return cmp.Compare(a.id, b.id)
}

// compareTopicPartitions orders partitions by topic, then partition.
func compareTopicPartitions(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// emptyAssignment returns an assignment with an empty list for every member.
func (g *group) emptyAssignment() Assignment {
	out := make(Assignment, len(g.members))
	for _, m := range g.members {
		out[m.id] = []TopicPartition{}
	}
	return out
}
