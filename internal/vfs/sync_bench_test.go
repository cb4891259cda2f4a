package vfs

import (
	"path/filepath"
	"testing"
)

// BenchmarkSyncWrite measures a 4 KiB write and a Sync, as a commit of
// durability sync does, into the three kinds of space a spool file writes
// to: past the end of the file (the sync also records the new size and
// blocks), space reserved with Allocate (the sync also marks the blocks
// written), and space already written with zeros (the sync writes data only).
// The store zeroes journal extents before use because of the difference.
func BenchmarkSyncWrite(b *testing.B) {
	const block = 4096
	for _, c := range []struct {
		name    string
		prepare func(f File, size int64) error
	}{
		{"growing", func(File, int64) error { return nil }},
		{"allocated", func(f File, size int64) error { return f.Allocate(0, size) }},
		{"zeroed", func(f File, size int64) error {
			zeros := make([]byte, 1<<20)
			for off := int64(0); off < size; off += int64(len(zeros)) {
				if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f, err := OS.Open(filepath.Join(b.TempDir(), "sync"), true)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			size := int64(b.N) * block
			if err := c.prepare(f, size); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			data := make([]byte, block)
			for i := range data {
				data[i] = byte(i)
			}
			b.SetBytes(block)
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(data, int64(i)*block); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
