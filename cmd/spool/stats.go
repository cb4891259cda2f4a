package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

func newStats(g *globals) *cobra.Command {
	var output tableOrJSON
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the file's size on disk, its extents, and each partition's share",
		Long: `Show the file's size (its length and the disk space allocated to it, which is
less where parts were never written), its extent size and how many extents it
has by what they hold: records (data), the journal, the last checkpoint, free,
and freed by a commit not yet on disk (reused once it is). Then for each topic
and partition: extents, bytes of record batches, log start and log end
offsets, and records (log end minus log start).

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

// extentCounts are store.ExtentCounts; Data to PendingFree add up to Total.
type extentCounts struct {
	Total       int `json:"total"`
	Data        int `json:"data"`
	Journal     int `json:"journal"`
	Checkpoint  int `json:"checkpoint"`
	Free        int `json:"free"`
	PendingFree int `json:"pending_free"`
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
	st, err := s.Stats()
	if err != nil {
		return r, err
	}
	r.Size, r.OnDisk, r.ExtentSize = st.Size, st.Size, st.ExtentSize
	if fi, err := os.Stat(path); err == nil {
		r.OnDisk = diskUsage(path, fi)
	}
	r.Extents = extentCounts(st.Extents)
	for _, t := range st.Topics {
		ts := topicStats{Topic: t.Topic}
		for _, p := range t.Partitions {
			ts.Partitions = append(ts.Partitions, partitionStats{Partition: p.Partition, Extents: p.Extents, Bytes: p.Bytes,
				LogStart: p.LogStart, LogEnd: p.LogEnd, Records: p.LogEnd - p.LogStart})
		}
		r.Topics = append(r.Topics, ts)
	}
	return r, nil
}

func (r statsReport) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "file\t%s\n", r.File)
	fmt.Fprintf(w, "size\t%s (%d bytes), on disk %s (%d bytes)\n", humanBytes(r.Size), r.Size, humanBytes(r.OnDisk), r.OnDisk)
	fmt.Fprintf(w, "extent size\t%s\n", humanBytes(int64(r.ExtentSize)))
	c := r.Extents
	fmt.Fprintf(w, "extents\t%d: %d data, %d journal, %d checkpoint, %d free, %d pending free\n",
		c.Total, c.Data, c.Journal, c.Checkpoint, c.Free, c.PendingFree)
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
