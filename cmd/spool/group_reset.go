package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// resetFlags are group reset's flags; exactly one of the --to-* and
// --shift-by flags says where the offsets go.
type resetFlags struct {
	topics     []string
	toEarliest bool
	toLatest   bool
	toOffset   int64
	toDatetime string
	shiftBy    int64
	execute    bool
}

var resetTargets = []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"}

func newGroupReset(g *globals) *cobra.Command {
	var f resetFlags
	cmd := &cobra.Command{
		Use:   "reset GROUP --topic TOPIC (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N) [--execute]",
		Short: "Move a group's committed offsets, as kafka-consumer-groups --reset-offsets",
		Long: `Move a group's committed offsets in the partitions of one or more topics. Without
--execute it only prints the plan, the NEW-OFFSET of each partition; with
--execute it commits them all in one atomic commit. New offsets are clamped
to each partition's log start and log end offsets, as Kafka clamps them.

--topic TOPIC takes every partition of the topic, --topic TOPIC:0,2 only those
listed. --to-datetime takes the first record at or after a time (RFC 3339, or
2006-01-02T15:04:05 in local time); --shift-by moves the committed offset by N
(negative: back) and needs one.

As Kafka's tool, it refuses to reset a group with live members (a spool
consume --group --follow, a Workers pool, any subscribed consumer): they
would go on from their own positions. Stop them first; the dry run warns.`,
		Example: `  spool -f events.spool group reset billing --topic orders --to-earliest
  spool -f events.spool group reset billing --topic orders --to-earliest --execute
  spool -f events.spool group reset billing --topic orders:0,1 --shift-by -100 --execute
  spool -f events.spool group reset billing --topic orders --to-datetime 2024-05-01T00:00:00Z --execute`,
		Args:              argsNamed("GROUP"),
		ValidArgsFunction: g.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := f.target(cmd)
			if err != nil {
				return err
			}
			return g.with(!f.execute, func(s *store.Store) error {
				gs, err := s.Group(args[0])
				if err != nil {
					return err
				}
				var live error
				if ids := liveMembers(gs); len(ids) > 0 {
					live = g.liveError(args[0], "reset the offsets of", ids)
				}
				if live != nil && f.execute {
					return live
				}
				bar := newProgress(cmd)
				plan, err := planReset(s, args[0], f.topics, target, func(done, total int) {
					bar.show("planned %d of %d partitions", done, total)
				})
				bar.done()
				if err != nil {
					return err
				}
				if err := printResetPlan(cmd.OutOrStdout(), args[0], plan); err != nil {
					return err
				}
				if !f.execute {
					fmt.Fprintln(cmd.ErrOrStderr(), "dry run: nothing was committed; add --execute to commit these offsets")
					if live != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: --execute would fail now: %v\n", live)
					}
					return nil
				}
				// One commit: the group's offsets all move, or none does.
				// A member that joined since the check above makes the
				// store refuse it with ErrGroupNotEmpty.
				if _, err := s.Commit(cmd.Context(), &store.Txn{Offsets: plan}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "committed the new offsets of %d partitions\n", len(plan))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.topics, "topic", "t", nil, "the topic to reset, TOPIC or TOPIC:P1,P2 for some partitions; repeatable")
	fl.BoolVar(&f.toEarliest, "to-earliest", false, "to the log start offset")
	fl.BoolVar(&f.toLatest, "to-latest", false, "to the log end offset (skip everything)")
	fl.Int64Var(&f.toOffset, "to-offset", 0, "to this offset")
	fl.StringVar(&f.toDatetime, "to-datetime", "", "to the first record at or after this time")
	fl.Int64Var(&f.shiftBy, "shift-by", 0, "by this many records from the committed offset (negative: back)")
	fl.BoolVar(&f.execute, "execute", false, "commit the new offsets (without it, only print them)")
	cmd.MarkFlagRequired("topic")
	cmd.MarkFlagsMutuallyExclusive(resetTargets...)
	cmd.MarkFlagsOneRequired(resetTargets...)
	cmd.RegisterFlagCompletionFunc("topic", g.topicNames)
	return cmd
}

// target returns the position the --to-* or --shift-by flag names.
func (f *resetFlags) target(cmd *cobra.Command) (position, error) {
	switch {
	case f.toEarliest:
		return position{kind: atEarliest}, nil
	case f.toLatest:
		return position{kind: atLatest}, nil
	case cmd.Flags().Changed("to-offset"):
		if f.toOffset < 0 {
			return position{}, fmt.Errorf("--to-offset %d: want an offset, 0 or more", f.toOffset)
		}
		return position{atOffset, f.toOffset}, nil
	case cmd.Flags().Changed("to-datetime"):
		t, ok := parseTime(f.toDatetime)
		if !ok {
			return position{}, fmt.Errorf("--to-datetime %q: want a time such as 2024-05-01T12:00:00Z or 2024-05-01T12:00:00 (local)", f.toDatetime)
		}
		return position{atTime, t.UnixMilli()}, nil
	}
	return position{shiftedBy, f.shiftBy}, nil
}

// planReset returns the offsets the group gets in the partitions topics
// name. progress is called after each partition.
func planReset(s *store.Store, group string, topics []string, target position, progress func(done, total int)) ([]store.Offset, error) {
	type part struct {
		topic store.TopicInfo
		info  store.PartitionInfo
	}
	var parts []part
	for _, spec := range topics {
		t, partitions, err := resolveTopicSpec(s, spec)
		if err != nil {
			return nil, err
		}
		for _, p := range partitions {
			parts = append(parts, part{t, t.Partitions[p]})
		}
	}
	plan := make([]store.Offset, 0, len(parts))
	for i, p := range parts {
		var committed *int64
		c, ok, err := s.CommittedOffset(group, p.topic.Name, p.info.Partition)
		if err != nil {
			return nil, err
		}
		if ok {
			committed = &c.Offset
		}
		off, err := target.resolve(s, p.topic.Name, p.info, committed)
		if err != nil {
			return nil, err
		}
		plan = append(plan, store.Offset{Group: group, Topic: p.topic.Name, Partition: p.info.Partition, Offset: off})
		progress(i+1, len(parts))
	}
	return plan, nil
}

// resolveTopicSpec reads TOPIC or TOPIC:P1,P2 and returns the topic and the
// partitions it names.
func resolveTopicSpec(s *store.Store, spec string) (store.TopicInfo, []int32, error) {
	name, list, some := strings.Cut(spec, ":")
	t, err := s.Topic(name)
	if err != nil {
		return t, nil, err
	}
	var partitions []int32
	if !some {
		for _, p := range t.Partitions {
			partitions = append(partitions, p.Partition)
		}
		return t, partitions, nil
	}
	for _, field := range strings.Split(list, ",") {
		p, err := strconv.ParseInt(field, 10, 32)
		if err != nil || p < 0 || p >= int64(len(t.Partitions)) {
			return t, nil, fmt.Errorf("--topic %q: %q is not a partition of %s, which has partitions 0 to %d", spec, field, name, len(t.Partitions)-1)
		}
		partitions = append(partitions, int32(p))
	}
	return t, partitions, nil
}

// printResetPlan prints the columns of kafka-consumer-groups --reset-offsets.
func printResetPlan(out io.Writer, group string, plan []store.Offset) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
	for _, o := range plan {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", group, o.Topic, o.Partition, o.Offset)
	}
	return w.Flush()
}
