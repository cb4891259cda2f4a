// Command sqlite-offsets consumes a spool topic of payments into SQLite
// exactly once, across crashes: each record is handled in one SQLite
// transaction that inserts the payment and saves the group's position, and
// Workers resumes each partition at the position SQLite holds (see package
// offsets).
//
//	go run . -spool payments.spool -sqlite payments.db -n 1000
//
// The first run creates the topic and produces n payments; every run then
// handles the payments not yet in SQLite and stops. Kill it at any point
// and run it again: every payment ends up in SQLite once.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"

	_ "github.com/mattn/go-sqlite3"
	"github.com/spooldb/spool"
	"github.com/spooldb/spool/examples/sqlite-offsets/offsets"
)

const (
	topic      = "payments"
	partitions = 4
	group      = "billing"
)

func main() {
	spoolPath := flag.String("spool", "payments.spool", "the spool file, created with its topic if missing")
	sqlitePath := flag.String("sqlite", "payments.db", "the SQLite database the payments go to")
	n := flag.Int("n", 1000, "payments to produce into a new spool file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *spoolPath, *sqlitePath, *n, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run produces n payments into a new spool file, handles those not yet in
// SQLite and reports what SQLite holds.
func run(ctx context.Context, spoolPath, sqlitePath string, n int, out io.Writer) error {
	sp, err := spool.Open(spoolPath, nil)
	if err != nil {
		return err
	}
	defer sp.Close()
	if _, err := sp.Topic(topic); errors.Is(err, spool.ErrUnknownTopic) {
		if err := produce(ctx, sp, n); err != nil {
			return err
		}
		fmt.Fprintf(out, "produced %d payments to %s\n", n, topic)
	} else if err != nil {
		return err
	}
	sq, store, err := openSQLite(ctx, sqlitePath)
	if err != nil {
		return err
	}
	defer sq.Close()
	handled, err := catchUp(ctx, sp, sq, store)
	if err != nil {
		return err
	}
	var rows, ids int
	if err := sq.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT id) FROM payments`).Scan(&rows, &ids); err != nil {
		return err
	}
	fmt.Fprintf(out, "handled %d payments; SQLite holds %d rows for %d payments\n", handled, rows, ids)
	return nil
}

// produce creates the topic and produces n payments to it, keyed by
// customer.
func produce(ctx context.Context, sp *spool.DB, n int) error {
	if err := sp.CreateTopic(ctx, topic, partitions, map[string]string{"retention.ms": "-1"}); err != nil {
		return err
	}
	p, err := sp.NewProducer(nil)
	if err != nil {
		return err
	}
	rs := make([]*spool.Record, n)
	for i := range rs {
		rs[i] = &spool.Record{Topic: topic, Key: fmt.Appendf(nil, "customer-%d", i%97), Value: paymentID(i)}
	}
	if err := p.ProduceSync(ctx, rs...); err != nil {
		p.Close()
		return err
	}
	return p.Close()
}

// paymentID is the value of the i-th payment produced.
func paymentID(i int) []byte { return fmt.Appendf(nil, "payment-%05d", i) }

// openSQLite opens the SQLite database at path, with the payments table
// and the offsets Store. Transactions begin IMMEDIATE, taking the write
// lock at once, so that processes writing together wait for each other
// (up to the busy timeout) instead of failing; synchronous=FULL makes a
// commit durable across a power failure too, not only a crash.
//
// payments has no UNIQUE constraint on id, on purpose: it would turn a
// payment handled twice into an error, or with an upsert hide it, where
// this example shows that none is.
func openSQLite(ctx context.Context, path string) (*sql.DB, *offsets.Store, error) {
	sq, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=30000&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	if _, err := sq.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS payments (
	id          TEXT    NOT NULL,
	customer    TEXT    NOT NULL,
	topic       TEXT    NOT NULL,
	"partition" INTEGER NOT NULL,
	"offset"    INTEGER NOT NULL
)`); err != nil {
		sq.Close()
		return nil, nil, err
	}
	store, err := offsets.New(ctx, sq)
	if err != nil {
		sq.Close()
		return nil, nil, err
	}
	return sq, store, nil
}

// newWorkers returns the group member that handles payments: partitions
// one record at a time in offset order (an OffsetStore needs it), starting
// where SQLite says. copts adds to the group's consumer options; handled,
// if not nil, is called after each record's transaction committed.
//
// The Delivery is AtLeastOnce, the default: the acknowledgements Workers
// commits to the spool file now and then matter only for partitions
// SQLite has no position for, and ExactlyOnce would sync the file after
// every record for nothing.
func newWorkers(sp *spool.DB, sq *sql.DB, store *offsets.Store, copts spool.ConsumerOptions, handled func(*spool.Record)) (*spool.Workers, error) {
	copts.Group = group
	return sp.NewWorkers(spool.WorkersOptions{
		ConsumerOptions: copts,
		Topics:          []string{topic},
		Ordering:        spool.PerPartition,
		OffsetStore:     store,
	}, func(ctx context.Context, r *spool.Record, _ *spool.Tx) error {
		if err := handle(ctx, sq, store, r); err != nil {
			return err
		}
		if handled != nil {
			handled(r)
		}
		return nil
	})
}

// handle applies one payment: the row and the position after it, in one
// transaction. database/sql rolls the transaction back if ctx ends before
// Commit (the partition was taken from this member), and the new owner
// handles the record again. If the position is past the record already
// (offsets.ErrPassed), another member applied it: the transaction rolls
// back and the error stops the pool, as a record delivered twice should.
func handle(ctx context.Context, sq *sql.DB, store *offsets.Store, r *spool.Record) error {
	tx, err := sq.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // nothing once committed
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, customer, topic, "partition", "offset") VALUES (?, ?, ?, ?, ?)`,
		string(r.Value), string(r.Key), r.Topic, r.Partition, r.Offset); err != nil {
		return err
	}
	if err := store.Save(ctx, tx, group, r); err != nil {
		return err
	}
	return tx.Commit()
}

// catchUp handles the payments that SQLite does not hold yet, up to the
// end of each partition as it is when catchUp starts, and returns how many
// it handled.
func catchUp(ctx context.Context, sp *spool.DB, sq *sql.DB, store *offsets.Store) (int, error) {
	info, err := sp.Topic(topic)
	if err != nil {
		return 0, err
	}
	ends := map[int32]int64{} // the partitions to finish, and where they end
	for _, p := range info.Partitions {
		tp := spool.TopicPartition{Topic: topic, Partition: p.Partition}
		pos, _, err := store.Position(ctx, group, tp)
		if err != nil {
			return 0, err
		}
		if pos < p.HighWatermark {
			ends[p.Partition] = p.HighWatermark
		}
	}
	if len(ends) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	handled := 0
	w, err := newWorkers(sp, sq, store, spool.ConsumerOptions{}, func(r *spool.Record) {
		mu.Lock()
		defer mu.Unlock()
		handled++
		if end, ok := ends[r.Partition]; ok && r.Offset+1 >= end {
			delete(ends, r.Partition)
			if len(ends) == 0 {
				cancel()
			}
		}
	})
	if err != nil {
		return 0, err
	}
	err = w.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	return handled, err
}
