package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

func newDemo() *cobra.Command {
	var file string
	var records int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Create a file, produce, consume with a group, and show the lag",
		Long: `demo walks through spool in one run: it creates a file with a three-partition
topic, produces records from several goroutines (sharing syncs by group commit),
consumes part of them as the consumer group "billing" (committing its offsets in
the same file), reopens the file as a crash or restart would, and prints the
group's lag, read back from the file.`,
		Example: `  spool demo
  spool demo --records 100000 --file demo.spool && spool -f demo.spool stats`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				dir, err := os.MkdirTemp("", "spool-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				file = filepath.Join(dir, "demo.spool")
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), file, records)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "where to create the demo file (default: a temporary file, removed after)")
	cmd.Flags().IntVar(&records, "records", 30000, "how many records to produce")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, path string, records int) error {
	const topic, group, partitions, producers = "orders", "billing", 3, 4
	s, err := store.Open(path, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(out, "1. Created %s and topic %q with %d partitions.\n", path, topic, partitions)
	if err := s.CreateTopic(ctx, topic, partitions, nil); err != nil {
		return err
	}

	start := time.Now()
	if err := demoProduce(ctx, s, topic, partitions, producers, records); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "2. Produced %d records from %d goroutines in %v, each commit synced to disk before it was acknowledged.\n",
		records, producers, elapsed.Round(time.Millisecond))

	// The group consumes all of partition 0, half of partition 1 and none of
	// partition 2, committing as it goes.
	consumed := 0
	for p := range int32(partitions) {
		_, end, err := s.Offsets(topic, p)
		if err != nil {
			return err
		}
		upto := []int64{end, end / 2, 0}[p]
		n, err := demoConsume(ctx, s, topic, group, p, upto)
		if err != nil {
			return err
		}
		consumed += n
	}
	fmt.Fprintf(out, "3. Group %q consumed %d records (all of partition 0, half of 1, none of 2) and committed its offsets.\n", group, consumed)

	if err := s.Close(); err != nil {
		return err
	}
	s, err = store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. Reopened the file: the group's progress is in it, under the same journal as the records.\n\n")
	if err := printLag(out, s, group); err != nil {
		return err
	}
	fmt.Fprintf(out, `
LAG is LOG-END-OFFSET minus CURRENT-OFFSET: the records the group has yet to
process. Try it yourself:
  spool -f F topic create orders --partitions 3
  seq 1 100 | spool -f F produce orders
  spool -f F consume orders --group billing --count 10
  spool -f F group describe billing
`)
	return nil
}

// demoProduce produces records in batches of 100 from several goroutines.
func demoProduce(ctx context.Context, s *store.Store, topic string, partitions, producers, records int) error {
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for w := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var bb format.BatchBuilder
			var buf []byte
			for i := w * 100; i < records; i += producers * 100 {
				bb.Reset(time.Now().UnixMilli())
				for j := i; j < min(i+100, records); j++ {
					bb.Append(time.Now().UnixMilli(), nil, fmt.Appendf(nil, `{"order": %d, "amount": %d}`, j, j%97))
				}
				buf = bb.Build(buf[:0])
				p := int32(i / 100 % partitions)
				if _, err := s.Commit(ctx, &store.Txn{Appends: []store.Append{{Topic: topic, Partition: p, Batches: buf}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// demoConsume reads a partition up to offset upto and commits the group's
// position after each read.
func demoConsume(ctx context.Context, s *store.Store, topic, group string, partition int32, upto int64) (int, error) {
	n := 0
	if upto == 0 {
		// A group that has read nothing yet starts at the earliest offset.
		_, err := s.Commit(ctx, &store.Txn{Offsets: []store.Offset{{Group: group, Topic: topic, Partition: partition}}})
		return 0, err
	}
	for pos := int64(0); pos < upto; {
		f, err := s.Read(topic, partition, pos, 64<<10, nil)
		if err != nil {
			return n, err
		}
		for b := f.Batches; len(b) > 0 && pos < upto; {
			batch, rest, err := format.NextBatch(b)
			if err != nil {
				return n, err
			}
			h, err := format.ParseBatchHeader(batch)
			if err != nil {
				return n, err
			}
			next := min(h.LastOffset()+1, upto)
			n += int(next - max(pos, h.BaseOffset))
			pos = next
			b = rest
		}
		offsets := []store.Offset{{Group: group, Topic: topic, Partition: partition, Offset: pos}}
		if _, err := s.Commit(ctx, &store.Txn{Offsets: offsets}); err != nil {
			return n, err
		}
	}
	return n, nil
}
