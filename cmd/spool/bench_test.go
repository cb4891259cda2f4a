package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchShort runs two quick workloads through the command's flags, on
// the public API and the engine, and merges their JSON with report. The workloads that start a second process
// are left to internal/bench's test: this test binary cannot be that process.
func TestBenchShort(t *testing.T) {
	dir := t.TempDir()
	results, chart := filepath.Join(dir, "r.json"), filepath.Join(dir, "c.svg")
	js, err := run(t, "", "bench", "--short", "--dir", dir, "--workload", "limit-memcopy,consume-100B", "--engine", "--json", "--svg", chart)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{results, chart} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	out, err := run(t, "", "bench", "report", results)
	if err != nil || !strings.Contains(out, "| consume-100B |") || !strings.Contains(out, "limit-memcopy") || !strings.Contains(out, "spool-engine") {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "spool-bench-*")); len(left) > 0 {
		t.Errorf("the run's directory is left: %q", left)
	}
	if _, err := run(t, "", "bench", "--recovery-size", "ten"); err == nil {
		t.Error("a bad --recovery-size was accepted")
	}
}
