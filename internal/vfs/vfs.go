// Package vfs is the file the store runs on.
//
// A spool file needs more of its file than reads and writes: a data sync that
// reaches the medium, space allocated ahead of the writer, byte-range locks
// that coordinate processes, and a page mapped shared between them. File names
// exactly that, so that the store runs the same on an OS file (OS) and on an
// in-memory file that can simulate a crash at any write (Mem).
//
// Locks are advisory and owned by the open File, never by the process: two
// Files opened on the same path in one process exclude each other exactly as
// two processes do (Linux open-file-description locks; on macOS a process-wide
// table in front of classic POSIX locks; LockFileEx on Windows). Locked ranges
// lie far past the end of any real file (see LockBase), because Windows
// enforces byte-range locks on reads and writes.
package vfs

import (
	"errors"
	"io"
)

// LockBase is the first byte of the lock space. Lock ranges are offsets
// relative to it; no spool file ever reaches this size, so no read or write
// overlaps a lock.
const LockBase = 1 << 62

// ErrLocked is returned by a non-waiting lock request when another File holds
// a conflicting lock.
var ErrLocked = errors.New("vfs: range is locked by another open file")

// LockMode says whether a lock may be shared with other readers.
type LockMode int

const (
	// Shared may be held by any number of Files at once.
	Shared LockMode = iota
	// Exclusive is held by one File alone.
	Exclusive
)

// File is an open spool file.
type File interface {
	io.ReaderAt
	io.WriterAt

	// Sync makes every completed write durable: the data and whatever
	// metadata is needed to read it back after power loss (fdatasync on
	// Linux, F_FULLFSYNC on macOS, FlushFileBuffers on Windows).
	Sync() error

	// WriteAtSync writes p at off and makes those bytes durable, with the
	// metadata needed to read them back, as Sync would; other writes not
	// yet synced may stay in the cache. On Linux it syncs the range alone
	// (pwritev2 with RWF_DSYNC); elsewhere it syncs the whole file.
	WriteAtSync(p []byte, off int64) (int, error)

	// StartWriteback asks the system to start writing the file's dirty
	// pages to the device, and returns without waiting: it makes nothing
	// durable, but a later Sync finds less to write. On Linux it is
	// sync_file_range with SYNC_FILE_RANGE_WRITE; elsewhere it does
	// nothing.
	StartWriteback() error

	// CacheID identifies the file's contents as the machine holds them: every
	// File open on the same file gets the same ID until the machine reboots
	// or loses power, and another file (a copy, a restored snapshot) gets
	// another. While it lasts, every completed write reads back as written,
	// synced or not: it is in the page cache or on the disk. The zero ID
	// means unknown, and matches nothing.
	CacheID() [16]byte

	// Allocate reserves disk space for [off, off+n) and grows the file to at
	// least off+n bytes, so that later writes there need no change of size
	// and cannot fail for want of space.
	Allocate(off, n int64) error

	// Size returns the current size of the file.
	Size() (int64, error)

	// Lock takes a lock on [LockBase+off, LockBase+off+n). With wait, it
	// blocks until the lock is granted; without, it returns ErrLocked at once
	// if another File holds a conflicting lock. Taking a lock that this File
	// already holds on the same range converts it to mode.
	Lock(off, n int64, mode LockMode, wait bool) error

	// Unlock releases this File's lock on [LockBase+off, LockBase+off+n).
	Unlock(off, n int64) error

	// Map maps [off, off+n) of the file shared and writable: a store through
	// the returned slice is seen at once by every other mapping of the same
	// bytes in any process. The range must lie inside the file. The slice is
	// valid until Close.
	Map(off, n int64) ([]byte, error)

	// Close releases every lock and mapping of this File and closes it.
	Close() error
}

// FS opens files.
type FS interface {
	// Open opens the file at path for reading and writing, creating it if
	// create is true and it does not exist.
	Open(path string, create bool) (File, error)
}

// ErrNetworkFS is returned by OS.Open for a file on a network file system
// (NFS, SMB/CIFS, 9p, FUSE-backed and similar), where byte-range locks and
// shared mappings do not coordinate processes on different hosts and fsync
// may not mean durable.
var ErrNetworkFS = errors.New("vfs: spool files are not supported on a network file system")
