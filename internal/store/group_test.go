package store

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// join adds member id to group g of s with the target assign, taking every
// unowned partition the target gives it.
func join(t *testing.T, s *Store, g, id, instance string, assign func(*GroupState) map[string][]TopicPartition) GroupState {
	t.Helper()
	st, err := s.UpdateGroup(ctx, g, DurabilitySync, func(gs *GroupState) (GroupChange, error) {
		c := GroupChange{Join: &GroupMember{ID: id, InstanceID: instance, Assignor: "range", Topics: []string{"t"},
			SessionTimeout: 10 * time.Second, RebalanceTimeout: time.Minute}}
		// The assignment sees the member as joined.
		gs.Members = append(gs.Members, *c.Join)
		c.Assign = assign(gs)
		return c, nil
	})
	if err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	return st
}

// allTo gives every partition of t to the first member.
func allTo(parts int32) func(*GroupState) map[string][]TopicPartition {
	return func(gs *GroupState) map[string][]TopicPartition {
		m := map[string][]TopicPartition{}
		for _, mem := range gs.Members {
			m[mem.ID] = nil
		}
		for p := range parts {
			m[gs.Members[0].ID] = append(m[gs.Members[0].ID], TopicPartition{"t", p})
		}
		return m
	}
}

func own(t *testing.T, s *Store, g string, owns ...Own) {
	t.Helper()
	if _, err := s.UpdateGroup(ctx, g, DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Own: owns}, nil
	}); err != nil {
		t.Fatalf("own %v: %v", owns, err)
	}
}

func TestGroupMembershipSurvivesReopenAndCheckpoint(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		fs := vfs.NewMem()
		opts := memOpts(fs)
		if ckpt {
			opts.CheckpointBytes = 1 // every commit checkpoints
		}
		s := openTopic(t, "f", opts, 3)
		join(t, s, "g", "m1", "", allTo(3))
		join(t, s, "g", "m2", "static-2", allTo(3))
		own(t, s, "g", Own{TopicPartition{"t", 0}, "m1"}, Own{TopicPartition{"t", 2}, "m1"})
		if _, err := s.Commit(ctx, &Txn{Offsets: []Offset{{Group: "g", Topic: "t", Partition: 0, Offset: 5,
			Acked: []OffsetRange{{Start: 7, End: 9}, {Start: 12, End: 13}}, Member: "m1"}}}); err != nil {
			t.Fatal(err)
		}
		before, err := s.Group("g")
		if err != nil {
			t.Fatal(err)
		}
		offsetsBefore, _ := s.GroupOffsets("g")
		if before.Generation != 2 || len(before.Members) != 2 || before.Owners[TopicPartition{"t", 2}].Member != "m1" {
			t.Fatalf("checkpoint %v: %+v", ckpt, before)
		}
		if !before.Members[0].Local || !before.Members[0].Alive || before.Members[0].Heartbeat.IsZero() {
			t.Fatalf("a member of this store is not local, alive and beating: %+v", before.Members[0])
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, "f", opts)
		after, err := s.Group("g")
		if err != nil {
			t.Fatal(err)
		}
		offsetsAfter, _ := s.GroupOffsets("g")
		// The members' processes are gone: the reopened file knows them,
		// dead, with their heartbeats cleared.
		before.Version, after.Version = 0, 0 // a count of changes, not state
		for i := range before.Members {
			m := &before.Members[i]
			m.Local, m.Alive, m.Heartbeat = false, false, time.Time{}
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("checkpoint %v: reopened group\n%+v\nwas\n%+v", ckpt, after, before)
		}
		if !reflect.DeepEqual(offsetsBefore, offsetsAfter) || len(offsetsAfter[0].Acked) != 2 {
			t.Fatalf("checkpoint %v: offsets %+v, were %+v", ckpt, offsetsAfter, offsetsBefore)
		}
		s.Close()
	}
}

func TestGroupFencing(t *testing.T) {
	fs := vfs.NewMem()
	s := openWithTopic(t, fs, 2)
	defer s.Close()
	join(t, s, "g", "m1", "", allTo(2))
	own(t, s, "g", Own{TopicPartition{"t", 0}, "m1"})
	commit := func(o Offset) error {
		_, err := s.Commit(ctx, &Txn{Offsets: []Offset{o}})
		return err
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 1, Offset: 1, Member: "m1"}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("commit for a partition the member does not own: %v", err)
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 0, Offset: 1, Member: "ghost"}); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("commit of an unknown member: %v", err)
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 0, Offset: 1}); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("commit from outside a group with a live member: %v", err)
	}
	if err := s.DeleteGroup(ctx, "g"); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("delete of a group with a live member: %v", err)
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 0, Offset: 3, Acked: []OffsetRange{{Start: 3, End: 4}}, Member: "m1"}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("acknowledged range at the committed offset: %v", err)
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 0, Offset: 3, Member: "m1"}); err != nil {
		t.Fatal(err)
	}
	// Taking a partition somebody owns, or releasing one nobody owns, is refused.
	if _, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Own: []Own{{TopicPartition{"t", 0}, "m1"}}}, nil
	}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("taking an owned partition: %v", err)
	}
	if _, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Own: []Own{{TopicPartition{"t", 1}, ""}}}, nil
	}); err == nil {
		t.Fatal("releasing a partition nobody owns succeeded")
	}
	// The final commit and the release in one record, then leaving.
	st, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Offsets: []Offset{{Group: "g", Topic: "t", Partition: 0, Offset: 4, Member: "m1"}},
			Own: []Own{{TopicPartition{"t", 0}, ""}}}, nil
	})
	if err != nil || len(st.Owners) != 0 {
		t.Fatalf("release with the final commit: %+v, %v", st, err)
	}
	if _, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Leave: []Leave{{Member: "m1", Reason: LeaveClosed}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := s.CommittedOffset("g", "t", 0); c.Offset != 4 {
		t.Fatalf("committed %d, want 4", c.Offset)
	}
	if err := commit(Offset{Group: "g", Topic: "t", Partition: 0, Offset: 0}); err != nil {
		t.Fatalf("commit from outside an empty group: %v", err)
	}
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
}

// TestGroupMemberDeathSeenThroughLock: a member of another open file is
// alive while that file holds its slot lock, and dead the moment it closes
// without leaving, as when its process is killed.
func TestGroupMemberDeathSeenThroughLock(t *testing.T) {
	fs := vfs.NewMem()
	a := openWithTopic(t, fs, 2)
	defer a.Close()
	b := mustOpen(t, "f", memOpts(fs))
	join(t, b, "g", "mb", "", allTo(2))
	st, err := a.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Member("mb"); m == nil || m.Local || !m.Alive {
		t.Fatalf("member of the other file: %+v", m)
	}
	if err := a.DeleteGroup(ctx, "g"); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("delete while the other file's member lives: %v", err)
	}
	b.Close() // no leave: the member's process is gone
	st, err = a.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Member("mb"); m == nil || m.Alive {
		t.Fatalf("member of a closed file: %+v", m)
	}
	// Its slot is free for a new member, whose slot differs from nothing
	// still held; and the dead member leaves with the group's deletion.
	join(t, a, "h", "ma", "", allTo(2))
	if err := a.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
}

func TestGroupStaticMemberTakesItsPlace(t *testing.T) {
	fs := vfs.NewMem()
	s := openWithTopic(t, fs, 2)
	defer s.Close()
	join(t, s, "g", "m1", "web-1", allTo(2))
	join(t, s, "g", "m2", "", allTo(2))
	own(t, s, "g", Own{TopicPartition{"t", 1}, "m1"})
	st, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Join: &GroupMember{ID: "m3", InstanceID: "web-1", Assignor: "range", Topics: []string{"t"}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Member("m1") != nil || st.Member("m3") == nil || st.Owners[TopicPartition{"t", 1}].Member != "m3" ||
		st.Target[TopicPartition{"t", 0}] != "m3" || st.Generation != 2 {
		t.Fatalf("after the static member's return: %+v", st)
	}
	if _, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(*GroupState) (GroupChange, error) {
		return GroupChange{Join: &GroupMember{ID: "m4", Assignor: "roundrobin", Topics: []string{"t"}}}, nil
	}); !errors.Is(err, ErrInconsistentAssignor) {
		t.Fatalf("a member with another assignor: %v", err)
	}
}

// TestGroupPowerLoss changes a group at random (members join and leave,
// targets change, partitions are taken and released, offsets with
// acknowledged ranges are committed, checkpoints are taken) with every
// change synchronous, then loses power: the file must open with the group
// exactly as the last change left it.
func TestGroupPowerLoss(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	for round := range 40 {
		fs := vfs.NewMem()
		opts := memOpts(fs)
		opts.CheckpointBytes = int64(1 + rng.IntN(4096))
		s := openTopic(t, "f", opts, 4)
		next := 0
		var want GroupState
		var wantOffsets []Committed
		for step := range 30 {
			st, err := s.UpdateGroup(ctx, "g", DurabilitySync, func(gs *GroupState) (GroupChange, error) {
				return randomGroupChange(rng, gs, &next), nil
			})
			if err != nil {
				t.Fatalf("seed %d round %d step %d: %v", seed, round, step, err)
			}
			want = st
			wantOffsets, _ = s.GroupOffsets("g")
		}
		crashed := fs.Crash(rng)
		s.Close()
		s2, err := Open("f", memOpts(crashed))
		if err != nil {
			t.Fatalf("seed %d round %d: reopen after power loss: %v", seed, round, err)
		}
		got, err := s2.Group("g")
		if err != nil {
			t.Fatal(err)
		}
		gotOffsets, _ := s2.GroupOffsets("g")
		s2.Close()
		want.Version, got.Version = 0, 0
		for i := range want.Members {
			m := &want.Members[i]
			m.Local, m.Alive, m.Heartbeat = false, false, time.Time{}
		}
		if len(want.Members) == 0 {
			want.Members = nil
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("seed %d round %d: group after power loss\n%+v\nwant\n%+v", seed, round, got, want)
		}
		if !reflect.DeepEqual(wantOffsets, gotOffsets) {
			t.Fatalf("seed %d round %d: offsets after power loss %+v, want %+v", seed, round, gotOffsets, wantOffsets)
		}
	}
}

// randomGroupChange returns a valid change of gs: a join, a leave, a new
// target, takes and releases, and offset commits with acknowledged ranges.
func randomGroupChange(rng *rand.Rand, gs *GroupState, next *int) GroupChange {
	var c GroupChange
	alive := map[string]bool{}
	for _, m := range gs.Members {
		alive[m.ID] = true
	}
	switch {
	case len(gs.Members) == 0 || len(gs.Members) < 4 && rng.IntN(3) == 0:
		*next++
		id := fmt.Sprintf("m%d", *next)
		c.Join = &GroupMember{ID: id, Assignor: "range", Topics: []string{"t"}}
		alive[id] = true
	case len(gs.Members) > 1 && rng.IntN(4) == 0:
		id := gs.Members[rng.IntN(len(gs.Members))].ID
		c.Leave = []Leave{{Member: id, Reason: LeaveReason(rng.IntN(4))}}
		delete(alive, id)
	}
	ids := slices.Sorted(maps.Keys(alive))
	owners := map[TopicPartition]string{}
	for tp, o := range gs.Owners {
		if alive[o.Member] {
			owners[tp] = o.Member
		}
	}
	if c.Join != nil || len(c.Leave) > 0 || rng.IntN(3) == 0 {
		c.Assign = map[string][]TopicPartition{}
		for _, id := range ids {
			c.Assign[id] = nil
		}
		for p := range int32(4) {
			id := ids[rng.IntN(len(ids))]
			c.Assign[id] = append(c.Assign[id], TopicPartition{"t", p})
		}
	}
	for p := range int32(4) {
		tp := TopicPartition{"t", p}
		owner, owned := owners[tp]
		switch {
		case owned && rng.IntN(3) == 0:
			off := rng.Int64N(1000)
			o := Offset{Group: "g", Topic: "t", Partition: p, Offset: off, Member: owner}
			for start := off + 1 + rng.Int64N(5); rng.IntN(2) == 0; start += 1 + rng.Int64N(5) {
				end := start + 1 + rng.Int64N(5)
				o.Acked = append(o.Acked, OffsetRange{Start: start, End: end})
				start = end
			}
			c.Offsets = append(c.Offsets, o)
			if rng.IntN(2) == 0 {
				c.Own = append(c.Own, Own{tp, ""})
			}
		case !owned && rng.IntN(2) == 0:
			c.Own = append(c.Own, Own{tp, ids[rng.IntN(len(ids))]})
		}
	}
	return c
}

// TestOffsetAndAcksSeenTogether: a reader in the writing process never sees
// an offset commit without the acknowledged ranges committed with it.
func TestOffsetAndAcksSeenTogether(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 1)
	defer s.Close()
	done := make(chan struct{})
	torn := make(chan Committed, 1)
	go func() {
		defer close(torn)
		for {
			select {
			case <-done:
				return
			default:
			}
			if c, ok, _ := s.CommittedOffset("g", "t", 0); ok && len(c.Acked) == 0 {
				torn <- c
				return
			}
		}
	}()
	for i := range int64(2000) {
		if _, err := s.Commit(ctx, &Txn{Durability: DurabilityNone, Offsets: []Offset{{Group: "g", Topic: "t", Offset: i,
			Acked: []OffsetRange{{Start: i + 2, End: i + 3}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if c, ok := <-torn; ok {
		t.Fatalf("a reader saw committed offset %d without its acknowledged ranges", c.Offset)
	}
}
