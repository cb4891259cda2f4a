package main

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]int64{"7d": 7 * 24 * 3600 * 1000, "36h": 36 * 3600 * 1000, "1d12h": 36 * 3600 * 1000,
		"90m": 90 * 60 * 1000, "-1": -1, "forever": -1, "500ms": 500} {
		if got, err := parseRetention(in); err != nil || got != want {
			t.Errorf("parseRetention(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "7", "d", "-2d", "7x", "1d-3h"} {
		if _, err := parseRetention(in); err == nil {
			t.Errorf("parseRetention(%q) accepted", in)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"10GiB": 10 << 30, "500MB": 500e6, "1048576": 1 << 20, "1.5KiB": 1536,
		"2 MiB": 2 << 20, "64K": 64 << 10, "-1": -1, "0": 0} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-5", "ten", "1e30GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestParseTime(t *testing.T) {
	utc := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	local := time.Date(2024, 5, 1, 12, 30, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"2024-05-01T12:30:00Z":      utc,
		"2024-05-01T14:30:00+02:00": utc,
		"2024-05-01T12:30:00":       local,
		"2024-05-01T12:30":          local,
		"2024-05-01":                time.Date(2024, 5, 1, 0, 0, 0, 0, time.Local),
	} {
		if got, ok := parseTime(in); !ok || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := parseTime("yesterday"); ok {
		t.Error("parseTime accepted yesterday")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 8 << 20: "8.0 MiB", 3 << 40: "3.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
