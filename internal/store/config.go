package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spooldb/spool/internal/format"
)

// Topic configuration names, as Kafka spells them.
const (
	ConfigRetentionMs     = "retention.ms"
	ConfigRetentionBytes  = "retention.bytes"
	ConfigMaxMessageBytes = "max.message.bytes"
	ConfigTimestampType   = "message.timestamp.type"
	ConfigCleanupPolicy   = "cleanup.policy"
)

// Defaults are Kafka's broker defaults (log.retention.hours=168,
// log.retention.bytes=-1, message.max.bytes=1048588).
const (
	DefaultRetentionMs     = 7 * 24 * 3600 * 1000
	DefaultMaxMessageBytes = 1048588
)

// TopicConfig is the effective configuration of a topic.
type TopicConfig struct {
	RetentionMs     int64 // -1: keep forever
	RetentionBytes  int64 // per partition; -1: no limit
	MaxMessageBytes int32 // the largest batch a producer may append
	LogAppendTime   bool  // message.timestamp.type=LogAppendTime
}

// DefaultTopicConfig returns the configuration of a topic that sets nothing.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{RetentionMs: DefaultRetentionMs, RetentionBytes: -1, MaxMessageBytes: DefaultMaxMessageBytes}
}

// ParseTopicConfig returns the effective configuration for the entries set on
// a topic, checking every name and value. extentSize bounds max.message.bytes:
// a batch must fit in one extent.
func ParseTopicConfig(entries []format.ConfigEntry, extentSize uint32) (TopicConfig, error) {
	c := DefaultTopicConfig()
	for _, e := range entries {
		if err := c.set(e.Name, e.Value, extentSize); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *TopicConfig) set(name, value string, extentSize uint32) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s=%q: %s", ErrInvalidConfig, name, value, why)
	}
	num := func(min, max int64) (int64, error) {
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil || v < min || v > max {
			return 0, bad(fmt.Sprintf("want an integer from %d to %d", min, max))
		}
		return v, nil
	}
	var err error
	switch name {
	case ConfigRetentionMs:
		c.RetentionMs, err = num(-1, 1<<62)
	case ConfigRetentionBytes:
		c.RetentionBytes, err = num(-1, 1<<62)
	case ConfigMaxMessageBytes:
		var v int64
		limit := int64(extentSize - format.ExtentHeaderSize)
		v, err = num(format.BatchHeaderSize, limit)
		c.MaxMessageBytes = int32(v)
	case ConfigTimestampType:
		switch value {
		case "CreateTime":
			c.LogAppendTime = false
		case "LogAppendTime":
			c.LogAppendTime = true
		default:
			err = bad("want CreateTime or LogAppendTime")
		}
	case ConfigCleanupPolicy:
		if value != "delete" {
			err = bad("only delete is supported")
		}
	default:
		err = fmt.Errorf("%w: unknown name %q (known: %s)", ErrInvalidConfig, name, strings.Join(ConfigNames(), ", "))
	}
	return err
}

// ConfigNames lists the topic configuration names spool knows.
func ConfigNames() []string {
	return []string{ConfigCleanupPolicy, ConfigMaxMessageBytes, ConfigTimestampType, ConfigRetentionBytes, ConfigRetentionMs}
}

// mergeConfig returns entries with updates applied: an update with an empty
// value removes the entry, returning it to its default. The result is sorted
// by name so that equal configurations encode alike.
func mergeConfig(entries, updates []format.ConfigEntry) []format.ConfigEntry {
	out := slices.Clone(entries)
	for _, u := range updates {
		i := slices.IndexFunc(out, func(e format.ConfigEntry) bool { return e.Name == u.Name })
		switch {
		case u.Value == "" && i >= 0:
			out = slices.Delete(out, i, i+1)
		case u.Value == "":
		case i >= 0:
			out[i].Value = u.Value
		default:
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b format.ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// maxTopicName is Kafka's limit on topic name length.
const maxTopicName = 249

// ValidTopicName reports whether Kafka would accept name: 1 to 249 characters
// of ASCII letters, digits, '.', '_' and '-', and neither "." nor "..".
func ValidTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxTopicName {
		return fmt.Errorf("%w: name %q must be 1 to %d characters and not . or ..", ErrInvalidTopic, name, maxTopicName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w: name %q has %q; use ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, r)
		}
	}
	return nil
}

// maxGroupID bounds a group id, which the journal stores as a string.
const maxGroupID = 1 << 10

// ValidGroup reports whether group is a usable group id: 1 to 1024 bytes of
// UTF-8.
func ValidGroup(group string) error {
	if group == "" || len(group) > maxGroupID || !utf8.ValidString(group) {
		return fmt.Errorf("%w: %q must be 1 to %d bytes of UTF-8", ErrInvalidGroup, group, maxGroupID)
	}
	return nil
}
