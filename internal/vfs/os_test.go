package vfs

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHelperProcess is not a test: run by startLocker, it locks the file
// named in its environment, says "locked" and holds the lock until its stdin
// closes or it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("VFS_HELPER_LOCK_PATH")
	if path == "" {
		return
	}
	mode := Shared
	if os.Getenv("VFS_HELPER_LOCK_MODE") == "exclusive" {
		mode = Exclusive
	}
	f, err := OS.Open(path, false)
	if err == nil {
		err = f.Lock(0, 1, mode, false)
	}
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startLocker starts a process holding a lock on [0, 1) of path. Closing
// stdin ends it.
func startLocker(t *testing.T, path, mode string) (*exec.Cmd, io.Closer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "VFS_HELPER_LOCK_PATH="+path, "VFS_HELPER_LOCK_MODE="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return cmd, stdin
}

func TestCrossProcessLockDroppedWhenKilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	f := open(t, OS, path)
	cmd, _ := startLocker(t, path, "exclusive")
	wantErr(t, f.Lock(0, 1, Exclusive, false), ErrLocked)
	wantErr(t, f.Lock(0, 1, Shared, false), ErrLocked)
	must(t, f.Lock(1, 1, Exclusive, false))

	must(t, cmd.Process.Kill())
	cmd.Wait() // an exited process has given up its locks
	must(t, f.Lock(0, 1, Exclusive, false))
}

func TestCrossProcessWaiterGranted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	f := open(t, OS, path)
	cmd, stdin := startLocker(t, path, "exclusive")
	done := make(chan error, 1)
	go func() { done <- f.Lock(0, 1, Shared, true) }()
	awaitBlocked(t, f, 1)
	select {
	case err := <-done:
		t.Fatalf("waiting Lock returned %v while another process held the lock", err)
	default:
	}
	must(t, stdin.Close())
	must(t, cmd.Wait())
	must(t, <-done)
}

func TestCrossProcessShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	a, b := open(t, OS, path), open(t, OS, path)
	startLocker(t, path, "shared")
	must(t, a.Lock(0, 1, Shared, false))
	wantErr(t, b.Lock(0, 1, Exclusive, false), ErrLocked)
	must(t, a.Unlock(0, 1))
	wantErr(t, b.Lock(0, 1, Exclusive, false), ErrLocked)
	must(t, b.Lock(0, 1, Shared, false))
}

func TestOSSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool")
	f := open(t, OS, path)
	writeAt(t, f, "durable", 0)
	must(t, f.Allocate(0, 1<<20))
	must(t, f.Sync())
	g := open(t, OS, path)
	if got := readAt(t, g, 0, 7); string(got) != "durable" {
		t.Errorf("read %q", got)
	}
}
