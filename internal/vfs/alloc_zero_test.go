//go:build linux || darwin

package vfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGrowWithZeros(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "spool"))
	must(t, err)
	defer f.Close()
	_, err = f.WriteString("abc")
	must(t, err)
	for _, c := range []struct{ off, n, size int64 }{
		{0, 100000, 100000},
		{10, 10, 100000},
		{200000, 7, 200007},
	} {
		must(t, growWithZeros(f, c.off, c.n))
		st, err := f.Stat()
		must(t, err)
		if st.Size() != c.size {
			t.Fatalf("after growWithZeros(%d, %d) size = %d, want %d", c.off, c.n, st.Size(), c.size)
		}
	}
	p := make([]byte, 200007)
	_, err = f.ReadAt(p, 0)
	must(t, err)
	for i, c := range p[3:] {
		if c != 0 {
			t.Fatalf("byte %d = %d, want 0", i+3, c)
		}
	}
	if string(p[:3]) != "abc" {
		t.Errorf("contents start %q", p[:3])
	}
}
