package vfs

import "testing"

// awaitOSBlocked waits for n Files to wait in the inode's lock table, for
// another File of this process or for the OS.
func awaitOSBlocked(_ *testing.T, f *osFile, n int) { awaitWaiters(f.lk.in.locks, n) }
