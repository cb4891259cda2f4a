package spool

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// childEnv names the role a re-executed test binary plays.
const childEnv = "SPOOL_TEST_CHILD"

// TestChildProcess is the body of child processes; it skips unless run as
// one.
func TestChildProcess(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("run as a child process by other tests")
	case "consume-and-commit":
		consumeAndCommit(t, os.Getenv("SPOOL_TEST_FILE"), os.Getenv("SPOOL_TEST_COUNT"))
	case "workers":
		workersChild(t) // group_multiproc_test.go
	}
}

// consumeAndCommit consumes count records as group g and commits the offset
// after the last of them: not the position, which may be further on.
func consumeAndCommit(t *testing.T, path, count string) {
	n, err := strconv.Atoi(count)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, &Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.NewConsumer(&ConsumerOptions{Group: "g", DisableAutoCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	rs := pollAtLeast(t, c, n)
	last := rs[n-1]
	if err := c.CommitOffsets(ctx, PartitionOffset{Topic: "t", Partition: last.Partition, Offset: last.Offset + 1, Metadata: "child"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// runChild runs this test binary as a child process in role.
func runChild(t *testing.T, role string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child %s: %v\n%s", role, err, out)
	}
}

// TestResumeInAnotherProcess: a process consumes and commits, exits, and a
// consumer of the group in another process resumes exactly after the last
// record committed.
func TestResumeInAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.spool")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTopic(ctx, "t", 1, map[string]string{"retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, db, nil)
	produceValues(t, p, "v", 100)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	runChild(t, "consume-and-commit", "SPOOL_TEST_FILE="+path, "SPOOL_TEST_COUNT=37")

	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newConsumer(t, db, &ConsumerOptions{Group: "g"})
	if got, ok, err := c.Committed("t", 0); err != nil || !ok || got.Offset != 37 || got.Metadata != "child" {
		t.Fatalf("committed by the child: %+v %v %v", got, ok, err)
	}
	if err := c.Assign("t"); err != nil {
		t.Fatal(err)
	}
	rs := pollAll(t, c, 63)
	if rs[0].Offset != 37 || string(rs[0].Value) != "v-37" {
		t.Fatalf("resumed at %d (%s), want 37", rs[0].Offset, rs[0].Value)
	}
}
