package spool

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// groupConsumer returns a consumer subscribed to "t" in group g.
func groupConsumer(t testing.TB, db *DB, g string, opts ConsumerOptions) *Consumer {
	t.Helper()
	opts.Group = g
	c := newConsumer(t, db, &opts)
	if err := c.Subscribe(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	return c
}

// pollUntil polls each consumer on a goroutine of its own, collecting clones
// of what they return, until done says the records suffice; it fails the
// test after a minute.
func pollUntil(t *testing.T, done func(map[*Consumer][]*Record) bool, cs ...*Consumer) map[*Consumer][]*Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var mu sync.Mutex
	got := map[*Consumer][]*Record{}
	finished := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				pctx, pcancel := context.WithTimeout(ctx, 20*time.Millisecond)
				f, err := c.Poll(pctx)
				pcancel()
				mu.Lock()
				if err == nil {
					for r := range f.Records() {
						got[c] = append(got[c], r.Clone())
					}
				}
				if done(got) {
					once.Do(func() { close(finished) })
				}
				mu.Unlock()
				select {
				case <-finished:
					return
				default:
				}
			}
		}()
	}
	select {
	case <-finished:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !done(got) {
		t.Fatalf("after a minute the consumers have %d records between them", total(got))
	}
	return got
}

func total(got map[*Consumer][]*Record) int {
	n := 0
	for _, rs := range got {
		n += len(rs)
	}
	return n
}

// TestSubscribeSharesPartitions: with each assignor, a second member
// joins while records are being produced and read; the first hands over
// half the partitions at the position it reached, so that between them
// every record is read exactly once.
func TestSubscribeSharesPartitions(t *testing.T) {
	for _, assignor := range []string{"cooperative-sticky", "sticky", "range", "roundrobin"} {
		t.Run(assignor, func(t *testing.T) {
			db := openDB(t, 4)
			p := newProducer(t, db, nil)
			opts := ConsumerOptions{Assignor: assignor}
			c1 := groupConsumer(t, db, "g", opts)
			produceKeyed(t, p, "a", 1000)
			first := pollUntil(t, func(got map[*Consumer][]*Record) bool { return total(got) >= 300 }, c1)

			c2 := groupConsumer(t, db, "g", opts)
			// Records go on being produced until the second member has
			// read some.
			var batches atomic.Int64
			stop, produced := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(produced)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					rs := make([]*Record, 100)
					for j := range rs {
						v := fmt.Appendf(nil, "b%d-%d", i, j)
						rs[j] = &Record{Topic: "t", Key: v, Value: v}
					}
					if err := p.ProduceSync(ctx, rs...); err != nil {
						t.Error(err)
						return
					}
					batches.Add(1)
				}
			}()
			var stopOnce sync.Once
			rest := 1000 - total(first)
			got := pollUntil(t, func(got map[*Consumer][]*Record) bool {
				if len(got[c2]) > 0 && len(c1.Assignment()["t"]) == 2 && len(c2.Assignment()["t"]) == 2 {
					stopOnce.Do(func() { close(stop) })
				}
				select {
				case <-produced:
				default:
					return false
				}
				return total(got) >= rest+int(batches.Load())*100
			}, c1, c2)
			seen := map[string]int{}
			for _, phase := range []map[*Consumer][]*Record{first, got} {
				for _, rs := range phase {
					for _, r := range rs {
						seen[string(r.Value)]++
					}
				}
			}
			for v, n := range seen {
				if n != 1 {
					t.Errorf("%s read %d times", v, n)
				}
			}
			if want := 1000 + int(batches.Load())*100; len(seen) != want {
				t.Fatalf("%d distinct records read, want %d", len(seen), want)
			}
			if len(got[c1]) == 0 || len(got[c2]) == 0 {
				t.Fatalf("the members read %d and %d records: the partitions are not shared", len(got[c1]), len(got[c2]))
			}
		})
	}
}

// produceKeyed produces n records keyed and valued prefix-i, spread over
// the partitions by key.
func produceKeyed(t testing.TB, p *Producer, prefix string, n int) {
	t.Helper()
	rs := make([]*Record, n)
	for i := range rs {
		v := fmt.Appendf(nil, "%s-%d", prefix, i)
		rs[i] = &Record{Topic: "t", Key: v, Value: v}
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		t.Fatal(err)
	}
}

// TestCloseHandsPartitionsOver: a member that closes leaves in the commit of
// its positions, and the other member goes on from there.
func TestCloseHandsPartitionsOver(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, nil)
	c1 := groupConsumer(t, db, "g", ConsumerOptions{})
	c2 := groupConsumer(t, db, "g", ConsumerOptions{})
	produceKeyed(t, p, "a", 400)
	pollUntil(t, func(got map[*Consumer][]*Record) bool {
		return total(got) == 400 && len(c1.Assignment()["t"]) == 1 && len(c2.Assignment()["t"]) == 1
	}, c1, c2)
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	produceKeyed(t, p, "b", 400)
	got := pollUntil(t, func(got map[*Consumer][]*Record) bool { return total(got) >= 400 }, c2)
	if n := len(got[c2]); n != 400 {
		t.Fatalf("the remaining member read %d records, want the 400 new ones", n)
	}
	if a := c2.Assignment()["t"]; len(a) != 2 {
		t.Fatalf("the remaining member owns %v", a)
	}
}

// TestGroupInfo: DB.Group shows the members, what they own, and the
// group's state.
func TestGroupInfo(t *testing.T) {
	db := openDB(t, 2)
	if info, err := db.Group("g"); err != nil || info.State != "Empty" || len(info.Members) != 0 {
		t.Fatalf("a group nobody joined: %+v, %v", info, err)
	}
	c := groupConsumer(t, db, "g", ConsumerOptions{})
	pollUntil(t, func(map[*Consumer][]*Record) bool { return len(c.Assignment()["t"]) == 2 }, c)
	info, err := db.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	want := []TopicPartition{{"t", 0}, {"t", 1}}
	if info.State != "Stable" || len(info.Members) != 1 || !info.Members[0].Alive ||
		!slices.Equal(info.Members[0].Partitions, want) || info.Assignor != "cooperative-sticky" || info.Generation != 1 {
		t.Fatalf("one member owning both partitions: %+v", info)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := db.Group("g"); err != nil || info.State != "Empty" {
		t.Fatalf("after the member left: %+v, %v", info, err)
	}
}

// TestStaticMemberComesBack: a static member that closes keeps its
// partitions in the group, unread, and the member that joins with its
// instance id takes them back without a new generation.
func TestStaticMemberComesBack(t *testing.T) {
	db := openDB(t, 2)
	a := groupConsumer(t, db, "g", ConsumerOptions{InstanceID: "a"})
	b := groupConsumer(t, db, "g", ConsumerOptions{InstanceID: "b"})
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		return len(a.Assignment()["t"]) == 1 && len(b.Assignment()["t"]) == 1
	}, a, b)
	aPart := a.Assignment()["t"][0]
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := db.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Members) != 2 || before.Members[0].Alive || !slices.Equal(before.Members[0].Partitions, []TopicPartition{{"t", aPart}}) {
		t.Fatalf("after the static member closed: %+v", before)
	}
	// b goes on heartbeating, which shows its loop runs, and leaves a's
	// partition alone.
	beat := before.Members[1].Heartbeat
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		info, _ := db.Group("g")
		return info.Members[1].Heartbeat.Sub(beat) >= 3*100*time.Millisecond
	}, b)
	if got := b.Assignment()["t"]; len(got) != 1 {
		t.Fatalf("the other member took the static member's partition: it owns %v", got)
	}
	a2 := groupConsumer(t, db, "g", ConsumerOptions{InstanceID: "a"})
	after, err := db.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || len(after.Members) != 2 || after.Members[1].InstanceID != "a" ||
		!slices.Equal(after.Members[1].Partitions, []TopicPartition{{"t", aPart}}) {
		t.Fatalf("after the static member came back: %+v; before: %+v", after, before)
	}
	pollUntil(t, func(map[*Consumer][]*Record) bool { return len(a2.Assignment()["t"]) == 1 }, a2)
}

// TestSessionTimeoutRemovesMember: a member whose heartbeats stop (here a
// static member that closed) is removed once its session times out, and
// its partitions move.
func TestSessionTimeoutRemovesMember(t *testing.T) {
	db := openDB(t, 2)
	a := groupConsumer(t, db, "g", ConsumerOptions{InstanceID: "a", SessionTimeout: 300 * time.Millisecond})
	b := groupConsumer(t, db, "g", ConsumerOptions{})
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		return len(a.Assignment()["t"]) == 1 && len(b.Assignment()["t"]) == 1
	}, a, b)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, func(map[*Consumer][]*Record) bool { return len(b.Assignment()["t"]) == 2 }, b)
	info, err := db.Group("g")
	if err != nil || len(info.Members) != 1 {
		t.Fatalf("after the session timeout: %+v, %v", info, err)
	}
}

// TestMaxPollIntervalLeaves: a member that stops polling leaves its group,
// and its partitions go to the one that polls; when it polls again it
// learns that it lost them, and joins again.
func TestMaxPollIntervalLeaves(t *testing.T) {
	db := openDB(t, 2)
	var lost []TopicPartition
	a := groupConsumer(t, db, "g", ConsumerOptions{MaxPollInterval: 300 * time.Millisecond,
		OnLost: func(tps []TopicPartition) { lost = append(lost, tps...) }})
	b := groupConsumer(t, db, "g", ConsumerOptions{})
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		return len(a.Assignment()["t"]) == 1 && len(b.Assignment()["t"]) == 1
	}, a, b)
	pollUntil(t, func(map[*Consumer][]*Record) bool { return len(b.Assignment()["t"]) == 2 }, b)
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		return len(a.Assignment()["t"]) == 1 && len(b.Assignment()["t"]) == 1
	}, a, b)
	if len(lost) != 1 {
		t.Fatalf("the member that stopped polling lost %v, want its one partition", lost)
	}
}

// TestStandbyTakesOver: with more members than partitions the extra member
// owns nothing; when an owner leaves, it takes the partition over.
func TestStandbyTakesOver(t *testing.T) {
	db := openDB(t, 2)
	cs := []*Consumer{groupConsumer(t, db, "g", ConsumerOptions{}), groupConsumer(t, db, "g", ConsumerOptions{}),
		groupConsumer(t, db, "g", ConsumerOptions{})}
	owned := func(c *Consumer) int { return len(c.Assignment()["t"]) }
	pollUntil(t, func(map[*Consumer][]*Record) bool {
		return owned(cs[0])+owned(cs[1])+owned(cs[2]) == 2 && max(owned(cs[0]), owned(cs[1]), owned(cs[2])) == 1
	}, cs...)
	var standby, leaving *Consumer
	for _, c := range cs {
		switch {
		case owned(c) == 0:
			standby = c
		case leaving == nil:
			leaving = c
		}
	}
	if err := leaving.Close(); err != nil {
		t.Fatal(err)
	}
	rest := slices.DeleteFunc(slices.Clone(cs), func(c *Consumer) bool { return c == leaving })
	pollUntil(t, func(map[*Consumer][]*Record) bool { return owned(standby) == 1 }, rest...)
	produceKeyed(t, newProducer(t, db, nil), "a", 200)
	got := pollUntil(t, func(got map[*Consumer][]*Record) bool { return total(got) >= 200 }, rest...)
	if len(got[standby]) == 0 {
		t.Fatal("the member that took over read nothing")
	}
}

// TestMemberLoopEndsWithTheDB: a member whose DB closes under it stops its
// loop rather than ticking forever.
func TestMemberLoopEndsWithTheDB(t *testing.T) {
	db := openDB(t, 1)
	c := groupConsumer(t, db, "g", ConsumerOptions{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.member.done:
	case <-time.After(time.Minute):
		t.Fatal("the member's loop still runs a minute after its DB closed")
	}
}

// TestSubscribePattern: a member subscribed by pattern reads the topics
// whose whole name matches, and a matching topic created later joins its
// subscription.
func TestSubscribePattern(t *testing.T) {
	db := openDB(t, 0)
	for _, name := range []string{"orders-eu", "orders-us", "orders", "refunds-orders-eu"} {
		if err := db.CreateTopic(ctx, name, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsumer(t, db, &ConsumerOptions{Group: "g"})
	if err := c.SubscribePattern(ctx, "orders-.*"); err != nil {
		t.Fatal(err)
	}
	has := func(want ...string) func(map[*Consumer][]*Record) bool {
		return func(map[*Consumer][]*Record) bool {
			a := c.Assignment()
			if len(a) != len(want) {
				return false
			}
			for _, topic := range want {
				if len(a[topic]) != 2 {
					return false
				}
			}
			return true
		}
	}
	pollUntil(t, has("orders-eu", "orders-us"), c)
	if err := db.CreateTopic(ctx, "orders-asia", 2, nil); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, has("orders-asia", "orders-eu", "orders-us"), c)
	if err := newConsumer(t, db, &ConsumerOptions{Group: "h"}).SubscribePattern(ctx, "orders-(["); err == nil {
		t.Fatal("a pattern that does not compile was taken")
	}
}
