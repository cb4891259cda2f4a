package assign

import (
	"cmp"
	"slices"
	"strings"
)

// assignSticky is the sticky and cooperative-sticky assignment:
//
//  1. Each member keeps the partitions of prev it still subscribes to. A
//     partition claimed twice stays with the first claimant in member order.
//  2. When every member with a subscription has the same one, members are
//     cut to their balanced quota: P/M each, one more for the P%M members
//     that kept most (ties in member order), so that as few as possible lose
//     a partition. A member over quota keeps its lowest partitions.
//  3. Each partition without an owner goes to the least loaded member
//     subscribed to its topic, the partitions with fewest candidates first.
//  4. While a partition's owner has two more than the least loaded member
//     subscribed to its topic, the partition moves there.
//
// With identical subscriptions step 4 never moves anything and the result
// keeps the most partitions any balanced assignment could keep. Otherwise
// steps 3 and 4 are the heuristic Kafka's sticky assignor also uses: no
// member can take a partition from one that has two more than it.
func assignSticky(g *group, prev Assignment) Assignment {
	owner := make(map[TopicPartition]int)
	owned := make([][]TopicPartition, len(g.members))
	for i, m := range g.members {
		claims := slices.Clone(prev[m.id])
		slices.SortFunc(claims, compareTopicPartitions)
		for _, tp := range claims {
			if _, taken := owner[tp]; taken || !m.topics[tp.Topic] || tp.Partition < 0 || tp.Partition >= g.counts[tp.Topic] {
				continue
			}
			owner[tp] = i
			owned[i] = append(owned[i], tp)
		}
	}

	var parts []TopicPartition
	for _, t := range g.topics {
		for p := range g.counts[t] {
			parts = append(parts, TopicPartition{t, p})
		}
	}
	l := newLoads(g)
	if len(l.classes) == 1 {
		trim(l.classes[0], owned, owner, len(parts))
	}
	l.start(owned)

	candidates := make(map[string]int, len(g.topics))
	for t, cs := range l.byTopic {
		for _, c := range cs {
			candidates[t] += len(l.classes[c])
		}
	}
	byCandidates := slices.Clone(parts)
	slices.SortStableFunc(byCandidates, func(a, b TopicPartition) int {
		return cmp.Compare(candidates[a.Topic], candidates[b.Topic])
	})
	for _, tp := range byCandidates {
		if _, ok := owner[tp]; !ok {
			to := l.least(tp.Topic)
			owner[tp] = to
			l.add(to, 1)
		}
	}
	for moved := true; moved; {
		moved = false
		for _, tp := range byCandidates {
			from, to := owner[tp], l.least(tp.Topic)
			if l.count[from] > l.count[to]+1 {
				owner[tp] = to
				l.add(from, -1)
				l.add(to, 1)
				moved = true
			}
		}
	}

	out := g.emptyAssignment()
	for _, tp := range parts {
		id := g.members[owner[tp]].id
		out[id] = append(out[id], tp)
	}
	return out
}

// trim cuts the members of the only subscription class, who between them
// subscribe to all total partitions, down to their balanced quotas, giving the
// extra partitions of an uneven split to the members that own most.
func trim(members []int, owned [][]TopicPartition, owner map[TopicPartition]int, total int) {
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(owned[b]), len(owned[a])) })
	q, r := total/len(order), total%len(order)
	for k, i := range order {
		quota := q
		if k < r {
			quota++
		}
		if len(owned[i]) > quota {
			for _, tp := range owned[i][quota:] {
				delete(owner, tp)
			}
			owned[i] = owned[i][:quota]
		}
	}
}

// loads counts the partitions each member owns and finds the least loaded
// member subscribed to a topic. Members with the same subscription form a
// class, kept in a min-heap by (count, member index), so a look-up costs one
// step per class subscribed to the topic.
type loads struct {
	count   []int            // partitions owned, by member index
	class   []int            // the member's class
	pos     []int            // the member's place in its class's heap
	classes [][]int          // per class, a heap of member indices
	byTopic map[string][]int // the classes subscribed to each topic
}

// newLoads groups the members with a subscription into classes, each class's
// members in member order.
func newLoads(g *group) *loads {
	n := len(g.members)
	l := &loads{count: make([]int, n), class: make([]int, n), pos: make([]int, n), byTopic: map[string][]int{}}
	index := map[string]int{}
	for i, m := range g.members {
		if len(m.topics) == 0 {
			continue
		}
		topics := make([]string, 0, len(m.topics))
		for t := range m.topics {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		key := strings.Join(topics, "\x00")
		c, ok := index[key]
		if !ok {
			c = len(l.classes)
			index[key] = c
			l.classes = append(l.classes, nil)
			for _, t := range topics {
				l.byTopic[t] = append(l.byTopic[t], c)
			}
		}
		l.class[i] = c
		l.classes[c] = append(l.classes[c], i)
	}
	return l
}

// start sets the counts from owned and orders each class into a heap: a
// sorted slice is one.
func (l *loads) start(owned [][]TopicPartition) {
	for i := range l.count {
		l.count[i] = len(owned[i])
	}
	for _, h := range l.classes {
		slices.SortFunc(h, func(a, b int) int { return cmp.Or(cmp.Compare(l.count[a], l.count[b]), cmp.Compare(a, b)) })
		for j, i := range h {
			l.pos[i] = j
		}
	}
}

// less orders members by count, then index.
func (l *loads) less(a, b int) bool {
	return l.count[a] < l.count[b] || l.count[a] == l.count[b] && a < b
}

// least returns the least loaded member subscribed to topic t.
func (l *loads) least(t string) int {
	best := -1
	for _, c := range l.byTopic[t] {
		if i := l.classes[c][0]; best < 0 || l.less(i, best) {
			best = i
		}
	}
	return best
}

// add changes member i's count by d and restores its class's heap.
func (l *loads) add(i, d int) {
	l.count[i] += d
	h, j := l.classes[l.class[i]], l.pos[i]
	for j > 0 && l.less(h[j], h[(j-1)/2]) {
		l.swap(h, j, (j-1)/2)
		j = (j - 1) / 2
	}
	for {
		c := 2*j + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && l.less(h[c+1], h[c]) {
			c++
		}
		if !l.less(h[c], h[j]) {
			return
		}
		l.swap(h, j, c)
		j = c
	}
}

func (l *loads) swap(h []int, a, b int) {
	h[a], h[b] = h[b], h[a]
	l.pos[h[a]], l.pos[h[b]] = a, b
}
