package assign

// assignRange splits each topic's partitions into contiguous ranges, one per
// subscribed member in member order; the first count%members members get one
// more.
func assignRange(g *group, _ Assignment) Assignment {
	out := g.emptyAssignment()
	for _, t := range g.topics {
		var subs []*member
		for _, m := range g.members {
			if m.topics[t] {
				subs = append(subs, m)
			}
		}
		n := int(g.counts[t])
		per, extra := n/len(subs), n%len(subs)
		p := int32(0)
		for i, m := range subs {
			k := per
			if i < extra {
				k++
			}
			for range k {
				out[m.id] = append(out[m.id], TopicPartition{t, p})
				p++
			}
		}
	}
	return out
}
