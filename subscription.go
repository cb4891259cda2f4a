package spool

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A member's subscription, as its MemberJoin records it, is a list of
// entries: a topic name, or a pattern, written as "^" and the pattern.
// Topic names never hold "^" (Kafka allows ASCII letters, digits, '.', '_'
// and '-'), so the two cannot be confused. Every member expands every
// member's patterns against the topics of the file when it computes the
// group's target, so a topic created later that matches joins the
// subscription of all of them at once.
const patternMark = "^"

// SubscribePattern makes the consumer a member of its group, reading the
// partitions of every topic whose whole name matches pattern (Go's RE2
// syntax; Kafka's consumer takes a Java regular expression), now and as
// topics are created. See Subscribe.
func (c *Consumer) SubscribePattern(ctx context.Context, pattern string) error {
	if _, err := compilePattern(pattern); err != nil {
		return err
	}
	return c.subscribe(ctx, []string{patternMark + pattern})
}

// compilePattern compiles a subscription pattern, anchored at both ends as
// Kafka matches a topic name against it.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("spool: subscription pattern %q: %w", pattern, err)
	}
	return re, nil
}

// expandSubscription returns the topics of partitions that a subscription
// names: its topics, and the topics matching its patterns. A pattern that
// does not compile (written by a newer spool?) matches nothing.
func expandSubscription(entries []string, partitions map[string]int32) []string {
	var out []string
	for _, e := range entries {
		pattern, ok := strings.CutPrefix(e, patternMark)
		if !ok {
			out = append(out, e)
			continue
		}
		re, err := compilePattern(pattern)
		if err != nil {
			continue
		}
		for topic := range partitions {
			if re.MatchString(topic) {
				out = append(out, topic)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
