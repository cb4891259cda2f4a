package vfs

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// syncFile uses fdatasync, which skips only metadata not needed to read the
// data back, such as times; a size change is still written.
func syncFile(f *os.File) error {
	return withFD(f, func(fd int) error {
		return retryEINTR(func() error { return unix.Fdatasync(fd) })
	})
}

// startWriteback starts the writeback of every dirty page of f, without
// waiting for it (sync_file_range with SYNC_FILE_RANGE_WRITE, offset 0 and
// length 0: to the end of the file).
func startWriteback(f *os.File) error {
	return withFD(f, func(fd int) error {
		return retryEINTR(func() error { return unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE) })
	})
}

// rangeSyncUnsupported is set once pwritev2 with RWF_DSYNC has failed as
// unknown (Linux before 4.7): from then on writeSync writes and syncs all.
var rangeSyncUnsupported atomic.Bool

// writeSync writes p at off with RWF_DSYNC: the kernel syncs that range alone
// (its pages, the metadata needed to read them back, the drive's cache) and
// leaves the file's other dirty pages to a later sync. A sync costs about
// one device round trip per separate range it writes, so this is what lets a
// commit that carries its data in the journal pay for one.
func writeSync(f *os.File, p []byte, off int64) error {
	if rangeSyncUnsupported.Load() {
		return writeThenSync(f, p, off)
	}
	err := withFD(f, func(fd int) error {
		for len(p) > 0 {
			var n int
			err := retryEINTR(func() (err error) {
				n, err = unix.Pwritev2(fd, [][]byte{p}, off, unix.RWF_DSYNC)
				return err
			})
			if err != nil {
				return err
			}
			p, off = p[n:], off+int64(n)
		}
		return nil
	})
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		rangeSyncUnsupported.Store(true)
		return writeThenSync(f, p, off)
	}
	return err
}
