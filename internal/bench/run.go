package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"time"
)

// Config says what Run measures, on what and where.
type Config struct {
	// Systems are measured workload by workload, one after the other, so
	// that they share the machine's conditions as closely as they can.
	Systems []System
	// Dir holds the files of the run. It should be on the disk the systems
	// would use in production: not tmpfs.
	Dir string
	// Short runs small sizes, to check that everything works (seconds).
	Short bool
	// Reps is how many times each workload runs; the figures are medians
	// (0: 3, or 1 with Short).
	Reps int
	// Workloads selects workloads and limits by name, name prefix (up to
	// a dash) or glob; none selects all.
	Workloads []string
	// RecoveryBytes is the size of the file the recovery workload opens
	// (0: 1 GiB, or 4 MiB with Short).
	RecoveryBytes int64
	// Duration is the length of one repetition of a timed workload (0: 1s,
	// or 30ms with Short).
	Duration time.Duration
	// Child returns a command that runs this program again, calling Child
	// with args; the latency and recovery workloads run their second
	// process with it. Without it they are skipped.
	Child func(args ...string) *exec.Cmd
	// Log receives a line as each measurement ends; nil discards them.
	Log io.Writer
}

// sizes are the sizes of one run.
type sizes struct {
	reps           int
	duration       time.Duration
	consumeRecords int // of 100 bytes; a quarter as many of 1 KiB
	groupRecords   int
	latencySamples int // records sent back to back, per repetition
	idleSamples    int // records sent 1 ms apart, per repetition
	recoveryBytes  int64
}

func (c Config) sizes() sizes {
	s := sizes{reps: 3, duration: time.Second, consumeRecords: 2_000_000, groupRecords: 2_000_000,
		latencySamples: 10_000, idleSamples: 1_000, recoveryBytes: 1 << 30}
	if c.Short {
		s = sizes{reps: 1, duration: 30 * time.Millisecond, consumeRecords: 20_000, groupRecords: 20_000,
			latencySamples: 50, idleSamples: 10, recoveryBytes: 4 << 20}
	}
	if c.Reps > 0 {
		s.reps = c.Reps
	}
	if c.Duration > 0 {
		s.duration = c.Duration
	}
	if c.RecoveryBytes > 0 {
		s.recoveryBytes = c.RecoveryBytes
	}
	return s
}

// kind is what a workload's primary figure is.
type kind int

const (
	throughput kind = iota // records per second, higher is better
	latency                // p50 in nanoseconds, lower is better
	elapsed                // seconds, lower is better
)

func (k kind) primary(f Figures) float64 {
	switch k {
	case latency:
		return f.P50Ns
	case elapsed:
		return f.Seconds
	}
	return f.RecordsPerSec
}

func (k kind) lowerIsBetter() bool { return k != throughput }

// workload is one measurement that runs on every system.
type workload struct {
	name  string
	about string
	kind  kind
	// limit names the machine limit whose fraction the result is, if any.
	limit string
	// run measures one system: the figures of each repetition.
	run func(ctx context.Context, r *runner, sys System) ([]Figures, error)
}

// workloads are every workload, in the order they run and are reported.
func workloads() []workload {
	return slices.Concat(produceWorkloads(), consumeWorkloads(), latencyWorkloads(), groupWorkloads(), recoveryWorkloads())
}

// WorkloadNames lists the workloads and limits, with a line about each.
func WorkloadNames() [][2]string {
	var out [][2]string
	for _, l := range limits() {
		out = append(out, [2]string{l.name, l.about})
	}
	for _, w := range workloads() {
		out = append(out, [2]string{w.name, w.about})
	}
	return out
}

// selected reports whether the patterns select name: all do when there are
// none.
func selected(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok || name == p || strings.HasPrefix(name, p+"-") {
			return true
		}
	}
	return false
}

// runner holds what the workloads of one run share.
type runner struct {
	cfg    Config
	sz     sizes
	seq    int
	limits map[string]Result
}

// spec returns a new stream's Spec, with a name no other stream of the run has.
func (r *runner) spec(what string, partitions int, d Durability, size int) Spec {
	r.seq++
	return Spec{Name: fmt.Sprintf("%s-%d", what, r.seq), Dir: r.cfg.Dir, Partitions: partitions, Durability: d, RecordSize: size}
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

// Run measures the limits and workloads cfg selects on each of its systems.
// A workload that fails on a system is reported as skipped with the error;
// Report.Failures lists them.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r := &runner{cfg: cfg, sz: cfg.sizes(), limits: map[string]Result{}}
	rep := newReport(cfg, r.sz)
	ws := slices.DeleteFunc(workloads(), func(w workload) bool { return !selected(cfg.Workloads, w.name) })
	for _, l := range limits() {
		needed := slices.ContainsFunc(ws, func(w workload) bool { return w.limit == l.name })
		if !needed && !selected(cfg.Workloads, l.name) {
			continue
		}
		res := r.measureLimit(ctx, l)
		r.limits[l.name] = res
		rep.Limits = append(rep.Limits, res)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	for _, w := range ws {
		for _, sys := range cfg.Systems {
			rep.Results = append(rep.Results, r.measure(ctx, w, sys))
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
	}
	rep.finish()
	return rep, nil
}

// measure runs w on sys and sums up its repetitions.
func (r *runner) measure(ctx context.Context, w workload, sys System) Result {
	res := Result{System: sys.Name(), Workload: w.name}
	if w.name != "recovery" {
		res.Mode = sys.Mode(workloadDurability(w.name))
	}
	start := time.Now()
	reps, err := w.run(ctx, r, sys)
	var skip skipError
	switch {
	case errors.As(err, &skip):
		res.Skipped = string(skip)
	case err != nil:
		res.Skipped = "failed: " + oneLine(err)
	}
	if err != nil {
		r.logf("%-30s %-9s %s", w.name, sys.Name(), res.Skipped)
		return res
	}
	res.Figures = medianFigures(reps)
	for _, f := range reps {
		res.Reps = append(res.Reps, w.kind.primary(f))
	}
	res.Spread = spread(res.Reps)
	if l, ok := r.limits[w.limit]; ok && l.Skipped == "" {
		res.Limit = w.limit
		res.OfLimit = ofLimit(w.limit, res.Figures, l.Figures)
	}
	r.logf("%-30s %-9s %s  (%d reps, spread %.0f%%, %.1fs)", w.name, sys.Name(), summary(w.kind, res.Figures),
		len(reps), 100*res.Spread, time.Since(start).Seconds())
	return res
}

// workloadDurability is the durability a workload's name asks for.
func workloadDurability(name string) Durability {
	if strings.Contains(name, "-sync") {
		return Sync
	}
	return Async
}

// skipError says why a workload does not run on a system; it is no failure.
type skipError string

func (e skipError) Error() string { return string(e) }

// summary is the one-line form of figures for the log.
func summary(k kind, f Figures) string {
	switch k {
	case latency:
		return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s", fmtNs(f.P50Ns), fmtNs(f.P99Ns), fmtNs(f.P999Ns))
	case elapsed:
		return fmt.Sprintf("%s for %s", fmtNs(f.Seconds*1e9), fmtBytes(f.FileBytes))
	}
	s := fmt.Sprintf("%s rec/s  %s/s", fmtCount(f.RecordsPerSec), fmtBytes(f.BytesPerSec))
	if f.P50Ns > 0 {
		s += fmt.Sprintf("  ack p50 %s p99 %s", fmtNs(f.P50Ns), fmtNs(f.P99Ns))
	}
	if f.RecordsPerSync > 0 {
		s += fmt.Sprintf("  %.1f rec/sync", f.RecordsPerSync)
	}
	return s
}

// Skip returns the error a System returns when a workload cannot run on it
// (a setting it lacks): the report shows the reason, and it is no failure.
func Skip(reason string) error { return skipError(reason) }

// oneLine is err's message on one line, each distinct line once: errors
// joined from several goroutines often repeat, and a table cell has one line.
func oneLine(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
