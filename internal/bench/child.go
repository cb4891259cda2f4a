package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The latency and recovery workloads need a second process: a consumer that
// sees records cross from another process, a writer that can be killed. The
// program that runs the benchmark runs itself again (Config.Child) and calls
// Child there; the two talk through the child's standard input and output,
// one line at a time. The child ends when its standard input closes, so it
// never outlives its parent.

// Roles of a child process.
const (
	roleLatency = "latency" // consume a stream, report each record's latency
	roleWriter  = "writer"  // produce into a stream until killed
)

// Child runs the child side of a workload in this process. args are those
// the parent passed to Config.Child; systems must include the one named
// there. It returns when stdin closes.
func Child(ctx context.Context, systems []System, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) < 3 {
		return fmt.Errorf("bench child: want ROLE SYSTEM SPEC [ARG], got %q", args)
	}
	role, name := args[0], args[1]
	var spec Spec
	if err := json.Unmarshal([]byte(args[2]), &spec); err != nil {
		return fmt.Errorf("bench child: spec: %w", err)
	}
	var sys System
	for _, s := range systems {
		if s.Name() == name {
			sys = s
		}
	}
	if sys == nil {
		return fmt.Errorf("bench child: no system %q here", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	out := bufio.NewWriter(stdout)
	var err error
	switch role {
	case roleLatency:
		err = latencyChild(ctx, sys, spec, out)
	case roleWriter:
		var goal int64
		if len(args) > 3 {
			goal, err = strconv.ParseInt(args[3], 10, 64)
		}
		if err == nil {
			err = writerChild(ctx, sys, spec, goal, out)
		}
	default:
		err = fmt.Errorf("bench child: unknown role %q", role)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil // the parent is done
	}
	return errors.Join(err, out.Flush())
}

// child is a running child process, seen from its parent.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
}

// startChild starts a child in role on sys's stream spec, with the
// arguments extra.
func (r *runner) startChild(sys System, role string, spec Spec, extra ...string) (*child, error) {
	if r.cfg.Child == nil {
		return nil, skipError("needs a second process, and this program cannot start one")
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	c := &child{cmd: r.cfg.Child(append([]string{role, sys.Name(), string(js)}, extra...)...),
		lines: make(chan string, 1024)}
	c.cmd.Stderr = &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.lines) // the child's output ended
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

// line returns the child's next line of output.
func (c *child) line(timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.cmd.Wait() // stderr is complete only then
			return "", fmt.Errorf("the child process ended: %s", c.failure())
		}
		return l, nil
	case <-t.C:
		return "", fmt.Errorf("the child process said nothing for %v", timeout)
	}
}

// expect reads lines until one starts with prefix, and returns its rest.
func (c *child) expect(prefix string, timeout time.Duration) (string, error) {
	for {
		l, err := c.line(timeout)
		if err != nil {
			return "", err
		}
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(rest), nil
		}
		if rest, ok := strings.CutPrefix(l, "error "); ok {
			return "", errors.New(rest)
		}
	}
}

func (c *child) failure() string {
	if s := strings.TrimSpace(c.stderr.String()); s != "" {
		return s
	}
	return "no message"
}

// stop closes the child's input, which ends it, and waits for it.
func (c *child) stop() {
	c.stdin.Close()
	t := time.AfterFunc(30*time.Second, func() { c.cmd.Process.Kill() })
	defer t.Stop()
	for range c.lines {
	}
	c.cmd.Wait()
}

// kill ends the child at once (SIGKILL on Unix), as a crash would, and waits
// for it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	c.stop()
}
