package spool

import (
	"slices"
	"time"
)

// GroupInfo is a consumer group's membership, as kafka-consumer-groups
// --describe --members shows it.
type GroupInfo struct {
	Name string
	// State is "Empty" (no members), "Stable" (every partition with the
	// member the assignment gives it) or "Rebalancing" (partitions on the
	// move), as Kafka names a group's state.
	State      string
	Generation int32
	Assignor   string
	Members    []MemberInfo // in the order they joined
}

// MemberInfo is one member of a group.
type MemberInfo struct {
	ID         string
	InstanceID string // static membership id, "" if none
	// Alive is set while the member's process holds its slot lock: a
	// member whose process died stays in the group only until another
	// member (or the next to join) notices, within a heartbeat interval.
	Alive     bool
	Heartbeat time.Time // its last heartbeat
	Topics    []string  // its subscription
	// Partitions are those it owns now, sorted.
	Partitions []TopicPartition
}

// Group returns a consumer group's membership; a group without members is
// Empty.
func (db *DB) Group(name string) (GroupInfo, error) {
	gs, err := db.s.Group(name)
	if err != nil {
		return GroupInfo{}, err
	}
	info := GroupInfo{Name: name, State: "Empty", Generation: gs.Generation, Assignor: gs.Assignor}
	if len(gs.Members) > 0 {
		info.State = "Stable"
		for tp, id := range gs.Target {
			if gs.Owners[tp].Member != id {
				info.State = "Rebalancing"
			}
		}
	}
	for _, m := range gs.Members {
		mi := MemberInfo{ID: m.ID, InstanceID: m.InstanceID, Alive: m.Alive, Heartbeat: m.Heartbeat, Topics: slices.Clone(m.Topics)}
		for tp, o := range gs.Owners {
			if o.Member == m.ID {
				mi.Partitions = append(mi.Partitions, TopicPartition(tp))
			}
		}
		slices.SortFunc(mi.Partitions, compareTPs)
		info.Members = append(info.Members, mi)
	}
	return info, nil
}
