package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// childEnv marks a run of this test binary as the child process of a
// workload.
const childEnv = "SPOOL_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := Child(context.Background(), []System{Spool(), SpoolEngine()}, os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testChild(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// TestShortRun runs every workload at its short sizes, through the public
// API and through the engine, to prove that they work; it asserts nothing
// about the figures, which depend on the machine.
func TestShortRun(t *testing.T) {
	dir := t.TempDir()
	systems := []System{Spool(), SpoolEngine()}
	rep, err := Run(context.Background(), Config{Systems: systems, Dir: dir, Short: true, Child: testChild})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failures(); len(f) > 0 {
		t.Fatalf("failures:\n%s", strings.Join(f, "\n"))
	}
	for _, sys := range systems {
		for _, w := range workloads() {
			res, ok := rep.result(sys.Name(), w.name)
			if !ok || res.Skipped != "" {
				t.Errorf("%s on %s: no result (%q)", w.name, sys.Name(), res.Skipped)
				continue
			}
			if w.kind.primary(res.Figures) <= 0 {
				t.Errorf("%s on %s: no primary figure: %+v", w.name, sys.Name(), res.Figures)
			}
		}
	}
	if len(rep.Limits) != len(limits()) {
		t.Errorf("%d limits measured, want %d", len(rep.Limits), len(limits()))
	}
	// The streams' files are gone.
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("files left behind: %q", left)
	}
	checkOutputs(t, rep)
}

// checkOutputs checks that the report survives JSON, and writes tables and a
// well-formed chart, alone and compared with a made-up peer.
func checkOutputs(t *testing.T, rep *Report) {
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil || len(back.Results) != len(rep.Results) {
		t.Fatalf("read back %v results, %v", len(back.Results), err)
	}
	peer := *back
	peer.Limits = nil
	peer.Results = nil
	for _, r := range back.Results {
		if r.System != "spool" {
			continue
		}
		r.System = "peer"
		r.RecordsPerSec /= 2
		r.P50Ns *= 2
		peer.Results = append(peer.Results, r)
	}
	for _, r := range []*Report{rep, Merge(back, &peer)} {
		var tables, chart bytes.Buffer
		if err := r.WriteTables(&tables); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteSVG(&chart); err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(chart.Bytes(), new(struct{})); err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, chart.String())
		}
		if !strings.Contains(tables.String(), "produce-100B-async") {
			t.Errorf("tables lack the workloads:\n%s", tables.String())
		}
	}
	var tables bytes.Buffer
	Merge(back, &peer).WriteTables(&tables)
	if !strings.Contains(tables.String(), "2.00×") {
		t.Errorf("the comparison lacks spool's advantage of 2×:\n%s", tables.String())
	}
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "latency", true},
		{[]string{"latency"}, "latency", true},
		{[]string{"latency"}, "latency-idle", true},
		{[]string{"produce-100B"}, "produce-100B-sync-64p-wait", true},
		{[]string{"produce-100B"}, "produce-1KiB-async", false},
		{[]string{"produce-*-async"}, "produce-1KiB-async", true},
		{[]string{"consume"}, "latency", false},
	} {
		if got := selected(c.patterns, c.name); got != c.want {
			t.Errorf("selected(%q, %q) = %v, want %v", c.patterns, c.name, got, c.want)
		}
	}
}

func TestPercentileAndMedian(t *testing.T) {
	l := latencies{5, 1, 4, 2, 3}
	if p := l.percentile(0.5); p != 3 {
		t.Errorf("p50 = %v, want 3", p)
	}
	if p := l.percentile(0.999); p != 5 {
		t.Errorf("p99.9 = %v, want 5", p)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
	if s := spread([]float64{1, 2, 4}); s != 1.5 {
		t.Errorf("spread = %v, want 1.5", s)
	}
}
