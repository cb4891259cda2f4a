package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

func newStats(g *globals) *cobra.Command {
	var output tableOrJSON
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the file's size on disk, its extents, and each partition's share",
		Long: `Show the file's size (its length and the disk space allocated to it, which is
less where parts were never written), its extent size and how many extents it
has, how many hold records, and for each topic and partition: extents, bytes of
record batches, log start and log end offsets, and records (log end minus log
start).

The store does not yet say which of the other extents hold the journal or a
checkpoint and which are free, so stats counts them together.

--format json prints one object with the same figures.`,
		Example: `  spool -f events.spool stats
  spool -f events.spool stats --format json`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return g.with(true, func(s *store.Store) error {
				r, err := fileStats(s, g.file)
				if err != nil {
					return err
				}
				return output.print(cmd.OutOrStdout(), r, r.print)
			})
		},
	}
	output.register(cmd)
	return cmd
}

// statsReport is what stats prints; its JSON form is --format json.
type statsReport struct {
	File       string       `json:"file"`
	Size       int64        `json:"size"`    // the file's length
	OnDisk     int64        `json:"on_disk"` // the disk space allocated, or the length where the OS does not say
	ExtentSize uint32       `json:"extent_size"`
	Extents    extentCounts `json:"extents"`
	Topics     []topicStats `json:"topics"`
}

type extentCounts struct {
	Total int `json:"total"`
	Data  int `json:"data"`
	// Other are journal, checkpoint and free extents, which the store does
	// not yet count apart.
	Other int `json:"journal_checkpoint_or_free"`
}

type topicStats struct {
	Topic      string           `json:"topic"`
	Partitions []partitionStats `json:"partitions"`
}

type partitionStats struct {
	Partition int32 `json:"partition"`
	Extents   int   `json:"extents"`
	Bytes     int64 `json:"bytes"`
	LogStart  int64 `json:"log_start_offset"`
	LogEnd    int64 `json:"log_end_offset"`
	Records   int64 `json:"records"`
}

func fileStats(s *store.Store, path string) (statsReport, error) {
	r := statsReport{File: path}
	fi, err := os.Stat(path)
	if err != nil {
		return r, err
	}
	r.Size, r.OnDisk = fi.Size(), diskUsage(path, fi)
	if r.ExtentSize, err = readExtentSize(path); err != nil {
		return r, err
	}
	if r.Size > format.ExtentsStart {
		// The last extent may still be short: space is allocated ahead of
		// the writer a megabyte at a time.
		r.Extents.Total = int((r.Size - format.ExtentsStart + int64(r.ExtentSize) - 1) / int64(r.ExtentSize))
	}
	topics, err := s.Topics()
	if err != nil {
		return r, err
	}
	for _, t := range topics {
		ts := topicStats{Topic: t.Name}
		for _, p := range t.Partitions {
			ts.Partitions = append(ts.Partitions, partitionStats{Partition: p.Partition, Extents: p.Extents, Bytes: p.Bytes,
				LogStart: p.LogStartOffset, LogEnd: p.HighWatermark, Records: p.HighWatermark - p.LogStartOffset})
			r.Extents.Data += p.Extents
		}
		r.Topics = append(r.Topics, ts)
	}
	r.Extents.Other = max(r.Extents.Total-r.Extents.Data, 0)
	return r, nil
}

// readExtentSize reads the extent size from the file's meta pages; the store
// does not expose it. Both pages name the same size, so either valid one will
// do.
func readExtentSize(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pages := make([]byte, 2*format.PageSize)
	if _, err := io.ReadFull(f, pages); err != nil {
		return 0, fmt.Errorf("reading the meta pages: %w", err)
	}
	m, errA := format.DecodeMeta(pages[:format.MetaSize])
	if errA == nil {
		return m.ExtentSize, nil
	}
	m, errB := format.DecodeMeta(pages[format.PageSize : format.PageSize+format.MetaSize])
	if errB != nil {
		return 0, fmt.Errorf("reading the meta pages: %w", errB)
	}
	return m.ExtentSize, nil
}

func (r statsReport) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "file\t%s\n", r.File)
	fmt.Fprintf(w, "size\t%s (%d bytes), on disk %s (%d bytes)\n", humanBytes(r.Size), r.Size, humanBytes(r.OnDisk), r.OnDisk)
	fmt.Fprintf(w, "extent size\t%s\n", humanBytes(int64(r.ExtentSize)))
	fmt.Fprintf(w, "extents\t%d: %d data, %d other (journal, checkpoint or free)\n", r.Extents.Total, r.Extents.Data, r.Extents.Other)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tEXTENTS\tBYTES\tLOG-START\tLOG-END\tRECORDS")
	for _, t := range r.Topics {
		var all partitionStats
		for _, p := range t.Partitions {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", t.Topic, p.Partition, p.Extents, p.Bytes, p.LogStart, p.LogEnd, p.Records)
			all.Extents += p.Extents
			all.Bytes += p.Bytes
			all.Records += p.Records
		}
		if len(t.Partitions) > 1 {
			fmt.Fprintf(w, "%s\tall\t%d\t%d\t\t\t%d\n", t.Topic, all.Extents, all.Bytes, all.Records)
		}
	}
	return w.Flush()
}
