package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// run runs the command line args with stdin and returns its standard output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCapture(t, stdin, args...)
	return out, err
}

// runCapture runs the command line args with stdin and returns its standard
// output and standard error.
func runCapture(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	return out.String(), stderr.String(), err
}

func TestDemo(t *testing.T) {
	out, err := run(t, "", "demo", "--records", "3000", "--file", filepath.Join(t.TempDir(), "d.spool"))
	if err != nil {
		t.Fatal(err)
	}
	checkDemo(t, out, 3000)
}

func TestProduceConsumeGroup(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.spool")
	if _, err := run(t, "", "-f", f, "topic", "create", "t", "--partitions", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "a\nb\nc\nd\n", "-f", f, "produce", "t"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "-f", f, "consume", "t", "--group", "g", "--count", "3")
	if err != nil || out != "a\nb\nc\n" {
		t.Fatalf("first consume: %q, %v", out, err)
	}
	out, err = run(t, "", "-f", f, "consume", "t", "--group", "g")
	if err != nil || out != "d\n" {
		t.Fatalf("second consume resumes after the group's commit: %q, %v", out, err)
	}
	out, err = run(t, "", "-f", f, "group", "describe", "g")
	if err != nil || !hasRow(out, "g t 0 4 4 0 -") {
		t.Fatalf("describe: %q, %v", out, err)
	}
	if _, err := run(t, "", "-f", f, "consume", "nope"); err == nil || !strings.Contains(err.Error(), "unknown topic") {
		t.Fatalf("consume of a missing topic: %v", err)
	}
	if _, err := run(t, "", "-f", f, "topic", "create", "u", "--config", "retention.ms"); err == nil || !strings.Contains(err.Error(), "NAME=VALUE") {
		t.Fatalf("bad --config: %v", err)
	}
}

// hasRow reports whether out has a line whose fields are those of row.
func hasRow(out, row string) bool {
	want := strings.Join(strings.Fields(row), " ")
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
	}
	return false
}

func TestCheckCommand(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.spool")
	if _, err := run(t, "", "demo", "--records", "1000", "--file", f); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "-f", f, "check")
	// The producers batch as the records come, so the batch count varies.
	if err != nil || !regexp.MustCompile(`^3 partitions, 3 extents, \d+ batches`).MatchString(out) || !strings.Contains(out, " 0 problems") {
		t.Fatalf("check of a good file: %q, %v", out, err)
	}
	// Damage one byte of a batch in the first data extent.
	file, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(f, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(format.ExtentOffset(firstDataExtent(t, file), format.DefaultExtentSize)) + format.ExtentHeaderSize + 200
	b := []byte{0}
	fh.ReadAt(b, off)
	b[0] ^= 1
	fh.WriteAt(b, off)
	fh.Close()
	out, err = run(t, "", "-f", f, "check")
	if !errors.Is(err, errDamaged) || !strings.Contains(out, "damaged: orders/") || !strings.Contains(out, "1 problems") {
		t.Fatalf("check of a damaged file: %q, %v", out, err)
	}
}

// TestConsumeCompressed prints the records of a compressed batch, as a
// Kafka client with compression.type=lz4 would have written it.
func TestConsumeCompressed(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.spool")
	s, err := store.Open(f, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(context.Background(), "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	var bb format.BatchBuilder
	bb.Reset(time.Now().UnixMilli())
	for _, v := range []string{"x", "y", "z"} {
		bb.Append(time.Now().UnixMilli(), nil, []byte(v))
	}
	b, err := bb.BuildCompressed(nil, format.CompressionLZ4, codec.CompressFunc(format.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(context.Background(), &store.Txn{Appends: []store.Append{{Topic: "t", Batches: b}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "-f", f, "consume", "t")
	if err != nil || out != "x\ny\nz\n" {
		t.Fatalf("consume: %q, %v", out, err)
	}
}

func TestConsumeFromTime(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.spool")
	if _, err := run(t, "", "-f", f, "topic", "create", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "a\nb\n", "-f", f, "produce", "t", "--durability", "none"); err != nil {
		t.Fatal(err)
	}
	for from, want := range map[string]string{"2000-01-01": "a\nb\n", "2999-01-01T00:00:00Z": "", "1": "b\n", "latest": ""} {
		if out, err := run(t, "", "-f", f, "consume", "t", "--from", from); err != nil || out != want {
			t.Errorf("--from %s: %q, %v; want %q", from, out, err, want)
		}
	}
}

// TestEveryCommandHasExample walks the command tree: every command's help
// shows how it is used. bench, which is being written, is left out for now.
func TestEveryCommandHasExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "bench" {
			return
		}
		if c.Name() != "help" && !c.Hidden && c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}
