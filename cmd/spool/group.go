package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

func newGroup(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "List consumer groups and show their lag"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				groups, err := s.Groups()
				if err != nil {
					return err
				}
				for _, name := range groups {
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
				return nil
			})
		},
	}
	describe := &cobra.Command{
		Use:     "describe GROUP",
		Short:   "Show a group's committed offsets, log end offsets and lag, as kafka-consumer-groups --describe",
		Example: "  spool -f events.spool group describe billing",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				return printLag(cmd.OutOrStdout(), s, args[0])
			})
		},
	}
	cmd.AddCommand(list, describe)
	return cmd
}

// printLag prints a group's position in every partition it has committed in:
// lag is the log end offset minus the committed offset.
func printLag(out io.Writer, s *store.Store, group string) error {
	offsets, err := s.GroupOffsets(group)
	if err != nil {
		return err
	}
	if len(offsets) == 0 {
		return fmt.Errorf("group %q has committed no offsets", group)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\t")
	var total int64
	for _, c := range offsets {
		_, end, err := s.Offsets(c.Topic, c.Partition)
		if err != nil {
			return err
		}
		lag := max(end-c.Offset, 0)
		total += lag
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t\n", group, c.Topic, c.Partition, c.Offset, end, lag)
	}
	fmt.Fprintf(w, "\t\t\t\ttotal lag\t%d\t\n", total)
	return w.Flush()
}
