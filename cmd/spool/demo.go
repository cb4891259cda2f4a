package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	spooldb "github.com/spooldb/spool"
	"github.com/spooldb/spool/internal/store"
)

func newDemo() *cobra.Command {
	var file string
	var records int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Create a file, produce, consume with a group of workers, and show the lag",
		Long: `demo walks through spool in one run: it creates a file with a three-partition
topic, produces keyed records from several goroutines (sharing syncs by group
commit), and consumes them with a Workers pool, a member of the consumer group
"billing" that runs a handler on four goroutines, one record of a key at a
time. It prints the group's lag table (spool group describe) before the pool
starts work, midway while the group is behind, and at the end, and explains
what the table shows. The pool is held at half of the records for the middle
table, so that the figures are the same on every run.`,
		Example: `  spool demo
  spool demo --records 100000 --file demo.spool && spool -f demo.spool group describe billing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if records < 2 {
				return fmt.Errorf("--records %d: want 2 or more", records)
			}
			if file == "" {
				dir, err := os.MkdirTemp("", "spool-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				file = filepath.Join(dir, "demo.spool")
			} else if _, err := os.Stat(file); err == nil {
				return hinted{fmt.Errorf("--file %s exists", file), "name a path where no file is, or remove it first"}
			}
			return runDemo(cmdContext(cmd), cmd.OutOrStdout(), file, records)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "where to create the demo file, which must not exist (default: a temporary file, removed after)")
	cmd.Flags().IntVar(&records, "records", 30000, "how many records to produce")
	return cmd
}

const (
	demoTopic      = "orders"
	demoGroup      = "billing"
	demoPartitions = 3
	demoProducers  = 4
	demoWorkers    = 4
	demoCustomers  = 50
	// demoDeadline bounds each wait for the group, which takes milliseconds.
	demoDeadline = time.Minute
)

func runDemo(ctx context.Context, out io.Writer, path string, records int) (err error) {
	db, err := spooldb.Open(path, &spooldb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	if err := db.CreateTopic(ctx, demoTopic, demoPartitions, nil); err != nil {
		return err
	}
	fmt.Fprintf(out, "1. Created %s with the topic %q, %d partitions.\n", path, demoTopic, demoPartitions)

	began := time.Now()
	if err := demoProduce(ctx, db, records); err != nil {
		return err
	}
	fmt.Fprintf(out, "2. Produced %d orders of %d customers (the key) from %d goroutines in %v; each commit was on disk before it was acknowledged.\n",
		records, demoCustomers, demoProducers, time.Since(began).Round(time.Millisecond))

	// The tables are read as spool group describe reads them: through a
	// read-only view of the file, which sees the pool's commits.
	view, err := store.Open(path, store.Options{ReadOnly: true, NoCreate: true})
	if err != nil {
		return err
	}
	defer view.Close()

	// The handler waits at two gates: until the first table is printed, and
	// after half of the records until the second is.
	half := int64(records / 2)
	var handled atomic.Int64
	started, resumed := make(chan struct{}), make(chan struct{})
	start, resume := sync.OnceFunc(func() { close(started) }), sync.OnceFunc(func() { close(resumed) })
	w, err := db.NewWorkers(spooldb.WorkersOptions{
		ConsumerOptions: spooldb.ConsumerOptions{Group: demoGroup},
		Topics:          []string{demoTopic},
		Workers:         demoWorkers,
		Ordering:        spooldb.PerKey,
	}, func(ctx context.Context, r *spooldb.Record, tx *spooldb.Tx) error {
		if err := demoGate(ctx, started); err != nil {
			return err
		}
		if handled.Add(1) > half {
			return demoGate(ctx, resumed)
		}
		return nil // bill the order
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- w.Run(runCtx) }()
	defer func() {
		start()
		resume()
		stop()
		err = errors.Join(err, <-ran)
	}()

	r, err := demoWait(ctx, view, ran, func(r groupReport) bool { return r.State == "Stable" && r.owned() == demoPartitions })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "3. A Workers pool of %d goroutines joined the group %q and owns every partition; it has processed nothing yet:\n\n", demoWorkers, demoGroup)
	if err := r.print(indent(out)); err != nil {
		return err
	}

	start()
	r, err = demoWait(ctx, view, ran, func(r groupReport) bool { return r.TotalLag == int64(records)-half })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n4. Midway: the pool has processed %d orders and is held there, so the group is behind:\n\n", half)
	if err := r.print(indent(out)); err != nil {
		return err
	}

	resume()
	r, err = demoWait(ctx, view, ran, func(r groupReport) bool { return r.TotalLag == 0 })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n5. The pool processed the rest; the group has caught up:\n\n")
	if err := r.print(indent(out)); err != nil {
		return err
	}
	fmt.Fprintf(out, `
What the table shows, per partition: CURRENT-OFFSET is the group's committed
offset, where a restarted member resumes; LOG-END-OFFSET is the offset the next
record will get; LAG is the records between them the group has yet to process
(a pool that finished records above its committed offset commits those too, and
they do not count); CONSUMER-ID is the member that owns the partition now, here
the one pool. Below it: the members, alive or not, and their last heartbeat.

The offsets and acknowledgements are in the same file as the records, written
by the same journal commit: had this process been killed at step 4, a restart
would have resumed at exactly the acknowledged records, and a second pool, in
this process or another, would have shared the partitions with the first.
Try it yourself:
  spool -f F topic create orders --partitions 3
  seq 1 100 | spool -f F produce orders
  spool -f F consume orders --group billing --follow     # in two terminals
  spool -f F group describe billing
`)
	return nil
}

// demoGate waits for gate, or for the pool to stop.
func demoGate(ctx context.Context, gate <-chan struct{}) error {
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// demoWait reads the group until done says it is where the demo wants it,
// and returns what it read then.
func demoWait(ctx context.Context, view *store.Store, ran <-chan error, done func(groupReport) bool) (groupReport, error) {
	deadline := time.Now().Add(demoDeadline)
	for {
		r, err := describeGroup(view, demoGroup, time.Now())
		if err == nil && done(r) {
			return r, nil
		}
		if err != nil && !errors.Is(err, errUnknownGroup) {
			return r, err
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("the group did not get there in %v: %+v", demoDeadline, r)
		}
		select {
		case err := <-ran:
			return r, fmt.Errorf("the pool stopped: %v", err)
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// owned returns how many partitions have an owner.
func (r groupReport) owned() int {
	n := 0
	for _, p := range r.Partitions {
		if p.ConsumerID != nil {
			n++
		}
	}
	return n
}

// demoProduce produces records keyed by customer from several producers.
func demoProduce(ctx context.Context, db *spooldb.DB, records int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range demoProducers {
		wg.Go(func() {
			p, err := db.NewProducer(nil)
			if err != nil {
				fail(err)
				return
			}
			for j := i; j < records; j += demoProducers {
				p.Produce(ctx, &spooldb.Record{Topic: demoTopic, Key: fmt.Appendf(nil, "customer-%d", j%demoCustomers),
					Value: fmt.Appendf(nil, `{"order": %d, "amount": %d}`, j, j%97)}, func(_ *spooldb.Record, err error) {
					if err != nil {
						fail(err)
					}
				})
			}
			if err := errors.Join(p.Flush(ctx), p.Close()); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// indent writes through to w with each line indented.
func indent(w io.Writer) io.Writer { return &indenter{w: w, start: true} }

type indenter struct {
	w     io.Writer
	start bool
}

func (d *indenter) Write(b []byte) (int, error) {
	var buf []byte
	for _, c := range b {
		if d.start {
			buf = append(buf, "   "...)
		}
		buf = append(buf, c)
		d.start = c == '\n'
	}
	_, err := d.w.Write(buf)
	return len(b), err
}
