package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

func newTopic(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "topic", Short: "Create, list and describe topics"}
	var partitions int
	var configs []string
	create := &cobra.Command{
		Use:     "create TOPIC",
		Short:   "Create a topic",
		Example: "  spool -f events.spool topic create orders --partitions 3 --config retention.ms=86400000",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			return g.with(false, func(s *store.Store) error {
				if err := s.CreateTopic(cmd.Context(), args[0], partitions, entries); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s with %d partitions\n", args[0], partitions)
				return nil
			})
		},
	}
	create.Flags().IntVarP(&partitions, "partitions", "p", 1, "number of partitions")
	create.Flags().StringArrayVar(&configs, "config", nil, "a topic configuration NAME=VALUE (repeatable): "+strings.Join(store.ConfigNames(), ", "))
	list := &cobra.Command{
		Use:   "list",
		Short: "List topics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				topics, err := s.Topics()
				if err != nil {
					return err
				}
				for _, t := range topics {
					fmt.Fprintln(cmd.OutOrStdout(), t.Name)
				}
				return nil
			})
		},
	}
	describe := &cobra.Command{
		Use:   "describe TOPIC",
		Short: "Show a topic's partitions, offsets and configuration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				t, err := s.Topic(args[0])
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "topic %s\tpartitions %d\n", t.Name, len(t.Partitions))
				for _, e := range t.Overrides {
					fmt.Fprintf(w, "config %s=%s\t\n", e.Name, e.Value)
				}
				fmt.Fprintln(w, "PARTITION\tLOG-START-OFFSET\tLOG-END-OFFSET\tBYTES\tEXTENTS")
				for _, p := range t.Partitions {
					fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\n", p.Partition, p.LogStartOffset, p.HighWatermark, p.Bytes, p.Extents)
				}
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(create, list, describe)
	return cmd
}

func parseConfigs(kvs []string) ([]format.ConfigEntry, error) {
	var out []format.ConfigEntry
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--config %q: want NAME=VALUE", kv)
		}
		out = append(out, format.ConfigEntry{Name: k, Value: v})
	}
	return out, nil
}
