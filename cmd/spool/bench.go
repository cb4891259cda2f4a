package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/bench"
)

func newBench() *cobra.Command {
	var cfg bench.Config
	var dir, svgOut, cpuProfile, tracePath, recoverySize string
	var list, asJSON, engine bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure spool's throughput, latency and recovery against the machine's limits",
		Long: `Run spool's benchmark workloads (producing, consuming, produce-to-consume latency
across two processes, a consumer group, opening a file after kill -9) and measure
the machine's limits in the same run (sequential write bandwidth, small appends
each followed by a sync, memory copy), so that every figure can be read against
them. Each workload runs several times; the figures are medians.

Files go into a new directory under --dir (default: the current directory, so
that they land on the disk you work on), removed at the end. A benchmark on
tmpfs measures memory: bench refuses to put its files there unless --dir asks
for it explicitly.

spool is driven through its public API (spool.Open, a Producer per client
whose requests are ProduceSync calls, a Consumer per partition; in the group
workload, 4 Consumers that Subscribe as members of one group). --engine
also runs spool-engine, the same file driven through the engine directly
(batches built by the benchmark and committed whole, batches read whole),
and the comparison shows the API's cost as the ratio of the two.

bench/peers/run.sh runs the same workloads on Redis, NATS JetStream, PostgreSQL
and SQLite, and prints spool's ratio to each.`,
		Example: `  spool bench
  spool bench --short
  spool bench --short --engine
  spool bench --workload produce-100B,latency --json > results.json
  spool bench --svg bench.svg --cpuprofile cpu.pprof
  spool bench report results.json peers.json --svg comparison.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				for _, w := range bench.WorkloadNames() {
					fmt.Fprintf(cmd.OutOrStdout(), "%-32s %s\n", w[0], w[1])
				}
				return nil
			}
			var err error
			if cfg.RecoveryBytes, err = parseSize(recoverySize); err != nil {
				return fmt.Errorf("--recovery-size: %w", err)
			}
			explicit := cmd.Flags().Changed("dir")
			run, cleanup, err := benchDir(dir, explicit, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer cleanup()
			cfg.Dir = run
			cfg.Systems = []bench.System{bench.Spool()}
			if engine {
				cfg.Systems = append(cfg.Systems, bench.SpoolEngine())
			}
			cfg.Child = spoolChild
			cfg.Log = cmd.ErrOrStderr()
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if tracePath != "" {
				stop, err := startTrace(tracePath)
				if err != nil {
					return err
				}
				defer stop()
			}
			rep, err := bench.Run(cmdContext(cmd), cfg)
			if rep == nil {
				return err
			}
			return errors.Join(err, writeReport(cmd.OutOrStdout(), rep, asJSON, svgOut), failed(rep))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Short, "short", false, "small sizes, one repetition: checks that everything works, in seconds")
	f.StringSliceVarP(&cfg.Workloads, "workload", "w", nil, "run only these workloads and limits: names, name prefixes (produce-100B) or globs; repeatable or comma-separated (see --list)")
	f.StringVar(&dir, "dir", ".", "where the benchmark's files go, in a new directory removed at the end; not tmpfs unless you mean it")
	f.BoolVar(&asJSON, "json", false, "write the results as JSON instead of tables (progress goes to standard error)")
	f.StringVar(&svgOut, "svg", "", "write a chart of the results to this SVG file")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (producers, consumers, the store) to this file")
	f.StringVar(&tracePath, "trace", "", "write an execution trace of this process to this file (go tool trace -pprof=syscall shows where goroutines block in the kernel)")
	f.IntVar(&cfg.Reps, "reps", 0, "repetitions of each workload (default 3, 1 with --short)")
	f.DurationVar(&cfg.Duration, "duration", 0, "length of one repetition of a timed workload (default 1s, 30ms with --short)")
	f.StringVar(&recoverySize, "recovery-size", "", "size of the file the recovery workload opens after kill -9, e.g. 10GiB (default 1GiB, 4MiB with --short)")
	f.BoolVar(&engine, "engine", false, "also run spool-engine, spool's engine driven directly, beside the public API: the comparison shows what the API costs")
	f.BoolVar(&list, "list", false, "list the workloads and limits, and exit")
	cmd.AddCommand(newBenchReport(), newBenchChild())
	return cmd
}

// writeReport writes rep to out as JSON or as tables, and the chart when
// asked.
func writeReport(out io.Writer, rep *bench.Report, asJSON bool, svgPath string) error {
	var err error
	if asJSON {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteTables(out)
	}
	if err == nil && svgPath != "" {
		err = writeFile(svgPath, rep.WriteSVG)
	}
	return err
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}

// failed is an error naming the workloads that failed, if any did.
func failed(rep *bench.Report) error {
	if f := rep.Failures(); len(f) > 0 {
		return fmt.Errorf("%d workload(s) failed:\n  %s", len(f), strings.Join(f, "\n  "))
	}
	return nil
}

// benchDir makes the run's directory under dir and returns it with the
// function that removes it. It refuses tmpfs unless the user named the
// directory.
func benchDir(dir string, explicit bool, warn io.Writer) (string, func(), error) {
	fsType, _ := bench.FSType(dir)
	if bench.InMemory(fsType) {
		if !explicit {
			return "", nil, fmt.Errorf("the current directory is on %s, which measures memory, not a disk: pass --dir on a disk (or --dir . to measure it anyway)", fsType)
		}
		fmt.Fprintf(warn, "warning: %s is on %s: the figures will measure memory, not a disk\n", dir, fsType)
	}
	run, err := os.MkdirTemp(dir, "spool-bench-")
	if err != nil {
		return "", nil, err
	}
	if abs, err := filepath.Abs(run); err == nil {
		run = abs
	}
	return run, func() { os.RemoveAll(run) }, nil
}

// spoolChild runs this program again as the child process of a workload.
func spoolChild(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, append([]string{"bench", "child"}, args...)...)
}

func startCPUProfile(path string) (stop func(), err error) {
	return startRecording(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

func startTrace(path string) (stop func(), err error) {
	return startRecording(path, trace.Start, trace.Stop)
}

// startRecording starts a profile or trace into a new file at path; stop
// ends it and closes the file.
func startRecording(path string, start func(io.Writer) error, end func()) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { end(); f.Close() }, nil
}

// newBenchReport merges result files, as --json wrote them, into one
// report: the tables with spool's ratio to each other system, and the chart.
func newBenchReport() *cobra.Command {
	var svgOut string
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Print results that --json wrote, compared system by system",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var reps []*bench.Report
			for _, a := range args {
				r, err := bench.ReadReport(a)
				if err != nil {
					return err
				}
				reps = append(reps, r)
			}
			return writeReport(cmd.OutOrStdout(), bench.Merge(reps...), false, svgOut)
		},
	}
	cmd.Flags().StringVar(&svgOut, "svg", "", "write a chart of the comparison to this SVG file")
	return cmd
}

// newBenchChild is the second process of the latency and recovery
// workloads; bench starts it.
func newBenchChild() *cobra.Command {
	return &cobra.Command{
		Use:                "child",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Child(cmdContext(cmd), []bench.System{bench.Spool(), bench.SpoolEngine()}, args, os.Stdin, cmd.OutOrStdout())
		},
	}
}

// parseSize reads a size in bytes with an optional binary unit: 4096,
// 512MiB, 10GiB. Empty is 0.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size like 4096, 512MiB or 10GiB", s)
	}
	return n * mult, nil
}
