package vfs

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// awaitOSBlocked waits for /proc/locks to list n blocked lock requests
// ("->") on f's inode.
func awaitOSBlocked(t *testing.T, f *osFile, n int) {
	t.Helper()
	st, err := f.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ino := fmt.Sprintf(":%d ", st.Sys().(*syscall.Stat_t).Ino)
	poll(func() bool {
		locks, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		blocked := 0
		for l := range strings.Lines(string(locks)) {
			if strings.Contains(l, "->") && strings.Contains(l, ino) {
				blocked++
			}
		}
		return blocked >= n
	})
}
