package main

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// Limits of one batch built from input lines.
const (
	batchRecords = 1000
	batchBytes   = 256 << 10
)

func newProduce(g *globals) *cobra.Command {
	var partition int32
	var value string
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Append records: one per line of standard input, or --value",
		Example: `  seq 1 1000 | spool -f events.spool produce orders
  spool -f events.spool produce orders --partition 2 --value '{"id": 7}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(false, func(s *store.Store) error {
				t, err := s.Topic(args[0])
				if err != nil {
					return err
				}
				p := &producer{s: s, cmd: cmd, topic: args[0], partitions: int32(len(t.Partitions)), partition: partition}
				if partition >= p.partitions {
					return fmt.Errorf("--partition %d: topic %s has partitions 0 to %d", partition, args[0], p.partitions-1)
				}
				if cmd.Flags().Changed("value") {
					p.add([]byte(value))
				} else if err := p.lines(cmd.InOrStdin()); err != nil {
					return err
				}
				if err := p.flush(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "produced %d records to %s\n", p.count, args[0])
				return nil
			})
		},
	}
	cmd.Flags().Int32VarP(&partition, "partition", "p", -1, "the partition (default: batches go round-robin)")
	cmd.Flags().StringVar(&value, "value", "", "produce one record with this value instead of reading standard input")
	return cmd
}

// producer batches records and commits each batch to the next partition.
type producer struct {
	s          *store.Store
	topic      string
	partitions int32
	partition  int32 // fixed partition, or -1
	next       int32 // next round-robin partition
	bb         format.BatchBuilder
	buf        []byte
	count      int
	cmd        *cobra.Command
}

func (p *producer) lines(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), store.DefaultMaxMessageBytes)
	for sc.Scan() {
		p.add(sc.Bytes())
		if p.bb.Len() >= batchRecords || p.bb.Size() >= batchBytes {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	return nil
}

func (p *producer) add(v []byte) {
	if p.bb.Len() == 0 {
		p.bb.Reset(time.Now().UnixMilli())
	}
	p.bb.Append(time.Now().UnixMilli(), nil, v)
}

func (p *producer) flush() error {
	if p.bb.Len() == 0 {
		return nil
	}
	part := p.partition
	if part < 0 {
		part = p.next
		p.next = (p.next + 1) % p.partitions
	}
	p.buf = p.bb.Build(p.buf[:0])
	n := p.bb.Len()
	p.bb.Reset(0)
	if _, err := p.s.Commit(cmdContext(p.cmd), &store.Txn{Appends: []store.Append{{Topic: p.topic, Partition: part, Batches: p.buf}}}); err != nil {
		return err
	}
	p.count += n
	return nil
}
