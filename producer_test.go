package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// TestProduceFields checks that key, value, headers and timestamp come back
// as sent, and that acknowledgements carry the offsets the records got.
func TestProduceFields(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, nil)
	ts := time.UnixMilli(1_700_000_000_123)
	sent := []*Record{
		{Topic: "t", Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts,
			Headers: []Header{{Key: "trace", Value: []byte("abc")}, {Key: "empty", Value: []byte{}}, {Key: "null"}}},
		{Topic: "t", Value: nil},                     // null value, no key
		{Topic: "t", Key: []byte{}, Value: []byte{}}, // empty, not null
	}
	if err := p.ProduceSync(ctx, sent...); err != nil {
		t.Fatal(err)
	}
	for i, r := range sent {
		if r.Offset != int64(i) || r.Partition != 0 {
			t.Errorf("record %d acknowledged at %d/%d, want 0/%d", i, r.Partition, r.Offset, i)
		}
	}
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	got := pollAll(t, c, len(sent))
	for i, r := range got {
		w := sent[i]
		if r.Offset != w.Offset || !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
			!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || !r.Timestamp.Equal(w.Timestamp) {
			t.Errorf("record %d: got %+v, want %+v", i, r, w)
		}
		if len(r.Headers) != len(w.Headers) {
			t.Fatalf("record %d: headers %v, want %v", i, r.Headers, w.Headers)
		}
		for j, h := range r.Headers {
			if h.Key != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) || (h.Value == nil) != (w.Headers[j].Value == nil) {
				t.Errorf("record %d header %d: %+v, want %+v", i, j, h, w.Headers[j])
			}
		}
	}
	if got[0].Timestamp.UnixMilli() != ts.UnixMilli() {
		t.Errorf("timestamp %v, want %v", got[0].Timestamp, ts)
	}
}

// TestPartitionerMatchesKafka produces keyed records with the default
// partitioner and checks that each lands where franz-go's Kafka-compatible
// partitioner puts it.
func TestPartitionerMatchesKafka(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const partitions = 7
	db := openDB(t, partitions)
	p := newProducer(t, db, nil)
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	var rs []*Record
	for i := range 3000 {
		key := make([]byte, rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		rs = append(rs, &Record{Topic: "t", Key: key, Value: []byte(fmt.Sprint(i))})
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want := kafka.Partition(&kgo.Record{Key: r.Key}, partitions)
		if int(r.Partition) != want {
			t.Fatalf("key %x went to partition %d; Kafka's partitioner gives %d", r.Key, r.Partition, want)
		}
		if PartitionForKey(r.Key, partitions) != r.Partition {
			t.Fatalf("PartitionForKey(%x) disagrees with the producer", r.Key)
		}
	}
	// And the records are where the acknowledgements say.
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	byValue := map[string]*Record{}
	for _, r := range rs {
		byValue[string(r.Value)] = r
	}
	for _, r := range pollAll(t, c, len(rs)) {
		w := byValue[string(r.Value)]
		if w.Partition != r.Partition || w.Offset != r.Offset || !bytes.Equal(w.Key, r.Key) {
			t.Fatalf("record %s read at %d/%d, acknowledged at %d/%d", r.Value, r.Partition, r.Offset, w.Partition, w.Offset)
		}
	}
}

func TestPartitioners(t *testing.T) {
	db := openDB(t, 4)
	cases := []struct {
		name string
		p    Partitioner
		want func(i int) int32
	}{
		{"manual", ManualPartitioner(), func(i int) int32 { return int32(i % 3) }},
		{"round-robin", RoundRobinPartitioner(), func(i int) int32 { return int32(i % 4) }},
		{"func", PartitionFunc(func(r *Record, n int32) int32 { return int32(len(r.Value)) % n }), func(i int) int32 {
			return int32(len(fmt.Sprint(i))) % 4
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProducer(t, db, &ProducerOptions{Partitioner: tc.p})
			for i := range 20 {
				r := &Record{Topic: "t", Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}
				if err := p.ProduceSync(ctx, r); err != nil {
					t.Fatal(err)
				}
				if r.Partition != tc.want(i) {
					t.Fatalf("record %d went to %d, want %d", i, r.Partition, tc.want(i))
				}
			}
		})
	}
	t.Run("out of range", func(t *testing.T) {
		p := newProducer(t, db, &ProducerOptions{Partitioner: PartitionFunc(func(*Record, int32) int32 { return 9 })})
		err := p.ProduceSync(ctx, &Record{Topic: "t", Value: []byte("x")})
		if !errors.Is(err, ErrUnknownPartition) {
			t.Fatalf("got %v, want ErrUnknownPartition", err)
		}
	})
	t.Run("sticky without key", func(t *testing.T) {
		// Keyless records of one batch stay in one partition.
		p := newProducer(t, db, &ProducerOptions{Linger: time.Hour})
		var rs []*Record
		for i := range 50 {
			r := &Record{Topic: "t", Value: []byte(fmt.Sprint(i))}
			rs = append(rs, r)
			p.Produce(ctx, r, nil)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Partition != rs[0].Partition {
				t.Fatalf("keyless records of one batch went to partitions %d and %d", rs[0].Partition, r.Partition)
			}
		}
	})
}

// TestCompression produces with each codec and reads the records back,
// checking that the stored batches carry the codec.
func TestCompression(t *testing.T) {
	for _, c := range []Compression{NoCompression, Gzip, Snappy, LZ4, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			db := openDB(t, 1)
			p := newProducer(t, db, &ProducerOptions{Compression: c, Linger: time.Hour})
			var rs []*Record
			for i := range 500 {
				r := &Record{Topic: "t", Key: []byte(fmt.Sprint(i % 7)), Value: bytes.Repeat([]byte{byte(i)}, i%300)}
				rs = append(rs, r)
				p.Produce(ctx, r, nil)
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			f, err := db.s.Read("t", 0, 0, 1<<20, nil)
			if err != nil {
				t.Fatal(err)
			}
			h, err := format.ParseBatchHeader(f.Batches)
			if err != nil {
				t.Fatal(err)
			}
			if got := Compression(h.Compression()); got != c {
				t.Fatalf("stored batch has codec %v, want %v", got, c)
			}
			cons := newConsumer(t, db, nil)
			if err := cons.Assign("t"); err != nil {
				t.Fatal(err)
			}
			for i, r := range pollAll(t, cons, len(rs)) {
				if !bytes.Equal(r.Value, rs[i].Value) || !bytes.Equal(r.Key, rs[i].Key) || r.Offset != int64(i) {
					t.Fatalf("record %d differs after %v", i, c)
				}
			}
		})
	}
}

// TestStoredBatchesValid checks the batches a producer stores, which the
// store does not check (Txn.Built): whole, with their CRC, numbered in
// sequence. Several flushes reuse acknowledged batches, whose builders keep
// the bytes of the batch before.
func TestStoredBatchesValid(t *testing.T) {
	for _, c := range []Compression{NoCompression, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			db := openDB(t, 1)
			p := newProducer(t, db, &ProducerOptions{Compression: c})
			const rounds, perRound = 5, 100
			for round := range rounds {
				for i := range perRound {
					p.Produce(ctx, &Record{Topic: "t", Key: []byte(fmt.Sprint(i % 7)),
						Value: bytes.Repeat([]byte{byte(round)}, i), Headers: []Header{{Key: "h", Value: []byte{byte(i)}}}}, nil)
				}
				if err := p.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			checkSequences(t, db, p.id, 0, rounds*perRound)
		})
	}
}

// TestProducerLimits checks the errors a record can meet.
func TestProducerLimits(t *testing.T) {
	db := openDB(t, 1)
	if err := db.CreateTopic(ctx, "small", 1, map[string]string{"max.message.bytes": "1000"}); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, db, nil)
	err := p.ProduceSync(ctx, &Record{Topic: "small", Value: make([]byte, 1000)})
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("oversized record: %v, want ErrRecordTooLarge", err)
	}
	if err := p.ProduceSync(ctx, &Record{Topic: "small", Value: make([]byte, 800)}); err != nil {
		t.Errorf("a record within max.message.bytes: %v", err)
	}
	if err := p.ProduceSync(ctx, &Record{Topic: "nope", Value: []byte("x")}); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("unknown topic: %v, want ErrUnknownTopic", err)
	}

	auto := newProducer(t, db, &ProducerOptions{AutoCreateTopics: true, AutoCreatePartitions: 3})
	if err := auto.ProduceSync(ctx, &Record{Topic: "made", Value: []byte("x")}); err != nil {
		t.Fatalf("auto-create: %v", err)
	}
	if info, err := db.Topic("made"); err != nil || len(info.Partitions) != 3 {
		t.Fatalf("auto-created topic: %+v, %v", info, err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &Record{Topic: "t", Value: []byte("late")}); !errors.Is(err, ErrProducerClosed) {
		t.Errorf("produce after Close: %v, want ErrProducerClosed", err)
	}
}

// TestProducerDeletedTopic checks that records to a topic deleted under the
// producer fail with ErrUnknownTopic and that records to a topic created
// anew under the name then succeed.
func TestProducerDeletedTopic(t *testing.T) {
	db := openDB(t, 2)
	p := newProducer(t, db, nil)
	produceValues(t, p, "before", 3)
	if err := db.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	err := p.ProduceSync(ctx, &Record{Topic: "t", Value: []byte("x")})
	if !errors.Is(err, ErrUnknownTopic) && !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("produce to a deleted topic: %v", err)
	}
	if err := db.CreateTopic(ctx, "t", 1, map[string]string{"retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	r := &Record{Topic: "t", Value: []byte("again")}
	if err := p.ProduceSync(ctx, r); err != nil || r.Offset != 0 {
		t.Fatalf("produce to the topic made anew: offset %d, %v", r.Offset, err)
	}
}

// TestLingerAndFlush: with a long linger nothing is written until Flush,
// which writes everything and waits.
func TestLingerAndFlush(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, &ProducerOptions{Linger: time.Hour})
	var acked sync.WaitGroup
	acked.Add(10)
	for i := range 10 {
		p.Produce(ctx, &Record{Topic: "t", Value: []byte(fmt.Sprint(i))}, func(_ *Record, err error) {
			if err != nil {
				t.Error(err)
			}
			acked.Done()
		})
	}
	if _, hwm, _ := db.Offsets("t", 0); hwm != 0 {
		t.Fatalf("high watermark %d before Flush with a linger of an hour", hwm)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	acked.Wait()
	if _, hwm, _ := db.Offsets("t", 0); hwm != 10 {
		t.Fatalf("high watermark %d after Flush, want 10", hwm)
	}
}

// TestBatchBytes: records beyond BatchBytes start a new batch.
func TestBatchBytes(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, &ProducerOptions{Linger: time.Hour, BatchBytes: 4096})
	for range 100 {
		p.Produce(ctx, &Record{Topic: "t", Value: make([]byte, 100)}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := db.s.Read("t", 0, 0, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	for b := f.Batches; len(b) > 0; batches++ {
		one, rest, err := format.NextBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) > 4096 {
			t.Fatalf("batch of %d bytes, BatchBytes is 4096", len(one))
		}
		b = rest
	}
	if batches < 100*140/4096 {
		t.Fatalf("%d batches for 100 records of 100 bytes in batches of 4 KiB", batches)
	}
}

// TestBackPressure: with the buffer full, Produce waits, and gives up when
// its context ends.
func TestBackPressure(t *testing.T) {
	db := openDB(t, 1)
	p := newProducer(t, db, &ProducerOptions{MaxBufferedBytes: 1000})
	release := make(chan struct{})
	commit := p.commit
	p.commit = func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error {
		go func() {
			<-release
			if err := commit(ctx, txn, done); err != nil {
				done(nil, err)
			}
		}()
		return nil
	}
	first := p.Send(ctx, &Record{Topic: "t", Value: make([]byte, 900)})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	second := p.Send(cctx, &Record{Topic: "t", Value: make([]byte, 900)})
	if _, err := second.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("produce into a full buffer with a cancelled context: %v", err)
	}
	close(release)
	if r, err := first.Wait(ctx); err != nil || r.Offset != 0 {
		t.Fatalf("first record: %v", err)
	}
}

// TestIdempotentRetry loses the acknowledgement of commits that were
// written, so that the producer retries them: with idempotence each batch is
// in the log once and the records get the offsets of the first write;
// without, the retries write duplicates, which is what idempotence is for.
func TestIdempotentRetry(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idempotent), func(t *testing.T) {
			db := openDB(t, 2)
			p := newProducer(t, db, &ProducerOptions{DisableIdempotence: !idempotent, Partitioner: RoundRobinPartitioner()})
			commit := p.commit
			lost := 0
			p.commit = func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error {
				return commit(ctx, txn, func(res []store.AppendResult, err error) {
					if err == nil && lost < 3 {
						lost++
						done(nil, errors.New("injected: acknowledgement lost"))
						return
					}
					done(res, err)
				})
			}
			rs := produceValues(t, p, "r", 10)
			var logged []string
			for part := range int32(2) {
				for _, v := range readValues(t, db, "t", part) {
					logged = append(logged, v)
				}
			}
			if idempotent {
				if len(logged) != 10 {
					t.Fatalf("%d records in the log after retries, want 10: %v", len(logged), logged)
				}
				for _, r := range rs {
					if got := readValues(t, db, "t", r.Partition)[r.Offset]; got != string(r.Value) {
						t.Fatalf("%s acknowledged at %d/%d, which holds %s", r.Value, r.Partition, r.Offset, got)
					}
				}
			} else if len(logged) <= 10 {
				t.Fatalf("without idempotence the lost acknowledgements should have written duplicates; %d records", len(logged))
			}
		})
	}
}

// readValues returns every value of a partition, by offset from 0.
func readValues(t testing.TB, db *DB, topic string, partition int32) []string {
	t.Helper()
	c := newConsumer(t, db, nil)
	if err := c.Assign(topic, partition); err != nil {
		t.Fatal(err)
	}
	_, hwm, err := db.Offsets(topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range pollAll(t, c, int(hwm)) {
		out = append(out, string(r.Value))
	}
	return out
}

// TestConcurrentProducers shares one producer among goroutines that call
// ProduceSync and, now and then, Produce, and checks that every record is
// acknowledged once with a distinct offset, that each goroutine's records
// of a partition are in the order produced, and that Produce's callbacks run
// on the sender, never on a goroutine in ProduceSync (which acknowledges the
// commits it made of its own records alone).
func TestConcurrentProducers(t *testing.T) {
	db := openDB(t, 3)
	p := newProducer(t, db, nil)
	const goroutines, each, asyncEvery = 8, 300, 3
	var wg, async sync.WaitGroup
	results := make([][]*Record, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := &Record{Topic: "t", Key: []byte(fmt.Sprint(g)), Value: fmt.Appendf(nil, "%d-%d", g, i)}
				if i%asyncEvery == 0 {
					async.Add(1)
					p.Produce(ctx, &Record{Topic: "t", Value: fmt.Appendf(nil, "%d-%d-async", g, i)}, func(_ *Record, err error) {
						if err != nil {
							t.Error(err)
						}
						if calledBy("(*Producer).writeAndAcknowledge") || !calledBy("(*Producer).send") {
							t.Error("a callback of Produce ran off the sender")
						}
						async.Done()
					})
				}
				if err := p.ProduceSync(ctx, r); err != nil {
					t.Error(err)
					return
				}
				results[g] = append(results[g], r)
			}
		})
	}
	wg.Wait()
	async.Wait()
	seen := map[[2]int64]bool{}
	for g, rs := range results {
		if len(rs) != each {
			t.Fatalf("goroutine %d: %d records", g, len(rs))
		}
		for i, r := range rs {
			k := [2]int64{int64(r.Partition), r.Offset}
			if seen[k] {
				t.Fatalf("two records acknowledged at %v", k)
			}
			seen[k] = true
			if i > 0 && r.Offset <= rs[i-1].Offset {
				t.Fatalf("goroutine %d: record %d at offset %d after %d", g, i, r.Offset, rs[i-1].Offset)
			}
		}
	}
	total := 0
	for part := range int32(3) {
		_, hwm, _ := db.Offsets("t", part)
		total += int(hwm)
	}
	if want := goroutines * (each + (each+asyncEvery-1)/asyncEvery); total != want {
		t.Fatalf("%d records in the log, want %d", total, want)
	}
}

// TestLogAppendTime: in a LogAppendTime topic the acknowledged and consumed
// timestamps are the commit's, not the producer's.
func TestLogAppendTime(t *testing.T) {
	db := openDB(t, 0)
	if err := db.CreateTopic(ctx, "t", 1, map[string]string{"message.timestamp.type": "LogAppendTime", "retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, db, nil)
	old := time.UnixMilli(1000)
	before := time.Now().Add(-time.Second)
	r := &Record{Topic: "t", Value: []byte("x"), Timestamp: old}
	if err := p.ProduceSync(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.Timestamp.Before(before) {
		t.Fatalf("acknowledged timestamp %v, want the commit's time", r.Timestamp)
	}
	c := newConsumer(t, db, nil)
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	if got := pollAll(t, c, 1)[0]; !got.Timestamp.Equal(r.Timestamp) {
		t.Fatalf("consumed timestamp %v, acknowledged %v", got.Timestamp, r.Timestamp)
	}
}

// TestProduceOneByOne: records produced one at a time, each after the last
// was acknowledged, find the producer idle and are committed by the
// goroutine that produces them (with ProduceSync, acknowledged there too);
// bursts between them go through the sender, and some acknowledgements are
// lost, so that commits of both kinds are retried. Every record is
// acknowledged once, in the order produced, at the offset that holds it,
// the stored batches are numbered in sequence, and Close waits for a record
// committed by its producing goroutine.
func TestProduceOneByOne(t *testing.T) {
	for _, produceSync := range []bool{false, true} {
		for _, c := range []Compression{NoCompression, Zstd} {
			t.Run(fmt.Sprintf("sync=%v/%s", produceSync, c), func(t *testing.T) { testProduceOneByOne(t, produceSync, c) })
		}
	}
}

func testProduceOneByOne(t *testing.T, produceSync bool, c Compression) {
	db := openDB(t, 2)
	p, err := db.NewProducer(&ProducerOptions{Compression: c})
	if err != nil {
		t.Fatal(err)
	}
	committer := "(*Producer).Produce"
	if produceSync {
		committer = "(*Producer).writeAndAcknowledge"
	}
	var commits, direct atomic.Int32
	commit := p.commit
	p.commit = func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error {
		if calledBy(committer) {
			direct.Add(1)
		}
		n := commits.Add(1)
		return commit(ctx, txn, func(res []store.AppendResult, err error) {
			if err == nil && n%5 == 0 {
				done(nil, errors.New("injected: acknowledgement lost"))
				return
			}
			done(res, err)
		})
	}
	var mu sync.Mutex
	var produced, acked [2][]*Record
	ack := make(chan struct{}, 1000)
	done := func(r *Record, err error) {
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		acked[r.Partition] = append(acked[r.Partition], r)
		mu.Unlock()
		ack <- struct{}{}
	}
	produce := func(v string) {
		r := &Record{Topic: "t", Value: []byte(v)}
		p.Produce(ctx, r, done)
		mu.Lock()
		produced[r.Partition] = append(produced[r.Partition], r)
		mu.Unlock()
	}
	produceOne := func(v string, last bool) {
		if !produceSync {
			produce(v)
			if !last {
				<-ack
			}
			return
		}
		r := &Record{Topic: "t", Value: []byte(v)}
		if err := p.ProduceSync(ctx, r); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		produced[r.Partition] = append(produced[r.Partition], r)
		acked[r.Partition] = append(acked[r.Partition], r)
		mu.Unlock()
	}
	const rounds, oneByOne, burst = 3, 20, 50
	for round := range rounds {
		for i := range oneByOne {
			// Once the sender is done with the last commit, so that this
			// record finds the producer idle.
			waitCommitted(p)
			produceOne(fmt.Sprintf("%d-one-%d", round, i), round == rounds-1 && i == oneByOne-1)
		}
		if round == rounds-1 {
			break // Close waits for the last record
		}
		for i := range burst {
			produce(fmt.Sprintf("%d-burst-%d", round, i))
		}
		for range burst {
			<-ack
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// One record of each round's one by one goes through the sender when
	// the commit before it held several; the others are the producing
	// goroutine's.
	if n := direct.Load(); n < rounds*(oneByOne-1) {
		t.Errorf("%d commits made by %s, want at least %d", n, committer, rounds*(oneByOne-1))
	}
	total := 0
	for part := range int32(2) {
		if len(acked[part]) != len(produced[part]) {
			t.Fatalf("partition %d: %d records acknowledged of %d produced", part, len(acked[part]), len(produced[part]))
		}
		values := readValues(t, db, "t", part)
		if len(values) != len(produced[part]) {
			t.Fatalf("partition %d: %d records stored of %d produced: %v", part, len(values), len(produced[part]), values)
		}
		for i, r := range produced[part] {
			if acked[part][i] != r {
				t.Fatalf("partition %d: acknowledgement %d is %s, produced %s", part, i, acked[part][i].Value, r.Value)
			}
			if r.Offset != int64(i) || values[i] != string(r.Value) {
				t.Fatalf("partition %d: %s, the record %d produced, acknowledged at offset %d; offset %d holds %s", part, r.Value, i, r.Offset, i, values[i])
			}
		}
		total += len(values)
		checkSequences(t, db, p.id, part, len(values))
	}
	if total != rounds*oneByOne+(rounds-1)*burst {
		t.Fatalf("%d records stored, want %d", total, rounds*oneByOne+(rounds-1)*burst)
	}
}

// TestProduceSyncWakesSender: a record produced while ProduceSync's own
// commit is out waits for the sender, which that commit's landing does not
// reach; ProduceSync wakes it once it has acknowledged its record.
func TestProduceSyncWakesSender(t *testing.T) {
	db := openDB(t, 1)
	p, err := db.NewProducer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitCommitted(p)
	if err := p.ProduceSync(ctx, &Record{Topic: "t", Value: []byte("first")}); err != nil {
		t.Fatal(err) // the one record of this commit makes the next find the producer idle
	}
	waitCommitted(p)
	out, release := make(chan struct{}), make(chan struct{})
	commit := p.commit
	p.commit = func(ctx context.Context, txn *store.Txn, done func([]store.AppendResult, error)) error {
		if calledBy("(*Producer).writeAndAcknowledge") {
			close(out)
			<-release
		}
		return commit(ctx, txn, done)
	}
	synced := make(chan error, 1)
	go func() { synced <- p.ProduceSync(ctx, &Record{Topic: "t", Value: []byte("sync")}) }()
	<-out
	acked := make(chan error, 1)
	p.Produce(ctx, &Record{Topic: "t", Value: []byte("meanwhile")}, func(_ *Record, err error) { acked <- err })
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-acked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the record produced during ProduceSync's commit was not acknowledged within a minute: the sender was not woken")
	}
	if got := readValues(t, db, "t", 0); !slices.Equal(got, []string{"first", "sync", "meanwhile"}) {
		t.Fatalf("stored %q", got)
	}
}

// calledBy reports whether a function whose name ends with fn is among the
// callers.
func calledBy(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// waitCommitted waits until p has no commit out.
func waitCommitted(p *Producer) {
	for {
		p.mu.Lock()
		committing := p.committing
		p.mu.Unlock()
		if !committing {
			return
		}
		runtime.Gosched()
	}
}

// checkSequences checks that the batches of a partition are the records
// from offset 0 to n of producer id, numbered in sequence from 0.
func checkSequences(t *testing.T, db *DB, id producerID, partition int32, n int) {
	t.Helper()
	f, err := db.s.Read("t", partition, 0, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for b := f.Batches; len(b) > 0; {
		batch, rest, err := format.NextBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := format.ValidateBatch(batch)
		if err != nil {
			t.Fatalf("partition %d: batch at offset %d: %v", partition, h.BaseOffset, err)
		}
		if h.BaseOffset != int64(records) || h.BaseSequence != int32(records) || h.ProducerID != id.id || h.ProducerEpoch != id.epoch {
			t.Fatalf("partition %d: batch at offset %d: producer %d/%d sequence %d, want offset %d, producer %d/%d sequence %d",
				partition, h.BaseOffset, h.ProducerID, h.ProducerEpoch, h.BaseSequence, records, id.id, id.epoch, records)
		}
		records += int(h.RecordCount)
		b = rest
	}
	if records != n {
		t.Fatalf("partition %d: %d records in batches, want %d", partition, records, n)
	}
}
