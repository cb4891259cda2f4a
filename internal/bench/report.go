package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Report is everything one run measured, as --json writes it.
type Report struct {
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Machine Machine   `json:"machine"`
	Dir     string    `json:"dir"`
	Short   bool      `json:"short,omitempty"`
	Reps    int       `json:"reps"`
	// Limits are the machine's, measured in the same run.
	Limits  []Result `json:"limits,omitempty"`
	Results []Result `json:"results"`
	// Modes name each system's setting for each durability.
	Modes map[string]map[string]string `json:"modes,omitempty"`
	Notes []string                     `json:"notes,omitempty"`
}

func newReport(cfg Config, sz sizes) *Report {
	rep := &Report{Started: time.Now(), Machine: describeMachine(cfg.Dir), Dir: cfg.Dir, Short: cfg.Short, Reps: sz.reps,
		Command: strings.Join(os.Args, " "), Modes: map[string]map[string]string{}}
	for _, s := range cfg.Systems {
		rep.Modes[s.Name()] = map[string]string{Async.String(): s.Mode(Async), Sync.String(): s.Mode(Sync)}
	}
	if InMemory(rep.Machine.FS) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is on %s: the figures measure memory, not a disk", cfg.Dir, rep.Machine.FS))
	}
	return rep
}

func (r *Report) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	r.Machine.LoadAfter = loadAverage()
}

// Failures lists the workloads that failed, as "workload on system: error".
func (r *Report) Failures() []string {
	var out []string
	for _, res := range slices.Concat(r.Limits, r.Results) {
		if msg, ok := strings.CutPrefix(res.Skipped, "failed: "); ok {
			out = append(out, fmt.Sprintf("%s on %s: %s", res.Workload, res.System, msg))
		}
	}
	return out
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report that WriteJSON wrote.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Merge puts the results of several reports into one, to compare systems
// measured by different programs; the machine and limits are the first
// report's that has them. The results should come from the same run of the
// same machine: ratios across runs carry the noise of both.
func Merge(reports ...*Report) *Report {
	out := &Report{Modes: map[string]map[string]string{}}
	for _, r := range reports {
		if out.Started.IsZero() {
			out.Started, out.Machine, out.Dir, out.Short, out.Reps, out.Command = r.Started, r.Machine, r.Dir, r.Short, r.Reps, r.Command
		}
		if len(out.Limits) == 0 {
			out.Limits = r.Limits
		}
		out.Seconds += r.Seconds
		out.Results = append(out.Results, r.Results...)
		out.Notes = append(out.Notes, r.Notes...)
		for k, v := range r.Modes {
			out.Modes[k] = v
		}
	}
	return out
}

// systems lists the systems with results, spool first.
func (r *Report) systems() []string {
	out := r.distinct(func(res Result) string { return res.System })
	slices.SortStableFunc(out, func(a, b string) int {
		if a == "spool" {
			return -1
		}
		if b == "spool" {
			return 1
		}
		return 0
	})
	return out
}

// workloadNames lists the workloads with results, in the order they ran.
func (r *Report) workloadNames() []string {
	return r.distinct(func(res Result) string { return res.Workload })
}

// distinct lists the values of key over the results, in order, once each.
func (r *Report) distinct(key func(Result) string) []string {
	var out []string
	for _, res := range r.Results {
		if k := key(res); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func (r *Report) result(system, workload string) (Result, bool) {
	for _, res := range r.Results {
		if res.System == system && res.Workload == workload {
			return res, true
		}
	}
	return Result{}, false
}

// kindOf returns the kind of the workload named.
func kindOf(name string) kind {
	for _, w := range workloads() {
		if w.name == name {
			return w.kind
		}
	}
	return throughput
}

// Advantage is how many times better spool's result is than other's: a
// ratio of records per second, or the inverse ratio of latencies and times.
// It is 0 when either has no figure.
func Advantage(workload string, spool, other Result) float64 {
	k := kindOf(workload)
	a, b := k.primary(spool.Figures), k.primary(other.Figures)
	if spool.Skipped != "" || other.Skipped != "" || a == 0 || b == 0 {
		return 0
	}
	if k.lowerIsBetter() {
		return b / a
	}
	return a / b
}

// WriteTables writes r as Markdown tables: the machine, its limits, each
// system's figures, spool's targets and, with peers, the comparison.
func (r *Report) WriteTables(w io.Writer) error {
	t := &tableWriter{w: w}
	m := r.Machine
	if r.Command != "" {
		t.printf("Command: `%s`\n\n", r.Command)
	}
	t.printf("Machine: %s/%s, %d cores (%s), %s memory, kernel %s, %s; files on %s in %s.\n",
		m.OS, m.Arch, m.Cores, orDash(m.CPU), fmtBytes(float64(m.MemoryBytes)), orDash(m.Kernel), m.Go, orDash(m.FS), r.Dir)
	t.printf("Load average (1, 5, 15 min) %s at the start, %s at the end. Median of %d repetitions; spread = (max - min) / median.\n\n",
		orDash(m.LoadBefore), orDash(m.LoadAfter), r.Reps)
	for _, n := range r.Notes {
		t.printf("Note: %s\n\n", n)
	}
	if len(r.Limits) > 0 {
		t.row("limit of the machine", "figure", "spread")
		t.rule(3)
		for _, l := range r.Limits {
			t.row(l.Workload, limitFigure(l), spreadCell(l))
		}
		t.printf("\n")
	}
	for _, sys := range r.systems() {
		r.writeFigures(t, sys)
	}
	r.writeTargets(t)
	r.writeComparison(t)
	return t.err
}

func (r *Report) writeFigures(t *tableWriter, sys string) {
	t.printf("%s\n\n", sys)
	t.row("workload", "mode", "records/s", "MB/s", "p50", "p99", "p99.9", "rec/sync", "of limit", "spread")
	t.rule(10)
	for _, name := range r.workloadNames() {
		res, ok := r.result(sys, name)
		if !ok {
			continue
		}
		if res.Skipped != "" {
			t.row(name, res.Mode, "skipped: "+res.Skipped, "", "", "", "", "", "", "")
			continue
		}
		f := res.Figures
		rate, mb := "", ""
		if f.RecordsPerSec > 0 {
			rate, mb = fmtCount(f.RecordsPerSec), fmt.Sprintf("%.0f", f.BytesPerSec/1e6)
		}
		p50, p99, p999 := nsCell(f.P50Ns), nsCell(f.P99Ns), nsCell(f.P999Ns)
		if f.Seconds > 0 {
			p50 = fmtNs(f.Seconds*1e9) + " for " + fmtBytes(f.FileBytes)
		}
		perSync, of := "", ""
		if f.RecordsPerSync > 0 {
			perSync = fmt.Sprintf("%.1f", f.RecordsPerSync)
		}
		if res.OfLimit > 0 {
			of = fmt.Sprintf("%.0f%% %s", 100*res.OfLimit, strings.TrimPrefix(res.Limit, "limit-"))
		}
		t.row(name, res.Mode, rate, mb, p50, p99, p999, perSync, of, spreadCell(res))
	}
	t.printf("\n")
}

func (r *Report) writeTargets(t *tableWriter) {
	header := false
	for _, tg := range targets() {
		res, ok := r.result("spool", tg.workload)
		if !ok || res.Skipped != "" {
			continue
		}
		if !header {
			t.row("spool's target", "wanted", "measured", "met")
			t.rule(4)
			header = true
		}
		met := "no"
		if tg.met(res) {
			met = "yes"
		}
		measured := primaryCell(tg.workload, res)
		if res.OfLimit > 0 {
			measured += fmt.Sprintf(", %.0f%% of %s", 100*res.OfLimit, strings.TrimPrefix(res.Limit, "limit-"))
		}
		if res.FileBytes > 0 {
			measured += " for " + fmtBytes(res.FileBytes)
		}
		t.row(tg.workload, tg.want, measured, met)
	}
	if header {
		t.printf("\n")
	}
}

// writeComparison writes spool's primary figure beside each peer's, with
// spool's advantage.
func (r *Report) writeComparison(t *tableWriter) {
	peers := slices.DeleteFunc(r.systems(), func(s string) bool { return s == "spool" })
	if len(peers) == 0 {
		return
	}
	head := []string{"workload", "spool"}
	for _, p := range peers {
		head = append(head, p, "spool ×")
	}
	t.row(head...)
	t.rule(len(head))
	for _, name := range r.workloadNames() {
		sp, _ := r.result("spool", name)
		cells := []string{name, primaryCell(name, sp)}
		for _, p := range peers {
			res, ok := r.result(p, name)
			adv := ""
			if a := Advantage(name, sp, res); a > 0 {
				adv = fmtRatio(a)
			}
			if !ok {
				res.Skipped = "not run"
			}
			cells = append(cells, primaryCell(name, res), adv)
		}
		t.row(cells...)
	}
	t.printf("\nspool × is how many times better spool's figure is (records/s, or the inverse of latency and time).\n")
	t.printf("Durability of each system, async and sync workloads:\n\n")
	t.row("system", "async", "sync")
	t.rule(3)
	for _, s := range r.systems() {
		t.row(s, r.Modes[s][Async.String()], r.Modes[s][Sync.String()])
	}
	t.printf("\n")
}

// primaryCell writes a result's primary figure.
func primaryCell(workload string, res Result) string {
	if res.Skipped != "" {
		if strings.HasPrefix(res.Skipped, "failed") {
			return "failed"
		}
		return "skipped"
	}
	switch k := kindOf(workload); k {
	case latency:
		return fmtNs(res.P50Ns) + " (p99 " + fmtNs(res.P99Ns) + ")"
	case elapsed:
		return fmtNs(res.Seconds * 1e9)
	}
	s := fmtCount(res.RecordsPerSec) + "/s"
	if res.P99Ns > 0 && strings.Contains(workload, "-sync") {
		s += " (p99 " + fmtNs(res.P99Ns) + ")"
	}
	return s
}

func limitFigure(l Result) string {
	switch {
	case l.Skipped != "":
		return l.Skipped
	case strings.Contains(l.Workload, "sync"):
		return fmtCount(l.RecordsPerSec) + " syncs/s"
	}
	return fmtBytes(l.BytesPerSec) + "/s"
}

func nsCell(ns float64) string {
	if ns == 0 {
		return ""
	}
	return fmtNs(ns)
}

func spreadCell(r Result) string {
	if len(r.Reps) < 2 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*r.Spread)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tableWriter writes Markdown table rows and keeps the first error.
type tableWriter struct {
	w   io.Writer
	err error
}

func (t *tableWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *tableWriter) row(cells ...string) {
	t.printf("| %s |\n", strings.Join(cells, " | "))
}

func (t *tableWriter) rule(n int) {
	t.row(slices.Repeat([]string{"---"}, n)...)
}
