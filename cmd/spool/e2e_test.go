package main

// End-to-end tests: they run the spool binary as a user does, so that exit
// statuses, standard streams, signals and several processes on one file are
// tested as they really are.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/partition"
)

// spoolBinary is the command built once for every test in TestMain.
var spoolBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spool-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	spoolBinary = filepath.Join(dir, "spool")
	if runtime.GOOS == "windows" {
		spoolBinary += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", spoolBinary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building spool: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ran is what one run of the binary did.
type ran struct {
	stdout, stderr string
	code           int
}

// command returns the binary set up to run args, with SPOOL_FILE unset so
// that only -f names the file.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(spoolBinary, args...)
	cmd.Env = append(os.Environ(), "SPOOL_FILE=")
	return cmd
}

// spool runs the binary with stdin and returns what it did; it fails the
// test only if the binary could not run.
func spool(t *testing.T, stdin string, args ...string) ran {
	t.Helper()
	cmd := command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("spool %s: %v", strings.Join(args, " "), err)
	}
	return ran{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// ok runs the binary and fails the test unless it exits 0.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := spool(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("spool %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs the binary and fails the test unless it exits non-zero with
// every one of wants in its stderr.
func fails(t *testing.T, wants []string, args ...string) {
	t.Helper()
	r := spool(t, "", args...)
	if r.code == 0 {
		t.Fatalf("spool %s: exit 0, want an error", strings.Join(args, " "))
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("spool %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, r.stderr)
		}
	}
}

// describe returns a group's describe --format json.
func describe(t *testing.T, file, group string) groupReport {
	t.Helper()
	var r groupReport
	if err := json.Unmarshal([]byte(ok(t, "", "-f", file, "group", "describe", group, "--format", "json")), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// offsets returns a group's committed offset in each partition of topic t
// it committed in.
func (r groupReport) offsets() map[int32]int64 {
	out := map[int32]int64{}
	for _, p := range r.Partitions {
		if p.CurrentOffset != nil {
			out[p.Partition] = *p.CurrentOffset
		}
	}
	return out
}

// keyedFile creates a file with topic t of 3 partitions and 30 keyed records
// and returns its path and how many records each partition got.
func keyedFile(t *testing.T) (string, map[int32]int64) {
	f := filepath.Join(t.TempDir(), "e2e.spool")
	ok(t, "", "-f", f, "topic", "create", "t", "--partitions", "3")
	var in strings.Builder
	want := map[int32]int64{}
	for i := range 30 {
		key := fmt.Sprintf("key%d", i)
		fmt.Fprintf(&in, "%s=value%d\n", key, i)
		want[partition.ForKey([]byte(key), 3)]++
	}
	ok(t, in.String(), "-f", f, "produce", "t", "--key-sep", "=", "--header", "source=test")
	return f, want
}

func TestBinaryProduceConsumeTwoGroups(t *testing.T) {
	f, perPartition := keyedFile(t)
	// Keys land where Kafka's default partitioner puts them.
	var stats statsReport
	if err := json.Unmarshal([]byte(ok(t, "", "-f", f, "stats", "--format", "json")), &stats); err != nil {
		t.Fatal(err)
	}
	data := 0
	for _, p := range stats.Topics[0].Partitions {
		if p.Records != perPartition[p.Partition] {
			t.Errorf("partition %d has %d records, murmur2 gives it %d", p.Partition, p.Records, perPartition[p.Partition])
		}
		data += p.Extents
	}
	// The extents by kind add up, and the data extents are the partitions'.
	c := stats.Extents
	if c.Data != data || c.Journal == 0 || c.Data+c.Journal+c.Checkpoint+c.Free+c.PendingFree != c.Total {
		t.Errorf("extents %+v; the partitions hold %d", c, data)
	}
	if text := ok(t, "", "-f", f, "stats"); !strings.Contains(text, fmt.Sprintf(" %d: %d data, %d journal, ", c.Total, c.Data, c.Journal)) {
		t.Errorf("stats printed:\n%s", text)
	}

	out := ok(t, "", "-f", f, "consume", "t", "--group", "a", "--count", "10", "--format", "{{.Key}} {{.Header \"source\"}}")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 10 || !strings.HasSuffix(lines[0], " test") {
		t.Fatalf("group a's first consume printed %q", out)
	}
	out = ok(t, "", "-f", f, "consume", "t", "--group", "b", "--format", "json")
	var seen int
	for line := range strings.Lines(out) {
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Key == nil || !strings.HasPrefix(*r.Value, "value") {
			t.Fatalf("json line %q: %+v, %v", line, r, err)
		}
		seen++
	}
	if seen != 30 {
		t.Fatalf("group b consumed %d records, want 30", seen)
	}

	if a := describe(t, f, "a"); a.TotalLag != 20 {
		t.Errorf("group a's lag is %d, want 20: %+v", a.TotalLag, a)
	}
	b := describe(t, f, "b")
	if b.TotalLag != 0 || len(b.Partitions) != 3 || b.Partitions[0].ConsumerID != nil {
		t.Errorf("group b: %+v", b)
	}
	text := ok(t, "", "-f", f, "group", "describe", "b")
	if !strings.Contains(text, "GROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID") ||
		!strings.Contains(text, "group b: Empty, generation 0, assignor -, 0 members") {
		t.Errorf("describe's columns are not Kafka's, or the group's line is missing:\n%s", text)
	}
	if got := ok(t, "", "-f", f, "group", "list"); got != "a\nb\n" {
		t.Errorf("group list: %q", got)
	}
}

func TestBinaryGroupReset(t *testing.T) {
	f, perPartition := keyedFile(t)
	ok(t, "", "-f", f, "consume", "t", "--group", "g", "--format", "{{.Offset}}")
	before := describe(t, f, "g").offsets()

	plan := ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest")
	for p := range int32(3) {
		if !hasRow(plan, fmt.Sprintf("g t %d 0", p)) {
			t.Errorf("the plan lacks partition %d at 0:\n%s", p, plan)
		}
	}
	if after := describe(t, f, "g").offsets(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a dry run moved the offsets from %v to %v", before, after)
	}

	ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest", "--execute")
	if r := describe(t, f, "g"); r.TotalLag != 30 {
		t.Fatalf("after --to-earliest --execute the lag is %d, want 30", r.TotalLag)
	}
	// Kafka clamps to the log end; a shift back clamps to the log start.
	ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t:1", "--to-offset", "1000", "--execute")
	ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t:0", "--shift-by", "-5", "--execute")
	got := describe(t, f, "g").offsets()
	if got[0] != 0 || got[1] != perPartition[1] || got[2] != 0 {
		t.Fatalf("offsets after the resets: %v, want 0, %d, 0", got, perPartition[1])
	}
	ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t", "--to-datetime", "2000-01-01T00:00:00Z", "--execute")
	if got := describe(t, f, "g").offsets(); got[1] != 0 {
		t.Fatalf("--to-datetime before every record: %v", got)
	}

	fails(t, []string{"if any flags in the group"}, "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest", "--to-latest")
	fails(t, []string{"t:7"}, "-f", f, "group", "reset", "g", "--topic", "t:7", "--to-earliest")
	out := ok(t, "", "-f", f, "group", "delete", "g")
	if !strings.Contains(out, "deleted group g") || ok(t, "", "-f", f, "group", "list") != "" {
		t.Fatalf("group delete: %q", out)
	}
}

func TestBinaryCheckDamagedCopy(t *testing.T) {
	dir := t.TempDir()
	good, damaged := filepath.Join(dir, "good.spool"), filepath.Join(dir, "damaged.spool")
	ok(t, "", "demo", "--records", "1000", "--file", good)
	if out := ok(t, "", "-f", good, "check"); !strings.Contains(out, " 0 problems") {
		t.Fatalf("check of a good file: %q", out)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	e := firstDataExtent(t, b)
	b[format.ExtentOffset(e, format.DefaultExtentSize)+format.ExtentHeaderSize+300] ^= 0xff
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := spool(t, "", "-f", damaged, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "damaged: orders/") || !strings.Contains(r.stdout, "1 problems") {
		t.Fatalf("check of a damaged copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// firstDataExtent finds a data extent by its header, as the file lays it out.
func firstDataExtent(t *testing.T, file []byte) uint32 {
	for e := uint32(0); format.ExtentOffset(e, format.DefaultExtentSize)+format.ExtentHeaderSize <= int64(len(file)); e++ {
		off := format.ExtentOffset(e, format.DefaultExtentSize)
		h, err := format.DecodeExtentHeader(file[off : off+format.ExtentHeaderSize])
		if err == nil && h.Kind == format.KindData {
			return e
		}
	}
	t.Fatal("no data extent in the file")
	return 0
}

func TestBinaryDemo(t *testing.T) {
	checkDemo(t, ok(t, "", "demo", "--records", "3000"), 3000)
}

// checkDemo checks the demo's three lag tables: the whole topic behind,
// then half of it, then none; every partition owned by the pool, a member
// alive; and the explanation.
func checkDemo(t *testing.T, out string, records int) {
	t.Helper()
	var totals []string
	owners := map[string]bool{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "total" && f[1] == "lag":
			totals = append(totals, f[2])
		case len(f) == 7 && f[0] == "billing" && f[1] == "orders":
			owners[f[6]] = true
		case len(f) == 6 && strings.HasPrefix(f[0], "billing-") && (f[2] != "yes" || f[5] != "3"):
			t.Errorf("the pool's member line: %q", line)
		}
	}
	want := []string{fmt.Sprint(records), fmt.Sprint(records - records/2), "0"}
	if fmt.Sprint(totals) != fmt.Sprint(want) {
		t.Errorf("the demo's total lags are %v, want %v", totals, want)
	}
	if len(owners) != 1 || owners["-"] || !strings.HasPrefix(slices.Collect(maps.Keys(owners))[0], "billing-") {
		t.Errorf("the partitions' owners: %v, want the one pool", owners)
	}
	for _, want := range []string{"CURRENT-OFFSET is the group's committed", "same file as the records", "Stable, generation"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo does not say %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo:\n%s", out)
	}
}

// TestBinaryFollowInterrupt follows a topic as a group, gets records that a
// second process produces while it waits, and stops on SIGINT with the
// group's progress committed.
func TestBinaryFollowInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	f := filepath.Join(t.TempDir(), "follow.spool")
	ok(t, "", "-f", f, "topic", "create", "t", "--partitions", "2")
	ok(t, "a\nb\nc\n", "-f", f, "produce", "t")

	follow := command("-f", f, "consume", "t", "--group", "g", "--follow")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill() // if the test fails before it ends
	lines := bufio.NewScanner(stdout)
	readLines := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if !lines.Scan() {
				t.Fatalf("follow ended before %q: %v %s", w, lines.Err(), stderr.String())
			}
			if lines.Text() != w {
				t.Fatalf("follow printed %q, want %q", lines.Text(), w)
			}
		}
	}
	readLines("a", "b", "c") // it runs and has caught up
	ok(t, "d\ne\n", "-f", f, "produce", "t", "--partition", "1")
	readLines("d", "e") // a commit of another process woke it

	if err := follow.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := follow.Wait(); err != nil || len(rest) > 0 {
		t.Fatalf("after SIGINT: %v, printed %q more, stderr %s", err, rest, stderr.String())
	}
	if r := describe(t, f, "g"); r.TotalLag != 0 || len(r.Partitions) != 2 {
		t.Fatalf("the group's progress after SIGINT: %+v", r)
	}
}

func TestBinaryCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := ok(t, "", "completion", shell); !strings.Contains(out, "__complete") {
			t.Errorf("completion %s does not call __complete:\n%.300s", shell, out)
		}
	}
	f, _ := keyedFile(t)
	ok(t, "", "-f", f, "topic", "create", "other")
	ok(t, "", "-f", f, "consume", "t", "--group", "billing", "--count", "1")
	if out := ok(t, "", "-f", f, "__complete", "topic", "describe", ""); !strings.HasPrefix(out, "other\nt\n:4\n") {
		t.Errorf("completing a topic: %q", out)
	}
	if out := ok(t, "", "-f", f, "__complete", "group", "describe", ""); !strings.HasPrefix(out, "billing\n:4\n") {
		t.Errorf("completing a group: %q", out)
	}
	if out := ok(t, "", "-f", f, "__complete", "consume", "t", "--group", ""); !strings.HasPrefix(out, "billing\n:4\n") {
		t.Errorf("completing --group: %q", out)
	}
}

// TestBinaryErrors checks that each mistake exits non-zero and says what to
// do about it.
func TestBinaryErrors(t *testing.T) {
	f, _ := keyedFile(t)
	missing := filepath.Join(t.TempDir(), "missing.spool")
	fails(t, []string{"unknown topic", "topic list"}, "-f", f, "consume", "nope")
	fails(t, []string{"unknown flag: --nope", "spool consume --help"}, "-f", f, "consume", "t", "--nope")
	fails(t, []string{`--from "soon"`, "examples:"}, "-f", f, "consume", "t", "--from", "soon")
	fails(t, []string{"no file", "topic create"}, "-f", missing, "topic", "list")
	fails(t, []string{"no file", "topic create"}, "-f", missing, "produce", "t", "--value", "x")
	fails(t, []string{"no file", "topic create"}, "-f", missing, "consume", "t", "--group", "g")
	fails(t, []string{"missing TOPIC"}, "-f", f, "consume")
	fails(t, []string{`unknown command "lsit"`, "did you mean list?"}, "-f", f, "topic", "lsit")
	fails(t, []string{"--partition 3", "partitions 0 to 2"}, "-f", f, "produce", "t", "--partition", "3", "--value", "x")
	fails(t, []string{"unknown group", "group list"}, "-f", f, "group", "describe", "nope")
	fails(t, []string{"no key separator", "line 1"}, "-f", f, "produce", "t", "--key-sep", "|", "--value", "novalue")
	fails(t, []string{"no file: pass --file"}, "topic", "list")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only command created the file: %v", err)
	}
}

func TestBinaryTopicAlterDelete(t *testing.T) {
	f, _ := keyedFile(t)
	out := ok(t, "", "-f", f, "topic", "alter", "t", "--retention", "2d", "--config", "max.message.bytes=10000")
	if !strings.Contains(out, "retention.ms=172800000") || !strings.Contains(out, "max.message.bytes=10000") {
		t.Fatalf("alter: %q", out)
	}
	fails(t, []string{"max.message.bytes"}, "-f", f, "produce", "t", "--value", strings.Repeat("x", 20000))
	out = ok(t, "", "-f", f, "topic", "delete", "t")
	if !strings.Contains(out, "deleted topic t: 3 partitions, 30 records") {
		t.Fatalf("delete: %q", out)
	}
	if out := ok(t, "", "-f", f, "topic", "list"); out != "" {
		t.Fatalf("topics after delete: %q", out)
	}
}

// TestBinaryProduceFromTerminalLikeInput commits lines as they arrive when
// the input pauses, as from a terminal or a slow pipe: a follower sees the
// first line before the producer's input ends.
func TestBinaryProduceFromTerminalLikeInput(t *testing.T) {
	f := filepath.Join(t.TempDir(), "slow.spool")
	ok(t, "", "-f", f, "topic", "create", "t")
	producer := command("-f", f, "produce", "t")
	in, err := producer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	defer producer.Process.Kill()
	follow := command("-f", f, "consume", "t", "--follow", "--count", "1")
	var out bytes.Buffer
	follow.Stdout = &out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	io.WriteString(in, "first\n")
	// The follower ends after one record, which the producer committed
	// while its input was still open.
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		if err != nil || out.String() != "first\n" {
			t.Fatalf("follower: %v %q", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the line was not committed while the input stayed open")
	}
	in.Close()
	if err := producer.Wait(); err != nil {
		t.Fatal(err)
	}
}

// follower is a consume --group G --follow running in the background.
type follower struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func startFollower(t *testing.T, args ...string) *follower {
	t.Helper()
	f := &follower{cmd: command(args...), done: make(chan error, 1)}
	f.cmd.Stdout, f.cmd.Stderr = &f.stdout, &f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.done <- f.cmd.Wait() }()
	t.Cleanup(func() {
		f.cmd.Process.Kill() // if the test failed before it stopped
		<-f.done
	})
	return f
}

// interrupt sends SIGINT and waits for the follower to exit 0.
func (f *follower) interrupt(t *testing.T) {
	t.Helper()
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := <-f.done
	f.done <- err // for the cleanup
	if err != nil {
		t.Fatalf("after SIGINT: %v, stderr %s", err, f.stderr.String())
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; it says what it waited for and what it last saw.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		held, saw := cond()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s; last saw %s", what, saw)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

// TestBinaryGroupLiveMembers runs two consume --group --follow processes:
// they join the group and share its partitions; describe names each
// partition's owner and both members; reset, delete and a consume without
// --follow refuse while they run and name them; after SIGINT the group is
// empty, its progress committed, and reset and delete succeed.
func TestBinaryGroupLiveMembers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	f, _ := keyedFile(t)
	a := startFollower(t, "-f", f, "consume", "t", "--group", "g", "--follow", "--format", "{{.Partition}}/{{.Offset}}")
	b := startFollower(t, "-f", f, "consume", "t", "--group", "g", "--follow", "--format", "{{.Partition}}/{{.Offset}}")
	var r groupReport
	waitFor(t, "two members sharing the three partitions, Stable", func() (bool, string) {
		got := spool(t, "", "-f", f, "group", "describe", "g", "--format", "json")
		if got.code != 0 {
			return false, got.stderr // the group does not exist before a member joins
		}
		r = groupReport{}
		if err := json.Unmarshal([]byte(got.stdout), &r); err != nil {
			t.Fatal(err)
		}
		owners := map[string]int{}
		for _, p := range r.Partitions {
			if p.ConsumerID != nil {
				owners[*p.ConsumerID]++
			}
		}
		return r.State == "Stable" && len(r.Members) == 2 && len(owners) == 2 && owners[r.Members[0].ID]+owners[r.Members[1].ID] == 3,
			fmt.Sprintf("%+v", r)
	})
	for _, m := range r.Members {
		if !m.Alive || m.Age == nil || m.Partitions == 0 || fmt.Sprint(m.Topics) != "[t]" {
			t.Errorf("member %+v", m)
		}
	}
	text := ok(t, "", "-f", f, "group", "describe", "g")
	for _, m := range r.Members {
		if !strings.Contains(text, m.ID) {
			t.Errorf("describe does not name member %s:\n%s", m.ID, text)
		}
	}
	if state := ok(t, "", "-f", f, "group", "list", "--state"); !hasRow(state, "g Stable 2 2") {
		t.Errorf("group list --state:\n%s", state)
	}

	// Records produced now go to both members' partitions.
	var in strings.Builder
	for i := range 60 {
		fmt.Fprintf(&in, "more%d=x\n", i)
	}
	ok(t, in.String(), "-f", f, "produce", "t", "--key-sep", "=")
	waitFor(t, "the members to catch up", func() (bool, string) {
		r = describe(t, f, "g")
		return r.TotalLag == 0, fmt.Sprintf("%+v", r)
	})

	refusal := []string{"live members", r.Members[0].ID, r.Members[1].ID, "stop the group's consumers first"}
	fails(t, refusal, "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest", "--execute")
	fails(t, refusal, "-f", f, "group", "delete", "g")
	fails(t, []string{"live members", "--follow"}, "-f", f, "consume", "t", "--group", "g")
	dry := spool(t, "", "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest")
	if dry.code != 0 || !strings.Contains(dry.stderr, "warning: --execute would fail now") || !strings.Contains(dry.stderr, r.Members[0].ID) {
		t.Errorf("the dry run with live members: exit %d\n%s", dry.code, dry.stderr)
	}

	a.interrupt(t)
	b.interrupt(t)
	// Every record printed once, by one member or the other, and both had
	// some: the partitions were shared.
	seen := map[string]bool{}
	for _, out := range []string{a.stdout.String(), b.stdout.String()} {
		if out == "" {
			t.Errorf("a member printed nothing")
		}
		for line := range strings.Lines(out) {
			if seen[line] {
				t.Errorf("printed twice: %s", line)
			}
			seen[line] = true
		}
	}
	if len(seen) != 90 {
		t.Errorf("the members printed %d records, want 90", len(seen))
	}
	r = describe(t, f, "g")
	if r.State != "Empty" || len(r.Members) != 0 || r.TotalLag != 0 || r.owned() != 0 {
		t.Fatalf("after SIGINT: %+v", r)
	}
	ok(t, "", "-f", f, "group", "reset", "g", "--topic", "t", "--to-earliest", "--execute")
	if r := describe(t, f, "g"); r.TotalLag != 90 {
		t.Errorf("lag after the reset: %d, want 90", r.TotalLag)
	}
	if out := ok(t, "", "-f", f, "group", "delete", "g"); !strings.Contains(out, "deleted group g") {
		t.Errorf("group delete: %q", out)
	}
}
