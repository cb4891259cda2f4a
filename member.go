package spool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/internal/assign"
	"github.com/spooldb/spool/internal/store"
)

// member is a consumer's membership in its group. Its loop heartbeats,
// watches the group in the file, removes members whose processes died or
// stopped beating, keeps the group's target equal to what the assignor
// makes of the members and partitions, and takes the partitions the target
// gives it once their old owner has let go. Letting go is the consumer's
// part (see rebalance.go): only it knows how far it got.
//
// Every member of every process runs the same loop over the same journal,
// and every change goes through Store.UpdateGroup, which re-reads the group
// under the writer lock: two members that see the same dead member, or the
// same new partition, make one change between them.
type member struct {
	s        *store.Store
	group    string
	assignor assign.Assignor
	opts     ConsumerOptions
	topics   []string

	id   atomic.Pointer[string] // the member id; changes when it rejoins
	slot atomic.Uint32

	lastPoll atomic.Int64 // Unix nanoseconds of the consumer's last poll
	inPoll   atomic.Int32 // polls under way

	mu    sync.Mutex
	state store.GroupState // as of the last tick
	lost  bool             // the group no longer has this member

	wake    chan struct{} // asks the loop for a tick now
	changed chan struct{} // tells the consumer that state changed
	stop    chan struct{}
	done    chan struct{}
}

// newMemberID returns a member id unique in the file: Kafka's consumers use
// client id, a dash and a UUID; spool uses the group's name likewise.
func newMemberID(group string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return group + "-" + hex.EncodeToString(b[:])
}

// joinGroup makes a new member of opts.Group subscribed to topics and starts
// its loop.
func joinGroup(ctx context.Context, s *store.Store, opts ConsumerOptions, topics []string) (*member, error) {
	a, ok := assign.ByName(opts.Assignor)
	if !ok {
		return nil, errors.New("spool: unknown assignor " + opts.Assignor + "; spool has " + joinNames(assign.Names()))
	}
	m := &member{s: s, group: opts.Group, assignor: a, opts: opts, topics: topics,
		wake: make(chan struct{}, 1), changed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	m.lastPoll.Store(time.Now().UnixNano())
	if err := m.join(ctx); err != nil {
		return nil, err
	}
	go m.loop()
	return m, nil
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// join adds the member to the group under a new id, with the target the
// assignor makes of the group with it.
func (m *member) join(ctx context.Context) error {
	id := newMemberID(m.group)
	gs, err := m.s.UpdateGroup(ctx, m.group, store.Durability(m.opts.Durability), func(gs *store.GroupState) (store.GroupChange, error) {
		c := m.maintain(gs, time.Now())
		c.Join = &store.GroupMember{ID: id, InstanceID: m.opts.InstanceID, Assignor: m.assignor.Name(), Topics: m.topics,
			SessionTimeout: m.opts.SessionTimeout, RebalanceTimeout: m.opts.RebalanceTimeout}
		if static := m.staticPredecessor(gs); static != "" {
			// It takes its predecessor's place and partitions, whether or
			// not the predecessor timed out: no rebalance.
			c.Leave = slices.DeleteFunc(c.Leave, func(l store.Leave) bool { return l.Member == static })
			c.Assign = nil
			return c, nil
		}
		m.applyLeaves(gs, c.Leave)
		gs.Members = append(gs.Members, *c.Join)
		c.Assign = m.target(gs)
		return c, nil
	})
	if err != nil {
		return err
	}
	me := gs.Member(id)
	if me == nil {
		return errors.New("spool: internal error: the member is not in its group after joining")
	}
	m.id.Store(&id)
	m.slot.Store(me.Slot)
	m.mu.Lock()
	m.state, m.lost = gs, false
	m.mu.Unlock()
	return nil
}

// staticPredecessor returns the id of the member with this member's
// instance id, if any.
func (m *member) staticPredecessor(gs *store.GroupState) string {
	if m.opts.InstanceID == "" {
		return ""
	}
	for _, o := range gs.Members {
		if o.InstanceID == m.opts.InstanceID {
			return o.ID
		}
	}
	return ""
}

// polling records that a poll starts or ends: a member is never too long
// without polling while a poll waits.
func (m *member) polling(start bool) {
	m.lastPoll.Store(time.Now().UnixNano())
	if start {
		m.inPoll.Add(1)
	} else {
		m.inPoll.Add(-1)
	}
}

// ID returns the member's current id.
func (m *member) ID() string { return *m.id.Load() }

func (m *member) loop() {
	defer close(m.done)
	t := time.NewTicker(m.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		case <-m.wake:
		}
		if err := m.tick(); errors.Is(err, store.ErrClosed) {
			return // the DB closed under the consumer: nothing more to do
		}
	}
}

// tick is one round of the loop. Its errors are retried at the next tick;
// it returns them so that the loop can end when the DB is closed.
func (m *member) tick() error {
	m.mu.Lock()
	lost := m.lost
	m.mu.Unlock()
	if lost {
		return nil // the consumer rejoins at its next poll
	}
	id := m.ID()
	if err := m.s.Heartbeat(m.slot.Load()); err != nil {
		return err
	}
	now := time.Now()
	if m.inPoll.Load() == 0 && now.Sub(time.Unix(0, m.lastPoll.Load())) > m.opts.MaxPollInterval {
		// Kafka's consumer leaves its group when the application stops
		// polling, so that its partitions go to members that work.
		return m.leave(context.Background(), store.LeavePollInterval, nil)
	}
	gs, err := m.s.Group(m.group)
	if err != nil {
		return err
	}
	if c := m.maintain(&gs, now); !c.IsEmpty() || len(m.acquirable(&gs, id)) > 0 {
		gs, err = m.s.UpdateGroup(context.Background(), m.group, store.Durability(m.opts.Durability), func(gs *store.GroupState) (store.GroupChange, error) {
			if gs.Member(id) == nil {
				return store.GroupChange{}, nil
			}
			c := m.maintain(gs, time.Now())
			m.applyLeaves(gs, c.Leave)
			if c.Assign != nil {
				gs.Target = targetMap(c.Assign)
			}
			for _, tp := range m.acquirable(gs, id) {
				c.Own = append(c.Own, store.Own{TopicPartition: tp, Member: id})
			}
			return c, nil
		})
		if err != nil {
			return err
		}
	}
	m.publish(gs, id)
	return nil
}

// publish makes gs the member's state and tells the consumer when it
// changed.
func (m *member) publish(gs store.GroupState, id string) {
	m.mu.Lock()
	changed := gs.Version != m.state.Version || !m.lost && gs.Member(id) == nil
	m.state = gs
	if gs.Member(id) == nil {
		m.lost = true
	}
	m.mu.Unlock()
	if changed {
		select {
		case m.changed <- struct{}{}:
		default:
		}
	}
}

// maintain returns the change that removes the group's dead members and
// makes its target what the assignor makes of the rest; gs is as of now.
func (m *member) maintain(gs *store.GroupState, now time.Time) store.GroupChange {
	var c store.GroupChange
	for _, o := range gs.Members {
		if o.Local {
			continue // this process's members leave by themselves
		}
		switch {
		case !o.Alive && o.InstanceID == "":
			c.Leave = append(c.Leave, store.Leave{Member: o.ID, Reason: store.LeaveDied})
		case !o.Heartbeat.IsZero() && now.Sub(o.Heartbeat) > o.SessionTimeout,
			o.Heartbeat.IsZero() && !o.Alive:
			c.Leave = append(c.Leave, store.Leave{Member: o.ID, Reason: store.LeaveSession})
		}
	}
	if len(gs.Members) == len(c.Leave) {
		return c // nobody is left to assign to
	}
	rest := *gs
	m.applyLeaves(&rest, c.Leave)
	if target := m.target(&rest); !sameTarget(target, rest.Target) {
		c.Assign = target
	}
	return c
}

// applyLeaves removes the leaving members from gs, with what they own.
func (m *member) applyLeaves(gs *store.GroupState, leaves []store.Leave) {
	if len(leaves) == 0 {
		return
	}
	gone := map[string]bool{}
	for _, l := range leaves {
		gone[l.Member] = true
	}
	gs.Members = slices.DeleteFunc(slices.Clone(gs.Members), func(o store.GroupMember) bool { return gone[o.ID] })
	owners := maps.Clone(gs.Owners)
	maps.DeleteFunc(owners, func(_ store.TopicPartition, o store.Ownership) bool { return gone[o.Member] })
	gs.Owners = owners
}

// target is what the assignor makes of gs's members and partitions, with
// gs's target as the previous assignment.
func (m *member) target(gs *store.GroupState) map[string][]store.TopicPartition {
	members := make([]assign.Member, len(gs.Members))
	for i, o := range gs.Members {
		members[i] = assign.Member{ID: o.ID, InstanceID: o.InstanceID, Topics: expandSubscription(o.Topics, gs.Partitions)}
	}
	prev := assign.Assignment{}
	for tp, id := range gs.Target {
		prev[id] = append(prev[id], assign.TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	out := map[string][]store.TopicPartition{}
	for id, tps := range m.assignor.Assign(members, gs.Partitions, prev) {
		list := make([]store.TopicPartition, len(tps))
		for i, tp := range tps {
			list[i] = store.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
		}
		out[id] = list
	}
	return out
}

func targetMap(a map[string][]store.TopicPartition) map[store.TopicPartition]string {
	out := map[store.TopicPartition]string{}
	for id, tps := range a {
		for _, tp := range tps {
			out[tp] = id
		}
	}
	return out
}

func sameTarget(a map[string][]store.TopicPartition, b map[store.TopicPartition]string) bool {
	return maps.Equal(targetMap(a), b)
}

// acquirable returns the partitions the target gives member id that have
// no owner, sorted.
func (m *member) acquirable(gs *store.GroupState, id string) []store.TopicPartition {
	var out []store.TopicPartition
	for tp, to := range gs.Target {
		if _, owned := gs.Owners[tp]; to == id && !owned {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, store.TopicPartition.Compare)
	return out
}

// toRelease returns the partitions member id owns and must let go: those
// the target gives another, and, for an eager assignor, every one taken in
// an earlier generation.
func (m *member) toRelease(gs *store.GroupState, id string) []store.TopicPartition {
	var out []store.TopicPartition
	for tp, o := range gs.Owners {
		if o.Member != id {
			continue
		}
		if gs.Target[tp] != id || !m.assignor.Cooperative() && o.Generation < gs.Generation {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, store.TopicPartition.Compare)
	return out
}

// generationOf returns the generation in which the member took tp, as of
// its last state.
func (m *member) generationOf(tp TopicPartition) int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Owners[store.TopicPartition(tp)].Generation
}

// snapshot returns the member's last state, its id, and whether the group
// lost it.
func (m *member) snapshot() (store.GroupState, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.ID(), m.lost
}

// release commits offsets and lets go of partitions, in one commit.
func (m *member) release(ctx context.Context, tps []store.TopicPartition, offsets []store.Offset) (store.GroupState, error) {
	id := m.ID()
	gs, err := m.s.UpdateGroup(ctx, m.group, store.Durability(m.opts.Durability), func(gs *store.GroupState) (store.GroupChange, error) {
		c := store.GroupChange{Offsets: offsets}
		for _, tp := range tps {
			if gs.Owners[tp].Member == id {
				c.Own = append(c.Own, store.Own{TopicPartition: tp})
			}
		}
		return c, nil
	})
	if err == nil {
		m.publish(gs, id)
		m.poke()
	}
	return gs, err
}

// poke asks the loop for a tick now.
func (m *member) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// leave commits offsets and takes the member out of its group, and stops
// its loop from changing anything more.
func (m *member) leave(ctx context.Context, reason store.LeaveReason, offsets []store.Offset) error {
	id := m.ID()
	m.mu.Lock()
	m.lost = true
	m.mu.Unlock()
	_, err := m.s.UpdateGroup(ctx, m.group, store.Durability(m.opts.Durability), func(gs *store.GroupState) (store.GroupChange, error) {
		if gs.Member(id) == nil {
			return store.GroupChange{}, nil
		}
		c := store.GroupChange{Offsets: offsets, Leave: []store.Leave{{Member: id, Reason: reason}}}
		m.applyLeaves(gs, c.Leave)
		if len(gs.Members) > 0 {
			if target := m.target(gs); !sameTarget(target, gs.Target) {
				c.Assign = target
			}
		}
		return c, nil
	})
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return err
}

// detach commits offsets and ends this process's hold on the member
// without taking it out of its group: a static member's way to stop.
func (m *member) detach(ctx context.Context, offsets []store.Offset) error {
	m.mu.Lock()
	m.lost = true
	m.mu.Unlock()
	var err error
	if len(offsets) > 0 {
		_, err = m.s.Commit(ctx, &store.Txn{Offsets: offsets, Durability: store.Durability(m.opts.Durability)})
	}
	m.s.Detach(m.slot.Load())
	return err
}

// close stops the loop; the member leaves or detaches after.
func (m *member) close() {
	close(m.stop)
	<-m.done
}
