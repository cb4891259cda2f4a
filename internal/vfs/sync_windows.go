package vfs

import "os"

// syncFile calls FlushFileBuffers, which also flushes the drive's cache.
func syncFile(f *os.File) error { return f.Sync() }
