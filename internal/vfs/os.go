package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
)

// OS is the file system of the operating system. Open refuses a file on a
// network file system with an error wrapping ErrNetworkFS.
var OS FS = osFS{}

type osFS struct{}

func (osFS) Open(path string, create bool) (File, error) {
	f, err := openFile(path, create)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func openFlags(create bool) int {
	if create {
		return os.O_RDWR | os.O_CREATE
	}
	return os.O_RDWR
}

// osFile is a File on an OS file. On macOS f is shared by every osFile of
// the same inode (see inode_darwin.go), so f is closed by closeFile, never
// directly.
type osFile struct {
	path   string
	f      *os.File
	lk     fileLocks
	closed atomic.Bool

	mu   sync.Mutex // guards maps against a concurrent Close
	maps []mapping
}

func (f *osFile) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: f.path, Err: err}
}

// check refuses use after Close, which *os.File would not catch on macOS,
// where the descriptor stays open for other Files.
func (f *osFile) check(op string) error {
	if f.closed.Load() {
		return f.wrap(op, os.ErrClosed)
	}
	return nil
}

func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *osFile) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	return f.wrap("sync", syncFile(f.f))
}

func (f *osFile) CacheID() [16]byte { return cacheID(f.f) }

func (f *osFile) Allocate(off, n int64) error {
	if err := f.check("allocate"); err != nil {
		return err
	}
	if off < 0 || n <= 0 || off > math.MaxInt64-n {
		return f.wrap("allocate", fmt.Errorf("vfs: bad range off %d n %d", off, n))
	}
	return f.wrap("allocate", allocate(f.f, off, n))
}

func (f *osFile) Size() (int64, error) {
	if err := f.check("stat"); err != nil {
		return 0, err
	}
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f *osFile) Lock(off, n int64, mode LockMode, wait bool) error {
	if err := f.check("lock"); err != nil {
		return err
	}
	if err := checkLock(off, n, mode); err != nil {
		return f.wrap("lock", err)
	}
	err := f.lock(off, n, mode, wait)
	if err != nil && err != ErrLocked {
		return f.wrap("lock", err)
	}
	return err
}

func (f *osFile) Unlock(off, n int64) error {
	if err := f.check("unlock"); err != nil {
		return err
	}
	if err := checkRange(off, n); err != nil {
		return f.wrap("unlock", err)
	}
	return f.wrap("unlock", f.unlock(off, n))
}

func (f *osFile) Map(off, n int64) ([]byte, error) {
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if off < 0 || n <= 0 || n > math.MaxInt || off > size-n {
		return nil, f.wrap("map", fmt.Errorf("vfs: range [%d, %d+%d) is not inside the file of %d bytes", off, off, n, size))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("map"); err != nil {
		return nil, err
	}
	m, b, err := mapFile(f.f, off, n)
	if err != nil {
		return nil, f.wrap("map", err)
	}
	f.maps = append(f.maps, m)
	return b, nil
}

func (f *osFile) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return f.wrap("close", os.ErrClosed)
	}
	f.mu.Lock()
	maps := f.maps
	f.maps = nil
	f.mu.Unlock()
	var errs []error
	for _, m := range maps {
		errs = append(errs, m.unmap())
	}
	errs = append(errs, f.closeFile())
	return f.wrap("close", errors.Join(errs...))
}

func (f *osFile) WriteAtSync(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if err := writeSync(f.f, p, off); err != nil {
		return 0, f.wrap("write", err)
	}
	return len(p), nil
}

func (f *osFile) StartWriteback() error {
	if err := f.check("writeback"); err != nil {
		return err
	}
	return f.wrap("writeback", startWriteback(f.f))
}

// writeThenSync is writeSync where the system cannot sync one range.
func writeThenSync(f *os.File, p []byte, off int64) error {
	if _, err := f.WriteAt(p, off); err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			return pe.Err // WriteAtSync names the file
		}
		return err
	}
	return syncFile(f)
}
