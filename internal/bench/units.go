package bench

import (
	"fmt"
	"strings"
	"time"
)

// fmtCount writes a count with an SI prefix and three significant digits:
// 3.12 M.
func fmtCount(x float64) string { return withPrefix(x, "") }

// fmtBytes writes a number of bytes in decimal units: 312 MB.
func fmtBytes(x float64) string { return withPrefix(x, "B") }

func withPrefix(x float64, unit string) string {
	prefix := ""
	for _, p := range []struct {
		name string
		size float64
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if x >= p.size {
			x, prefix = x/p.size, p.name
			break
		}
	}
	digits := 2
	switch {
	case x >= 100 || prefix == "":
		digits = 0
	case x >= 10:
		digits = 1
	}
	return strings.TrimSpace(fmt.Sprintf("%.*f %s%s", digits, x, prefix, unit))
}

// fmtNs writes nanoseconds as a duration with three significant digits.
func fmtNs(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d.Nanoseconds())
}

// fmtRatio writes how many times better one figure is than another.
func fmtRatio(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}
