package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// none fills a column that has no value, as kafka-consumer-groups does.
const none = "-"

func newGroup(g *globals) *cobra.Command {
	return commandGroup("group", "List, describe, reset and delete consumer groups",
		"  spool -f events.spool group list --state\n  spool -f events.spool group describe billing",
		newGroupList(g), newGroupDescribe(g), newGroupReset(g), newGroupDelete(g))
}

func newGroupList(g *globals) *cobra.Command {
	var state bool
	cmd := &cobra.Command{
		Use:   "list [--state]",
		Short: "List consumer groups, one name a line",
		Long: `List the consumer groups of the file: those with members or committed offsets,
one name a line. With --state, as kafka-consumer-groups --list --state, a table
of each group's STATE and its live and registered members:

  Empty        no member is alive (offsets only, or members whose processes died)
  Stable       every partition is owned by the member the assignment gives it
  Rebalancing  some partition's owner is not yet the member the assignment gives it`,
		Example: `  spool -f events.spool group list
  spool -f events.spool group list --state`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				names, err := s.Groups()
				if err != nil {
					return err
				}
				if !state {
					for _, name := range names {
						fmt.Fprintln(cmd.OutOrStdout(), name)
					}
					return nil
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "GROUP\tSTATE\tLIVE-MEMBERS\tMEMBERS")
				for _, name := range names {
					gs, err := s.Group(name)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", name, groupStateName(gs), len(liveMembers(gs)), len(gs.Members))
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&state, "state", false, "print each group's state and member counts")
	return cmd
}

func newGroupDescribe(g *globals) *cobra.Command {
	var output tableOrJSON
	cmd := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's offsets, lag, partition owners and members",
		Long: `Show, for every partition the group has committed an offset in or its members
subscribe to, the columns of kafka-consumer-groups --describe: the committed
offset (CURRENT-OFFSET, "-" when none), the partition's log end offset, LAG,
and CONSUMER-ID, the member that owns the partition now ("-" when none).

LAG is the records the group has yet to process: the log end offset minus the
committed offset (the log start offset when none is committed), minus the
records acknowledged above the committed offset. A Workers pool commits the
lowest offset it has not finished plus the offsets it finished above it; a
consumer that commits positions, as Kafka's do, has none above it, and its LAG
is Kafka's.

Below the table: the group's state (Empty, Stable, Rebalancing), generation
and assignor, and its members: id, static instance id, whether its process is
alive, the age of its last heartbeat, its subscription and how many partitions
it owns.

--format json prints one object: {"group", "state", "generation", "assignor",
"members": [{"id", "instance_id", "alive", "heartbeat", "heartbeat_age_ms",
"topics", "partitions"}...], "partitions": [{"topic", "partition",
"current_offset", "log_start_offset", "log_end_offset", "acknowledged", "lag",
"consumer_id"}...], "total_lag"}.`,
		Example: `  spool -f events.spool group describe billing
  spool -f events.spool group describe billing --format json`,
		Args:              argsNamed("GROUP"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return g.with(true, func(s *store.Store) error {
				r, err := describeGroup(s, args[0], time.Now())
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

func newGroupDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a consumer group and its committed offsets",
		Long: `Delete a consumer group: its committed offsets and its members. As Kafka's
kafka-consumer-groups --delete, it refuses while a member of the group is
alive: stop the group's consumers first. Members whose processes died go with
the group.`,
		Example:           "  spool -f events.spool group delete billing",
		Args:              argsNamed("GROUP"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(false, func(s *store.Store) error {
				r, err := describeGroup(s, args[0], time.Now())
				if err != nil {
					return err
				}
				gs, err := s.Group(args[0])
				if err != nil {
					return err
				}
				if live := liveMembers(gs); len(live) > 0 {
					return g.liveError(r.Group, "delete", live)
				}
				if err := s.DeleteGroup(cmd.Context(), args[0]); err != nil {
					return err
				}
				committed := 0
				for _, p := range r.Partitions {
					if p.CurrentOffset != nil {
						committed++
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted group %s and its offsets in %d partitions\n", args[0], committed)
				return nil
			})
		},
	}
}

// groupReport is what describe prints; its JSON form is describe --format
// json.
type groupReport struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Generation int32          `json:"generation"`
	Assignor   string         `json:"assignor"`
	Members    []memberReport `json:"members"`
	Partitions []partitionLag `json:"partitions"`
	TotalLag   int64          `json:"total_lag"`
}

type memberReport struct {
	ID         string     `json:"id"`
	InstanceID *string    `json:"instance_id"` // null: not static
	Alive      bool       `json:"alive"`
	Heartbeat  *time.Time `json:"heartbeat"`        // null: none since the file was opened alone
	Age        *int64     `json:"heartbeat_age_ms"` // milliseconds before the describe
	Topics     []string   `json:"topics"`
	Partitions int        `json:"partitions"` // how many it owns
}

type partitionLag struct {
	Topic          string  `json:"topic"`
	Partition      int32   `json:"partition"`
	CurrentOffset  *int64  `json:"current_offset"` // null: nothing committed
	LogStartOffset int64   `json:"log_start_offset"`
	LogEndOffset   int64   `json:"log_end_offset"`
	Acknowledged   int64   `json:"acknowledged"` // records acknowledged above the committed offset
	Lag            int64   `json:"lag"`
	ConsumerID     *string `json:"consumer_id"` // null: no member owns it
}

// describeGroup reads a group's offsets, membership and its partitions' log
// ends, as of now.
func describeGroup(s *store.Store, group string, now time.Time) (groupReport, error) {
	r := groupReport{Group: group}
	groups, err := s.Groups()
	if err != nil {
		return r, err
	}
	if _, found := slices.BinarySearch(groups, group); !found {
		return r, fmt.Errorf("%w %q: it has no members and no committed offsets in this file", errUnknownGroup, group)
	}
	gs, err := s.Group(group)
	if err != nil {
		return r, err
	}
	offsets, err := s.GroupOffsets(group)
	if err != nil {
		return r, err
	}
	r.State, r.Generation, r.Assignor = groupStateName(gs), gs.Generation, gs.Assignor
	owned := map[string]int{}
	for _, ow := range gs.Owners {
		owned[ow.Member]++
	}
	for _, m := range gs.Members {
		mr := memberReport{ID: m.ID, Alive: m.Alive, Topics: m.Topics, Partitions: owned[m.ID]}
		if m.InstanceID != "" {
			mr.InstanceID = &m.InstanceID
		}
		if !m.Heartbeat.IsZero() {
			hb, age := m.Heartbeat, max(now.Sub(m.Heartbeat), 0).Milliseconds()
			mr.Heartbeat, mr.Age = &hb, &age
		}
		r.Members = append(r.Members, mr)
	}

	// The partitions: those committed in, and every partition of the
	// subscribed topics and of the assignment.
	committed := map[store.TopicPartition]store.Committed{}
	parts := map[store.TopicPartition]bool{}
	for _, c := range offsets {
		tp := store.TopicPartition{Topic: c.Topic, Partition: c.Partition}
		committed[tp], parts[tp] = c, true
	}
	for topic, n := range gs.Partitions {
		for p := range n {
			parts[store.TopicPartition{Topic: topic, Partition: p}] = true
		}
	}
	for tp := range gs.Target {
		parts[tp] = true
	}
	for tp := range gs.Owners {
		parts[tp] = true
	}
	for _, tp := range slices.SortedFunc(maps.Keys(parts), store.TopicPartition.Compare) {
		start, end, err := s.Offsets(tp.Topic, tp.Partition)
		if errors.Is(err, store.ErrUnknownTopic) || errors.Is(err, store.ErrUnknownPartition) {
			continue // deleted since
		}
		if err != nil {
			return r, err
		}
		p := partitionLag{Topic: tp.Topic, Partition: tp.Partition, LogStartOffset: start, LogEndOffset: end}
		c, ok := committed[tp]
		if ok {
			p.CurrentOffset = &c.Offset
		} else {
			c.Offset = -1
		}
		p.Acknowledged, p.Lag = c.Lag(start, end)
		if ow, ok := gs.Owners[tp]; ok {
			p.ConsumerID = &ow.Member
		}
		r.TotalLag += p.Lag
		r.Partitions = append(r.Partitions, p)
	}
	return r, nil
}

// groupStateName is a group's state as kafka-consumer-groups names it:
// Empty without a live member, Rebalancing while a partition's owner is not
// the member the assignment gives it, Stable otherwise.
func groupStateName(gs store.GroupState) string {
	if len(liveMembers(gs)) == 0 {
		return "Empty"
	}
	for tp, id := range gs.Target {
		if gs.Owners[tp].Member != id {
			return "Rebalancing"
		}
	}
	for tp, ow := range gs.Owners {
		if gs.Target[tp] != ow.Member {
			return "Rebalancing"
		}
	}
	return "Stable"
}

// liveMembers returns the ids of the members whose processes are alive.
func liveMembers(gs store.GroupState) []string {
	var ids []string
	for _, m := range gs.Members {
		if m.Alive {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// liveError is the error for doing what (delete, reset the offsets of) to
// a group while the members live are alive.
func (g *globals) liveError(group, what string, live []string) error {
	return hinted{fmt.Errorf("cannot %s group %s: %w: %s", what, group, store.ErrGroupNotEmpty, strings.Join(live, ", ")),
		"stop the group's consumers first (Ctrl-C a spool consume --group --follow, end the Workers pool), then run this again, " +
			"as kafka-consumer-groups needs an inactive group; see the members with: " + g.command("group describe "+group)}
}

// print writes the table of kafka-consumer-groups --describe, the total,
// and the group's members.
func (r groupReport) print(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID")
	for _, p := range r.Partitions {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", r.Group, p.Topic, p.Partition, orNone(p.CurrentOffset),
			p.LogEndOffset, p.Lag, orNone(p.ConsumerID))
	}
	fmt.Fprintf(w, "\t\t\t\ttotal lag\t%d\t\n", r.TotalLag)
	if err := w.Flush(); err != nil {
		return err
	}
	members := "members"
	if len(r.Members) == 1 {
		members = "member"
	}
	fmt.Fprintf(out, "\ngroup %s: %s, generation %d, assignor %s, %d %s\n", r.Group, r.State, r.Generation,
		cmp.Or(r.Assignor, none), len(r.Members), members)
	if len(r.Members) == 0 {
		return nil
	}
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER-ID\tINSTANCE-ID\tALIVE\tLAST-HEARTBEAT\tTOPICS\t#PARTITIONS")
	for _, m := range r.Members {
		alive, age := "no", none
		if m.Alive {
			alive = "yes"
		}
		if m.Age != nil {
			age = (time.Duration(*m.Age) * time.Millisecond).String() + " ago"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", m.ID, orNone(m.InstanceID), alive, age, strings.Join(m.Topics, ","), m.Partitions)
	}
	return w.Flush()
}

// orNone prints a value, or "-" for nil.
func orNone[T any](v *T) string {
	if v == nil {
		return none
	}
	return fmt.Sprint(*v)
}
