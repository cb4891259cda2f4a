//go:build linux || darwin

package vfs

import "os"

// growWithZeros allocates where the file system cannot reserve space: zeros
// written past the end are blocks the file owns, so later writes there cannot
// run out of space. Holes below the current size are left as they are.
func growWithZeros(f *os.File, off, n int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pos, end := max(off, st.Size()), off+n
	if pos >= end {
		return nil
	}
	zeros := make([]byte, min(end-pos, 1<<16))
	for pos < end {
		k, err := f.WriteAt(zeros[:min(int64(len(zeros)), end-pos)], pos)
		if err != nil {
			return err
		}
		pos += int64(k)
	}
	return nil
}
