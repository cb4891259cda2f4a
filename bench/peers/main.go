// Command peers runs spool's benchmark workloads on spool and on the systems
// people would pick instead (Redis Streams, NATS JetStream, PostgreSQL,
// SQLite), workload by workload so that they share the machine's conditions,
// and prints spool's ratio to each. run.sh beside it installs and starts the
// servers and runs it; it lives in a module of its own so that its drivers
// stay out of spool's go.mod.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spooldb/spool/internal/bench"
)

// peerFlags say where each peer listens; an empty one leaves that peer out.
type peerFlags struct {
	redis, nats, natsSync, pg string
	sqlite                    bool
}

func (p peerFlags) args() []string {
	return []string{"--redis=" + p.redis, "--nats=" + p.nats, "--nats-sync=" + p.natsSync, "--pg=" + p.pg,
		fmt.Sprintf("--sqlite=%v", p.sqlite)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var pf peerFlags
	var cfg bench.Config
	var workloads, jsonOut, svgOut, recoverySize string
	flag.StringVar(&pf.redis, "redis", "", "Redis address: a Unix socket path or host:port")
	flag.StringVar(&pf.nats, "nats", "", "URL of a NATS server with JetStream (default sync)")
	flag.StringVar(&pf.natsSync, "nats-sync", "", "URL of a NATS server with JetStream and sync_interval: always")
	flag.StringVar(&pf.pg, "pg", "", "PostgreSQL connection string")
	flag.BoolVar(&pf.sqlite, "sqlite", true, "measure SQLite (linked in)")
	flag.BoolVar(&cfg.Short, "short", false, "small sizes, one repetition")
	flag.StringVar(&workloads, "workload", "", "comma-separated workloads (names, prefixes, globs)")
	flag.StringVar(&cfg.Dir, "dir", ".", "where the files of spool and SQLite go (a new directory inside, removed at the end)")
	flag.IntVar(&cfg.Reps, "reps", 0, "repetitions of each workload (default 3)")
	flag.DurationVar(&cfg.Duration, "duration", 0, "length of one repetition of a timed workload (default 1s)")
	flag.StringVar(&recoverySize, "recovery-size", "", "bytes of the file the recovery workload opens (default 1 GiB)")
	flag.StringVar(&jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&svgOut, "svg", "", "write the comparison chart to this SVG file")
	flag.Parse()

	var notes []string
	systems := []bench.System{bench.Spool()}
	add := func(name string, sys bench.System, err error) {
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s is not measured: %v", name, err))
			fmt.Fprintf(os.Stderr, "peers: %s is not measured: %v\n", name, err)
			return
		}
		systems = append(systems, sys)
	}
	if pf.redis != "" {
		s, err := newRedis(ctx, pf.redis)
		add("Redis", s, err)
	} else {
		add("Redis", nil, errors.New("no --redis"))
	}
	if pf.nats != "" {
		s, err := newNATS(pf.nats, pf.natsSync)
		add("NATS", s, err)
	} else {
		add("NATS", nil, errors.New("no --nats"))
	}
	if pf.pg != "" {
		s, err := newPostgres(ctx, pf.pg)
		add("PostgreSQL", s, err)
	} else {
		add("PostgreSQL", nil, errors.New("no --pg"))
	}
	if pf.sqlite {
		add("SQLite", sqliteSystem{}, nil)
	}

	if args := flag.Args(); len(args) > 0 && args[0] == "child" {
		return bench.Child(ctx, systems, args[1:], os.Stdin, os.Stdout)
	}
	if len(flag.Args()) > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if workloads != "" {
		cfg.Workloads = strings.Split(workloads, ",")
	}
	if recoverySize != "" {
		if _, err := fmt.Sscan(recoverySize, &cfg.RecoveryBytes); err != nil {
			return fmt.Errorf("--recovery-size %q: %w", recoverySize, err)
		}
	}
	dir, err := os.MkdirTemp(cfg.Dir, "peers-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.Dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	cfg.Systems = systems
	cfg.Log = os.Stderr
	cfg.Child = func(args ...string) *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		return exec.Command(exe, append(append(pf.args(), "child"), args...)...)
	}
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	rep.Notes = append(rep.Notes, notes...)
	return errors.Join(err, writeOutputs(rep, jsonOut, svgOut))
}

func writeOutputs(rep *bench.Report, jsonOut, svgOut string) error {
	if err := rep.WriteTables(os.Stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(*os.File) error
	}{
		{jsonOut, func(f *os.File) error { return rep.WriteJSON(f) }},
		{svgOut, func(f *os.File) error { return rep.WriteSVG(f) }},
	} {
		if out.path == "" {
			continue
		}
		f, err := os.Create(out.path)
		if err != nil {
			return err
		}
		if err := errors.Join(out.write(f), f.Close()); err != nil {
			return err
		}
	}
	return nil
}
