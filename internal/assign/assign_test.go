package assign

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// topicPool holds the topic names the generators use; "gone" is never given
// partitions, so subscriptions to it name an unknown topic.
var topicPool = []string{"a", "b", "c", "d", "gone"}

// genTopics draws partition counts for some of the pool's topics, zero
// included.
func genTopics(t *rapid.T) map[string]int32 {
	topics := map[string]int32{}
	for _, name := range topicPool[:4] {
		if rapid.Bool().Draw(t, "has "+name) {
			topics[name] = rapid.Int32Range(0, 12).Draw(t, "partitions of "+name)
		}
	}
	return topics
}

// genSubscription draws a subscription, in any order, with repeats.
func genSubscription(t *rapid.T, label string) []string {
	return rapid.SliceOfN(rapid.SampledFrom(topicPool), 0, 6).Draw(t, label)
}

// genMembers draws up to 9 members with distinct ids, some of them static.
// With same set, all of them subscribe to the same topics, each listing them
// in its own order and with its own repeats.
func genMembers(t *rapid.T, same bool) []Member {
	ids := rapid.SliceOfNDistinct(rapid.StringMatching(`m[0-9]{1,2}`), 0, 9, rapid.ID).Draw(t, "ids")
	shared := genSubscription(t, "shared subscription")
	members := make([]Member, len(ids))
	for i, id := range ids {
		members[i] = Member{ID: id, Topics: genSubscription(t, "subscription")}
		if same {
			members[i].Topics = rapid.Permutation(append(slices.Clone(shared), shared...)).Draw(t, "shuffled subscription")
		}
		if rapid.IntRange(0, 3).Draw(t, "static") == 0 {
			members[i].InstanceID = rapid.StringMatching(`i[0-9]`).Draw(t, "instance")
		}
	}
	return members
}

// genPrev draws a previous assignment that may name members that left,
// partitions past a topic's end, unknown topics and partitions claimed twice.
func genPrev(t *rapid.T, members []Member) Assignment {
	ids := []string{"left"}
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	prev := Assignment{}
	for range rapid.IntRange(0, 40).Draw(t, "prev claims") {
		id := rapid.SampledFrom(ids).Draw(t, "prev owner")
		tp := TopicPartition{rapid.SampledFrom(topicPool).Draw(t, "prev topic"), rapid.Int32Range(-1, 14).Draw(t, "prev partition")}
		prev[id] = append(prev[id], tp)
	}
	return prev
}

// subscribed returns every partition that some member should own, with the
// members allowed to own it.
func subscribed(members []Member, topics map[string]int32) map[TopicPartition]map[string]bool {
	out := map[TopicPartition]map[string]bool{}
	for _, m := range members {
		for _, topic := range m.Topics {
			for p := range topics[topic] {
				tp := TopicPartition{topic, p}
				if out[tp] == nil {
					out[tp] = map[string]bool{}
				}
				out[tp][m.ID] = true
			}
		}
	}
	return out
}

// checkValid fails unless got has every member and only members as keys,
// sorted non-nil lists, and every subscribed partition exactly once, owned by
// a member subscribed to its topic, and nothing else.
func checkValid(t *rapid.T, members []Member, topics map[string]int32, got Assignment) {
	if len(got) != len(members) {
		t.Fatalf("%d members, %d keys: %v", len(members), len(got), got)
	}
	want := subscribed(members, topics)
	seen := map[TopicPartition]string{}
	for _, m := range members {
		tps, ok := got[m.ID]
		if !ok || tps == nil {
			t.Fatalf("member %s: missing or nil list", m.ID)
		}
		if !slices.IsSortedFunc(tps, compareTopicPartitions) {
			t.Fatalf("member %s: unsorted %v", m.ID, tps)
		}
		for _, tp := range tps {
			if !want[tp][m.ID] {
				t.Fatalf("member %s owns %v, which it does not subscribe to or does not exist", m.ID, tp)
			}
			if other, dup := seen[tp]; dup {
				t.Fatalf("%v owned by %s and %s", tp, other, m.ID)
			}
			seen[tp] = m.ID
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d of %d subscribed partitions assigned", len(seen), len(want))
	}
}

// spread returns the most and the fewest partitions a member owns.
func spread(got Assignment) (most, fewest int) {
	fewest = -1
	for _, tps := range got {
		most = max(most, len(tps))
		if fewest < 0 || len(tps) < fewest {
			fewest = len(tps)
		}
	}
	return most, fewest
}

// owners maps each partition of got to its owner.
func owners(got Assignment) map[TopicPartition]string {
	out := map[TopicPartition]string{}
	for id, tps := range got {
		for _, tp := range tps {
			out[tp] = id
		}
	}
	return out
}

// total counts the partitions of a.
func total(a Assignment) int {
	n := 0
	for _, tps := range a {
		n += len(tps)
	}
	return n
}

// forEach runs check as a property test for each of the assignors.
func forEach(t *testing.T, assignors []Assignor, check func(*rapid.T, Assignor)) {
	for _, a := range assignors {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) { check(t, a) })
		})
	}
}

var sticky = []Assignor{Sticky, CooperativeSticky}

func TestValidAndDeterministic(t *testing.T) {
	forEach(t, all, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, false), genTopics(t)
		prev := genPrev(t, members)
		got := a.Assign(members, topics, prev)
		checkValid(t, members, topics, got)

		shuffled := rapid.Permutation(members).Draw(t, "member order")
		for i := range shuffled {
			shuffled[i].Topics = rapid.Permutation(shuffled[i].Topics).Draw(t, "topic order")
		}
		if again := a.Assign(shuffled, maps.Clone(topics), prev); !reflect.DeepEqual(got, again) {
			t.Fatalf("shuffled input:\n got  %v\n then %v", got, again)
		}
	})
}

func TestBalancedWithSameSubscriptions(t *testing.T) {
	forEach(t, []Assignor{RoundRobin, Sticky, CooperativeSticky}, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, true), genTopics(t)
		got := a.Assign(members, topics, genPrev(t, members))
		if most, fewest := spread(got); most > fewest+1 {
			t.Fatalf("members own %d to %d partitions: %v", fewest, most, got)
		}
	})
}

func TestRangeBalancedPerTopic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		members, topics := genMembers(t, false), genTopics(t)
		got := Range.Assign(members, topics, nil)
		for topic := range topics {
			perTopic := Assignment{}
			for _, m := range members {
				if slices.Contains(m.Topics, topic) {
					perTopic[m.ID] = slices.DeleteFunc(slices.Clone(got[m.ID]), func(tp TopicPartition) bool { return tp.Topic != topic })
				}
			}
			if most, fewest := spread(perTopic); most > fewest+1 {
				t.Fatalf("topic %s: members own %d to %d partitions: %v", topic, fewest, most, got)
			}
		}
	})
}

// With any subscriptions, the sticky assignors are as balanced as Kafka's
// StickyAssignor promises: no member owns two fewer partitions than the owner
// of a partition of a topic it subscribes to.
func TestStickyBalancedWithAnySubscriptions(t *testing.T) {
	forEach(t, sticky, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, false), genTopics(t)
		got := a.Assign(members, topics, genPrev(t, members))
		mayOwn := subscribed(members, topics)
		for tp, owner := range owners(got) {
			for id := range mayOwn[tp] {
				if len(got[id]) < len(got[owner])-1 {
					t.Fatalf("%s owns %d partitions and could take %v from %s, which owns %d: %v", id, len(got[id]), tp, owner, len(got[owner]), got)
				}
			}
		}
	})
}

func TestStickyKeepsItsOwnAssignment(t *testing.T) {
	forEach(t, sticky, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, false), genTopics(t)
		got := a.Assign(members, topics, genPrev(t, members))
		if again := a.Assign(members, topics, got); !reflect.DeepEqual(got, again) {
			t.Fatalf("fed its own output:\n was %v\n now %v", got, again)
		}
	})
}

// A member that joins a balanced group of M with the same subscriptions must
// end with P/(M+1) partitions, its balanced share rounded down (it owns
// nothing, so the P%(M+1) larger shares go to members that already own at
// least that many: each owns P/M or one more, at least P/(M+1), and when
// P/M == P/(M+1) there are P%M = P/(M+1) + P%(M+1) members with one more).
// Exactly those partitions move, all to the newcomer.
func TestStickyJoinMovesTheMinimum(t *testing.T) {
	forEach(t, sticky, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, true), genTopics(t)
		if len(members) == 0 {
			return
		}
		before := a.Assign(members, topics, genPrev(t, members))
		joined := Member{ID: "newcomer", Topics: members[0].Topics}
		after := a.Assign(append(slices.Clone(members), joined), topics, before)

		was := owners(before)
		moved := 0
		for tp, id := range owners(after) {
			if was[tp] != id {
				moved++
				if id != joined.ID {
					t.Fatalf("%v moved from %s to %s, not to the newcomer", tp, was[tp], id)
				}
			}
		}
		if want := total(before) / (len(members) + 1); moved != want {
			t.Fatalf("%d partitions moved, want %d: before %v, after %v", moved, want, before, after)
		}
	})
}

func TestStickyLeaveMovesOnlyItsPartitions(t *testing.T) {
	forEach(t, sticky, func(t *rapid.T, a Assignor) {
		members, topics := genMembers(t, true), genTopics(t)
		if len(members) < 2 {
			return
		}
		before := a.Assign(members, topics, genPrev(t, members))
		leaver := rapid.IntRange(0, len(members)-1).Draw(t, "leaver")
		left := members[leaver].ID
		after := a.Assign(slices.Delete(slices.Clone(members), leaver, leaver+1), topics, before)

		now := owners(after)
		for tp, id := range owners(before) {
			if id != left && now[tp] != id {
				t.Fatalf("%v moved from %s to %s, but %s left", tp, id, now[tp], left)
			}
		}
	})
}

func TestEdgeCases(t *testing.T) {
	topics := map[string]int32{"t": 3}
	for _, a := range all {
		if got := a.Assign(nil, topics, Assignment{"old": {{"t", 0}}}); got == nil || len(got) != 0 {
			t.Errorf("%s, no members: %v", a.Name(), got)
		}
		got := a.Assign([]Member{{ID: "idle"}, {ID: "x", Topics: []string{"nope"}}}, topics, nil)
		if want := (Assignment{"idle": {}, "x": {}}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s, no subscriptions: %v", a.Name(), got)
		}
		// Entries repeating an id are one member subscribing to both topics.
		got = a.Assign([]Member{{ID: "m", Topics: []string{"t"}}, {ID: "m", Topics: []string{"u"}}}, map[string]int32{"t": 1, "u": 1}, nil)
		if want := (Assignment{"m": {{"t", 0}, {"u", 0}}}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s, repeated id: %v", a.Name(), got)
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{"range", "roundrobin", "sticky", "cooperative-sticky"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v", got)
	}
	for _, name := range want {
		a, ok := ByName(name)
		if !ok || a.Name() != name || a.Cooperative() != (name == "cooperative-sticky") {
			t.Errorf("ByName(%q) = %v, %v", name, a, ok)
		}
	}
	if _, ok := ByName("RANGE"); ok {
		t.Error("ByName is case-sensitive, as Kafka's protocol names are")
	}
}

// benchGroup is members members subscribed to the same ten topics of
// partitions/10 partitions each.
func benchGroup(members, partitions int) ([]Member, map[string]int32) {
	topics := map[string]int32{}
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%d", i)
		topics[names[i]] = int32(partitions / 10)
	}
	ms := make([]Member, members)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("member-%04d", i), Topics: names}
	}
	return ms, topics
}

func BenchmarkAssign(b *testing.B) {
	members, topics := benchGroup(1000, 10000)
	for _, a := range all {
		b.Run(a.Name(), func(b *testing.B) {
			for b.Loop() {
				a.Assign(members, topics, nil)
			}
		})
	}
	// A rebalance: one member of the balanced group leaves and another joins.
	prev := Sticky.Assign(members, topics, nil)
	changed := append(slices.Clone(members[1:]), Member{ID: "joined", Topics: members[0].Topics})
	b.Run("sticky-rebalance", func(b *testing.B) {
		for b.Loop() {
			Sticky.Assign(changed, topics, prev)
		}
	})
	// Differing subscriptions: member i subscribes to the topics from i%10 on.
	mixed := slices.Clone(members)
	for i := range mixed {
		mixed[i].Topics = mixed[i].Topics[i%10:]
	}
	b.Run("sticky-mixed", func(b *testing.B) {
		for b.Loop() {
			Sticky.Assign(mixed, topics, nil)
		}
	})
}
