package spool_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool"
)

// tempFile returns a path for a new spool file and a function removing it.
func tempFile() (string, func()) {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(dir, "events.spool"), func() { os.RemoveAll(dir) }
}

// exampleDB opens a new file with one topic; done closes and removes it.
func exampleDB(topic string, partitions int, config map[string]string) (db *spool.DB, done func()) {
	path, cleanup := tempFile()
	db, err := spool.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.CreateTopic(context.Background(), topic, partitions, config); err != nil {
		log.Fatal(err)
	}
	return db, func() {
		db.Close()
		cleanup()
	}
}

// Produce records with keys, then consume them as a group and commit.
func Example() {
	path, cleanup := tempFile()
	defer cleanup()
	ctx := context.Background()

	db, err := spool.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTopic(ctx, "orders", 1, nil); err != nil {
		log.Fatal(err)
	}

	p, err := db.NewProducer(nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range []string{"created", "paid", "shipped"} {
		if err := p.ProduceSync(ctx, &spool.Record{Topic: "orders", Key: []byte("order-42"), Value: []byte(v)}); err != nil {
			log.Fatal(err)
		}
	}
	p.Close()

	c, err := db.NewConsumer(&spool.ConsumerOptions{Group: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Assign("orders"); err != nil {
		log.Fatal(err)
	}
	f, err := c.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for r := range f.Records() {
		fmt.Printf("%d %s %s\n", r.Offset, r.Key, r.Value)
	}
	if err := c.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0 order-42 created
	// 1 order-42 paid
	// 2 order-42 shipped
}

// Produce without waiting: the callback reports each record's offset once
// it is written, and Flush waits for all of them.
func ExampleProducer_Produce() {
	ctx := context.Background()
	db, done := exampleDB("clicks", 1, nil)
	defer done()
	p, err := db.NewProducer(&spool.ProducerOptions{Compression: spool.Zstd, Linger: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	written := make(chan int64, 3)
	for i := range 3 {
		p.Produce(ctx, &spool.Record{Topic: "clicks", Value: fmt.Appendf(nil, "click %d", i)}, func(r *spool.Record, err error) {
			if err != nil {
				log.Print(err)
				return
			}
			written <- r.Offset
		})
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	close(written)
	for off := range written {
		fmt.Println("written at offset", off)
	}
	// Output:
	// written at offset 0
	// written at offset 1
	// written at offset 2
}

// Send returns a Future to wait on later.
func ExampleProducer_Send() {
	ctx := context.Background()
	db, done := exampleDB("jobs", 1, nil)
	defer done()
	p, err := db.NewProducer(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	f := p.Send(ctx, &spool.Record{Topic: "jobs", Value: []byte("resize image 7")})
	r, err := f.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Topic, r.Partition, r.Offset)
	// Output: jobs 0 0
}

// A key goes to the partition Kafka's default partitioner gives it (the
// figures are those franz-go's and the Java client's partitioners give).
func ExamplePartitionForKey() {
	for _, key := range []string{"order-42", "order-43", "user-7"} {
		fmt.Println(key, spool.PartitionForKey([]byte(key), 12))
	}
	// Output:
	// order-42 0
	// order-43 10
	// user-7 8
}

// Follow a topic's tail: Poll waits for new records until its context
// ends.
func ExampleConsumer_Poll() {
	ctx := context.Background()
	db, done := exampleDB("logs", 2, nil)
	defer done()
	c, err := db.NewConsumer(&spool.ConsumerOptions{Group: "tail", Reset: spool.Latest()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Assign("logs"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Position("logs", 0); err != nil { // fix "latest" before producing
		log.Fatal(err)
	}
	if _, err := c.Position("logs", 1); err != nil {
		log.Fatal(err)
	}

	go func() {
		p, err := db.NewProducer(nil)
		if err != nil {
			log.Fatal(err)
		}
		defer p.Close()
		p.ProduceSync(ctx, &spool.Record{Topic: "logs", Value: []byte("disk 91% full")})
	}()

	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	f, err := c.Poll(wait)
	if err != nil {
		log.Fatal(err)
	}
	for r := range f.Records() {
		fmt.Println(string(r.Value))
	}
	// Output: disk 91% full
}

// Start a new group from a point in time, and read how far behind it is.
func ExampleDB_Lag() {
	ctx := context.Background()
	db, done := exampleDB("metrics", 1, map[string]string{"retention.ms": "-1"})
	defer done()
	p, err := db.NewProducer(nil)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		p.ProduceSync(ctx, &spool.Record{Topic: "metrics", Value: []byte("cpu"), Timestamp: start.Add(time.Duration(i) * time.Minute)})
	}
	p.Close()

	c, err := db.NewConsumer(&spool.ConsumerOptions{Group: "report", DisableAutoCommit: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Assign("metrics"); err != nil {
		log.Fatal(err)
	}
	if err := c.Seek("metrics", 0, spool.AtTime(start.Add(6*time.Minute))); err != nil {
		log.Fatal(err)
	}
	if err := c.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	lags, err := db.Lag("report")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range lags {
		fmt.Printf("%s/%d committed %d of %d: lag %d\n", l.Topic, l.Partition, l.Committed, l.HighWatermark, l.Lag)
	}
	// Output: metrics/0 committed 6 of 10: lag 4
}

// A pipeline that reads orders and writes one invoice per order, exactly
// once: each invoice is committed with its order's acknowledgement.
func ExampleWorkers() {
	db, done := exampleDB("orders", 4, nil)
	defer done()
	ctx := context.Background()
	if err := db.CreateTopic(ctx, "invoices", 4, nil); err != nil {
		log.Fatal(err)
	}
	p, err := db.NewProducer(nil)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 100 {
		if err := p.ProduceSync(ctx, &spool.Record{Topic: "orders", Key: fmt.Appendf(nil, "order-%d", i), Value: []byte("10.00")}); err != nil {
			log.Fatal(err)
		}
	}
	p.Close()

	ctx, stop := context.WithCancel(ctx)
	var handled atomic.Int64
	w, err := db.NewWorkers(spool.WorkersOptions{
		ConsumerOptions: spool.ConsumerOptions{Group: "billing"},
		Topics:          []string{"orders"},
		Ordering:        spool.PerKey,
		Delivery:        spool.ExactlyOnce,
	}, func(ctx context.Context, r *spool.Record, tx *spool.Tx) error {
		err := tx.Produce(&spool.Record{Topic: "invoices", Key: r.Key, Value: append([]byte("invoice for "), r.Key...)})
		if handled.Add(1) == 100 {
			stop() // Run commits this record, hands everything over and returns
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	lags, err := db.Lag("billing")
	if err != nil {
		log.Fatal(err)
	}
	var lag int64
	for _, l := range lags {
		lag += l.Lag
	}
	invoices := int64(0)
	for part := range int32(4) {
		_, end, _ := db.Offsets("invoices", part)
		invoices += end
	}
	fmt.Println("invoices:", invoices, "lag:", lag)
	// Output: invoices: 100 lag: 0
}
