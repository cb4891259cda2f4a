// Package spool is an event stream in one file: Kafka's topics, partitions,
// offsets, consumer groups and retention, kept in a single file on one host,
// the way SQLite keeps a relational database.
//
// Open a file, create a topic, produce records and consume them:
//
//	db, err := spool.Open("events.spool", nil)
//	...
//	err = db.CreateTopic(ctx, "orders", 4, nil)
//
//	p, err := db.NewProducer(nil)
//	err = p.ProduceSync(ctx, &spool.Record{Topic: "orders", Key: []byte("42"), Value: []byte("paid")})
//
//	c, err := db.NewConsumer(&spool.ConsumerOptions{Group: "billing"})
//	err = c.Assign("orders")
//	for {
//		f, err := c.Poll(ctx)
//		...
//		for r := range f.Records() {
//			// r.Key, r.Value, r.Offset ...
//		}
//		err = c.Commit(ctx)
//	}
//
// Records are stored as Kafka RecordBatch v2, byte for byte: a key goes to
// the partition Kafka's default partitioner would give it, compressed batches
// are compressed as Kafka compresses them, and a group's committed offsets
// are kept in the same file, under the same journal, as the records.
//
// A DB may be opened by several processes at once; each commit is atomic,
// and with DurabilitySync (the default) acknowledged only once it is on disk.
// A crash at any point leaves the file openable with every acknowledged
// commit in it.
package spool
