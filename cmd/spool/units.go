package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseRetention reads a retention time as a person writes it (7d, 12h,
// 90m, 1d12h) or -1 for forever, and returns Kafka's retention.ms.
func parseRetention(s string) (int64, error) {
	switch s {
	case "-1", "forever":
		return -1, nil
	case "":
		return 0, errors.New("--retention: want a duration such as 7d, 36h or 90m, or -1 for forever")
	}
	// time.ParseDuration knows no days; retention is mostly said in days.
	var days int64
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--retention %q: want a duration such as 7d, 36h or 90m, or -1 for forever", s)
		}
		days, rest = n, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, fmt.Errorf("--retention %q: want a duration such as 7d, 36h or 90m, or -1 for forever", s)
		}
	}
	return days*24*3600*1000 + d.Milliseconds(), nil
}

// byteUnits are the suffixes parseBytes knows, longest first so that "KiB"
// is not read as "B".
var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// parseBytes reads a size such as 10GiB, 500MB or 1048576, or -1 for no
// limit.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	num, factor := s, int64(1)
	for _, u := range byteUnits {
		if before, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = strings.TrimSpace(before), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || n*float64(factor) > 1<<62 {
		return 0, fmt.Errorf("size %q: want bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB), or -1 for no limit", s)
	}
	return int64(n * float64(factor)), nil
}

// humanBytes writes a byte count in binary units, for tables.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// timeLayouts are the forms --from and --to-datetime accept: RFC 3339, and
// the zoneless forms of Kafka's tools, read in local time.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}

// parseTime reads a point in time in one of timeLayouts.
func parseTime(s string) (time.Time, bool) {
	for i, layout := range timeLayouts {
		loc := time.Local
		if i == 0 {
			loc = time.UTC // unused: RFC 3339 carries its zone
		}
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
