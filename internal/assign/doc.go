// Package assign holds the consumer-group assignors, Kafka's four, as pure
// functions: given the members, the topics' partition counts and the previous
// assignment, an Assignor says which member owns each partition. The group
// code runs one of them, chosen by its protocol name (ByName), on every
// member alike; the same inputs give every member the same answer.
//
// Members are ordered as Kafka orders them: static members (with an
// InstanceID, Kafka's group.instance.id) first, by instance id, then the
// others by member id. Range and RoundRobin depend on that order, so static
// members keep their partitions across restarts that change their member ids.
//
// # Range
//
// Each topic on its own: its partitions in order are cut into one contiguous
// range per subscribed member; the first count%members members get one more.
// Two members, topics t0 and t1 of three partitions each:
//
//	        t0p0 t0p1 t0p2   t1p0 t1p1 t1p2
//	C0       x    x           x    x
//	C1                 x                x
//
// Members line up on the same partition numbers of every topic (co-partitioned
// joins need that), but the extras pile onto the first members.
//
// # RoundRobin
//
// All subscribed partitions, by topic then partition, are dealt to the members
// in turn, passing over a member not subscribed to the partition's topic. The
// same group:
//
//	        t0p0 t0p1 t0p2   t1p0 t1p1 t1p2
//	C0       x         x           x
//	C1            x           x         x
//
// With the same subscriptions, counts differ by at most one; with differing
// ones they can be far apart.
//
// # Sticky and CooperativeSticky
//
// One assignment for both, which looks at the previous one: every partition gets one owner subscribed to its
// topic; counts are balanced (with the same subscriptions they differ by at
// most one; otherwise no member could take a partition from one that owns two
// more); and as many partitions as balance allows stay with their previous
// owner. C2 joins C0 and C1, who share t0 and t1 of two partitions each:
//
//	before  C0: t0p0 t1p0    C1: t0p1 t1p1
//	after   C0: t0p0 t1p0    C1: t0p1         C2: t1p1
//
// One partition moves, the fewest that gives C2 its share. CooperativeSticky
// differs only in Cooperative: the group protocol then revokes just the
// partitions that move (C1's t1p1) instead of every partition.
package assign
