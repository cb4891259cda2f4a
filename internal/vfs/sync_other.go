//go:build !linux

package vfs

import "os"

// writeSync writes p at off and syncs the whole file: these systems have no
// sync of one range that also flushes the drive's cache.
func writeSync(f *os.File, p []byte, off int64) error { return writeThenSync(f, p, off) }

// startWriteback does nothing: these systems have no call that starts the
// writeback of a file without waiting for it.
func startWriteback(*os.File) error { return nil }
