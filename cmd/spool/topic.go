package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

func newTopic(g *globals) *cobra.Command {
	return commandGroup("topic", "Create, list, describe, alter and delete topics",
		"  spool -f events.spool topic create orders --partitions 3\n  spool -f events.spool topic list",
		newTopicCreate(g), newTopicList(g), newTopicDescribe(g), newTopicAlter(g), newTopicDelete(g))
}

// configFlags are the flags that set topic configuration: --config and its
// shorthands for the two settings people set most.
type configFlags struct {
	configs        []string
	retention      string
	retentionBytes string
}

func (c *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&c.configs, "config", nil,
		"a topic configuration NAME=VALUE, repeatable; an empty VALUE restores the default. Names: "+strings.Join(store.ConfigNames(), ", "))
	cmd.Flags().StringVar(&c.retention, "retention", "", "how long records are kept, such as 7d, 36h or 90m; -1 keeps them forever (retention.ms)")
	cmd.Flags().StringVar(&c.retentionBytes, "retention-bytes", "", "the most bytes a partition keeps, such as 10GiB; -1 for no limit (retention.bytes)")
}

// entries returns the configuration entries the flags set.
func (c *configFlags) entries() ([]format.ConfigEntry, error) {
	out, err := parseConfigs(c.configs)
	if err != nil {
		return nil, err
	}
	if c.retention != "" {
		ms, err := parseRetention(c.retention)
		if err != nil {
			return nil, err
		}
		out = append(out, format.ConfigEntry{Name: store.ConfigRetentionMs, Value: strconv.FormatInt(ms, 10)})
	}
	if c.retentionBytes != "" {
		n, err := parseBytes(c.retentionBytes)
		if err != nil {
			return nil, fmt.Errorf("--retention-bytes: %w", err)
		}
		out = append(out, format.ConfigEntry{Name: store.ConfigRetentionBytes, Value: strconv.FormatInt(n, 10)})
	}
	return out, nil
}

func parseConfigs(kvs []string) ([]format.ConfigEntry, error) {
	var out []format.ConfigEntry
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--config %q: want NAME=VALUE, such as retention.ms=86400000", kv)
		}
		out = append(out, format.ConfigEntry{Name: k, Value: v})
	}
	return out, nil
}

func newTopicCreate(g *globals) *cobra.Command {
	var partitions int
	var config configFlags
	cmd := &cobra.Command{
		Use:   "create TOPIC",
		Short: "Create a topic",
		Long: `Create a topic with a number of partitions and, optionally, its configuration.
Topic names are Kafka's: up to 249 ASCII letters, digits, '.', '_' and '-'.
The file is created if it does not exist.`,
		Example: `  spool -f events.spool topic create orders --partitions 3
  spool -f events.spool topic create clicks --partitions 12 --retention 7d --retention-bytes 10GiB
  spool -f events.spool topic create audit --config retention.ms=-1 --config message.timestamp.type=LogAppendTime`,
		Args: argsNamed("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := config.entries()
			if err != nil {
				return err
			}
			g.mayCreate = true
			return g.with(false, func(s *store.Store) error {
				if err := s.CreateTopic(cmd.Context(), args[0], partitions, entries); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s with %d partitions\n", args[0], partitions)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&partitions, "partitions", "p", 1, "number of partitions")
	config.register(cmd)
	return cmd
}

func newTopicList(g *globals) *cobra.Command {
	return newNameList(g, "List topics, one name a line", "  spool -f events.spool topic list", topicNames)
}

func newTopicDescribe(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "describe TOPIC",
		Short:             "Show a topic's partitions, offsets and configuration",
		Example:           "  spool -f events.spool topic describe orders",
		Args:              argsNamed("TOPIC"),
		ValidArgsFunction: g.completeTopics,
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
}

func newTopicAlter(g *globals) *cobra.Command {
	var config configFlags
	cmd := &cobra.Command{
		Use:   "alter TOPIC",
		Short: "Change a topic's configuration",
		Long: `Change configuration entries of a topic; the others keep their values. An
empty value (--config retention.ms=) returns that entry to its default.
Retention applies at once: records past the new limits are deleted within a
second while any process has the file open for writing.`,
		Example: `  spool -f events.spool topic alter orders --config retention.ms=86400000
  spool -f events.spool topic alter orders --retention 30d --retention-bytes 1GiB
  spool -f events.spool topic alter orders --config retention.ms=`,
		Args:              argsNamed("TOPIC"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := config.entries()
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				return hinted{errors.New("nothing to change"), "name a change with --config NAME=VALUE, --retention or --retention-bytes"}
			}
			return g.with(false, func(s *store.Store) error {
				if err := s.AlterTopic(cmd.Context(), args[0], entries); err != nil {
					return err
				}
				t, err := s.Topic(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "altered topic %s; its configuration overrides are now:\n", t.Name)
				for _, e := range t.Overrides {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s=%s\n", e.Name, e.Value)
				}
				return nil
			})
		},
	}
	config.register(cmd)
	return cmd
}

func newTopicDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOPIC",
		Short: "Delete a topic, its records and its groups' offsets",
		Long: `Delete a topic at once, without asking: its records, the offsets every group
committed in it, and its extents, which become free for other partitions.`,
		Example:           "  spool -f events.spool topic delete orders",
		Args:              argsNamed("TOPIC"),
		ValidArgsFunction: g.completeTopics,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(false, func(s *store.Store) error {
				t, err := s.Topic(args[0])
				if err != nil {
					return err
				}
				if err := s.DeleteTopic(cmd.Context(), args[0]); err != nil {
					return err
				}
				var records, bytes int64
				extents := 0
				for _, p := range t.Partitions {
					records += p.HighWatermark - p.LogStartOffset
					bytes += p.Bytes
					extents += p.Extents
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s: %d partitions, %d records, %s in %d extents\n",
					t.Name, len(t.Partitions), records, humanBytes(bytes), extents)
				return nil
			})
		},
	}
}

// topicNames lists the file's topics, sorted.
func topicNames(s *store.Store) ([]string, error) {
	topics, err := s.Topics()
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	return names, err
}
