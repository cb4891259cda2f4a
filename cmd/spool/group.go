package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// noMember fills the member columns of kafka-consumer-groups --describe.
// Group membership is not in the file yet, so no partition has an owner.
const noMember = "-"

func newGroup(g *globals) *cobra.Command {
	return commandGroup("group", "List, describe, reset and delete consumer groups",
		"  spool -f events.spool group list\n  spool -f events.spool group describe billing",
		newGroupList(g), newGroupDescribe(g), newGroupReset(g), newGroupDelete(g))
}

func newGroupList(g *globals) *cobra.Command {
	return newNameList(g, "List consumer groups, one name a line", "  spool -f events.spool group list", (*store.Store).Groups)
}

func newGroupDescribe(g *globals) *cobra.Command {
	var output tableOrJSON
	cmd := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's committed offsets, log end offsets and lag",
		Long: `Show, for every partition a group has committed an offset in, the columns of
kafka-consumer-groups --describe: the committed offset (CURRENT-OFFSET), the
partition's log end offset, and LAG, the records between them. CONSUMER-ID,
HOST and CLIENT-ID are "-": group membership is not in the file yet.

--format json prints one object: {"group": ..., "partitions": [{"topic",
"partition", "current_offset", "log_start_offset", "log_end_offset", "lag",
"consumer_id"}...], "total_lag": ...}.`,
		Example: `  spool -f events.spool group describe billing
  spool -f events.spool group describe billing --format json`,
		Args:              argsNamed("GROUP"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return g.with(true, func(s *store.Store) error {
				lag, err := groupLag(s, args[0])
				if err != nil {
					return err
				}
				return output.print(cmd.OutOrStdout(), lag, lag.print)
			})
		},
	}
	output.register(cmd)
	return cmd
}

func newGroupDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a consumer group and its committed offsets",
		// Kafka's tool refuses to delete a group with active members; spool
		// has no membership yet, so there is nothing to refuse on.
		Example:           "  spool -f events.spool group delete billing",
		Args:              argsNamed("GROUP"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(false, func(s *store.Store) error {
				lag, err := groupLag(s, args[0])
				if err != nil {
					return err
				}
				if err := s.DeleteGroup(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted group %s and its offsets in %d partitions\n", args[0], len(lag.Partitions))
				return nil
			})
		},
	}
}

// lagReport is a group's position and lag in every partition it committed
// in; its JSON form is what describe --format json prints.
type lagReport struct {
	Group      string         `json:"group"`
	Partitions []partitionLag `json:"partitions"`
	TotalLag   int64          `json:"total_lag"`
}

type partitionLag struct {
	Topic          string  `json:"topic"`
	Partition      int32   `json:"partition"`
	CurrentOffset  int64   `json:"current_offset"`
	LogStartOffset int64   `json:"log_start_offset"`
	LogEndOffset   int64   `json:"log_end_offset"`
	Lag            int64   `json:"lag"`
	ConsumerID     *string `json:"consumer_id"` // null: no member owns it
}

// groupLag reads a group's offsets and its partitions' log ends. Lag is the
// log end offset minus the committed offset, as Kafka computes it.
func groupLag(s *store.Store, group string) (lagReport, error) {
	r := lagReport{Group: group}
	groups, err := s.Groups()
	if err != nil {
		return r, err
	}
	if _, found := slices.BinarySearch(groups, group); !found {
		return r, fmt.Errorf("%w %q: it has committed no offsets in this file", errUnknownGroup, group)
	}
	offsets, err := s.GroupOffsets(group)
	if err != nil {
		return r, err
	}
	for _, c := range offsets {
		start, end, err := s.Offsets(c.Topic, c.Partition)
		if err != nil {
			return r, err
		}
		lag := max(end-c.Offset, 0)
		r.TotalLag += lag
		r.Partitions = append(r.Partitions, partitionLag{Topic: c.Topic, Partition: c.Partition,
			CurrentOffset: c.Offset, LogStartOffset: start, LogEndOffset: end, Lag: lag})
	}
	return r, nil
}

// print writes the table of kafka-consumer-groups --describe, and the total.
func (r lagReport) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, p := range r.Partitions {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Group, p.Topic, p.Partition, p.CurrentOffset,
			p.LogEndOffset, p.Lag, noMember, noMember, noMember)
	}
	fmt.Fprintf(w, "\t\t\t\ttotal lag\t%d\t\t\t\n", r.TotalLag)
	return w.Flush()
}

// printLag prints a group's lag table (the demo's last step).
func printLag(out io.Writer, s *store.Store, group string) error {
	r, err := groupLag(s, group)
	if err != nil {
		return err
	}
	return r.print(out)
}
