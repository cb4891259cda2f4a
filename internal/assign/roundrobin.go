package assign

// assignRoundRobin deals every subscribed partition, by topic then partition,
// to the members in turn, passing over a member that does not subscribe to the
// partition's topic.
func assignRoundRobin(g *group, _ Assignment) Assignment {
	out := g.emptyAssignment()
	next := 0
	for _, t := range g.topics {
		for p := range g.counts[t] {
			for !g.members[next].topics[t] {
				next = (next + 1) % len(g.members)
			}
			id := g.members[next].id
			out[id] = append(out[id], TopicPartition{t, p})
			next = (next + 1) % len(g.members)
		}
	}
	return out
}
