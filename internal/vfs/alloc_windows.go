package vfs

import "os"

// allocate grows the file with SetEndOfFile, which on NTFS reserves the
// clusters (while reads past the old end still return zeros).
func allocate(f *os.File, off, n int64) error {
	st, err := f.Stat()
	if err != nil || st.Size() >= off+n {
		return err
	}
	return f.Truncate(off + n)
}
