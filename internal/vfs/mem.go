package vfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sync"
	"sync/atomic"
)

// memPageSize is the unit Mem keeps contents in, and so the most it can map
// at once.
const memPageSize = 4096

type memPage [memPageSize]byte

// MemFS is an in-memory FS for tests that can simulate a crash (Crash,
// CrashClean) and a failing disk (FailAfter). It is safe for concurrent use.
//
// Each Open returns a separate File on contents shared by every File of the
// path, as if another process had opened it: the Files' locks exclude each
// other, and a write through one is seen at once through all. Map hands out
// only a range inside one 4096-byte page, aliasing the contents.
type MemFS struct {
	mu    sync.Mutex
	files map[string]*memNode

	failIn  int // WriteAt, Allocate and Sync calls left to succeed
	failErr error
}

// NewMem returns an empty MemFS.
func NewMem() *MemFS { return &MemFS{files: map[string]*memNode{}} }

// Open opens path, creating it empty if create is true and it does not
// exist.
func (m *MemFS) Open(path string, create bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.files[path]
	if n == nil {
		if !create {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		n = newMemNode()
		m.files[path] = n
	}
	return &memFile{fs: m, node: n, path: path}, nil
}

// FailAfter makes every WriteAt, Allocate and Sync on m's Files fail with
// err, changing nothing, once n more of them have succeeded. A nil err
// turns failure off.
func (m *MemFS) FailAfter(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failIn, m.failErr = n, err
}

func (m *MemFS) fault() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failErr == nil {
		return nil
	}
	if m.failIn > 0 {
		m.failIn--
		return nil
	}
	return m.failErr
}

// memNode is the contents of one path.
type memNode struct {
	locks *lockTable

	mu     sync.RWMutex
	pages  map[int64]*memPage // by page number; a missing page reads as zeros
	size   int64
	mapped map[int64]bool // pages Map handed out, whose stores skip unsynced

	// What survives power loss for certain, and the writes since it was
	// taken (see mem_crash.go).
	durable     map[int64]*memPage
	id          uint64 // the CacheID
	durableSize int64
	unsynced    []memWrite
}

// memNodes numbers the nodes of every MemFS, so that no two share a CacheID.
var memNodes atomic.Uint64

func newMemNode() *memNode {
	return &memNode{
		id:      memNodes.Add(1),
		locks:   newLockTable(nil),
		pages:   map[int64]*memPage{},
		mapped:  map[int64]bool{},
		durable: map[int64]*memPage{},
	}
}

// readPages copies the contents at off into p.
func readPages(pages map[int64]*memPage, p []byte, off int64) {
	for len(p) > 0 {
		in := int(off % memPageSize)
		k := min(len(p), memPageSize-in)
		if pg := pages[off/memPageSize]; pg != nil {
			copy(p[:k], pg[in:])
		} else {
			clear(p[:k])
		}
		p, off = p[k:], off+int64(k)
	}
}

// writePages copies p into the contents at off. It writes into the pages in
// place, so that mappings of them see the change.
func writePages(pages map[int64]*memPage, p []byte, off int64) {
	for len(p) > 0 {
		in := int(off % memPageSize)
		pg := pages[off/memPageSize]
		if pg == nil {
			pg = new(memPage)
			pages[off/memPageSize] = pg
		}
		k := copy(pg[in:], p)
		p, off = p[k:], off+int64(k)
	}
}

type memFile struct {
	fs     *MemFS
	node   *memNode
	path   string
	closed atomic.Bool
}

func (f *memFile) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: f.path, Err: err}
}

func (f *memFile) check(op string) error {
	if f.closed.Load() {
		return f.wrap(op, fs.ErrClosed)
	}
	return nil
}

// checkIO rejects use after Close and a range shorter than minN or past the
// largest int64 file.
func (f *memFile) checkIO(op string, off, n, minN int64) error {
	if err := f.check(op); err != nil {
		return err
	}
	if off < 0 || n < minN || off > math.MaxInt64-n {
		return f.wrap(op, fmt.Errorf("vfs: bad range off %d n %d", off, n))
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.checkIO("read", off, int64(len(p)), 0); err != nil {
		return 0, err
	}
	n := f.node
	n.mu.RLock()
	defer n.mu.RUnlock()
	k := int(max(0, min(int64(len(p)), n.size-off)))
	readPages(n.pages, p[:k], off)
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.checkIO("write", off, int64(len(p)), 0); err != nil {
		return 0, err
	}
	if err := f.fs.fault(); err != nil {
		return 0, f.wrap("write", err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	writePages(n.pages, p, off)
	end := off + int64(len(p))
	n.size = max(n.size, end)
	n.unsynced = append(n.unsynced, memWrite{off: off, end: end, data: bytes.Clone(p)})
	return len(p), nil
}

func (f *memFile) WriteAtSync(p []byte, off int64) (int, error) {
	if err := f.checkIO("write", off, int64(len(p)), 0); err != nil {
		return 0, err
	}
	if err := f.fs.fault(); err != nil {
		return 0, f.wrap("write", err)
	}
	f.node.writeDurable(p, off)
	return len(p), nil
}

func (f *memFile) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	if err := f.fs.fault(); err != nil {
		return f.wrap("sync", err)
	}
	f.node.sync()
	return nil
}

// StartWriteback does nothing: a MemFS file has no device to write to.
func (f *memFile) StartWriteback() error { return f.check("writeback") }

// CacheID is the node's: a Crash makes new nodes, CrashClean keeps them, as
// a power loss and a killed process would.
func (f *memFile) CacheID() [16]byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:], f.node.id)
	return id
}

func (f *memFile) Allocate(off, n int64) error {
	if err := f.checkIO("allocate", off, n, 1); err != nil {
		return err
	}
	if err := f.fs.fault(); err != nil {
		return f.wrap("allocate", err)
	}
	nd := f.node
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if end := off + n; end > nd.size {
		nd.size = end
		nd.unsynced = append(nd.unsynced, memWrite{off: off, end: end})
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.check("stat"); err != nil {
		return 0, err
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return f.node.size, nil
}

func (f *memFile) Lock(off, n int64, mode LockMode, wait bool) error {
	if err := f.check("lock"); err != nil {
		return err
	}
	if err := checkLock(off, n, mode); err != nil {
		return f.wrap("lock", err)
	}
	return f.node.locks.lock(f, off, off+n, mode, wait)
}

func (f *memFile) Unlock(off, n int64) error {
	if err := f.check("unlock"); err != nil {
		return err
	}
	if err := checkRange(off, n); err != nil {
		return f.wrap("unlock", err)
	}
	return f.node.locks.unlock(f, off, off+n)
}

// Map hands out [off, off+n) aliasing the contents, which must lie inside
// one 4096-byte page.
func (f *memFile) Map(off, n int64) ([]byte, error) {
	if err := f.checkIO("map", off, n, 1); err != nil {
		return nil, err
	}
	nd := f.node
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if off > nd.size-n {
		return nil, f.wrap("map", fmt.Errorf("vfs: range [%d, %d+%d) is not inside the file of %d bytes", off, off, n, nd.size))
	}
	pn := off / memPageSize
	if (off+n-1)/memPageSize != pn {
		return nil, f.wrap("map", fmt.Errorf("vfs: Mem maps only inside one %d-byte page, not [%d, %d+%d)", memPageSize, off, off, n))
	}
	pg := nd.pages[pn]
	if pg == nil {
		pg = new(memPage)
		nd.pages[pn] = pg
	}
	nd.mapped[pn] = true
	in := off % memPageSize
	return pg[in : in+n : in+n], nil
}

func (f *memFile) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return f.wrap("close", fs.ErrClosed)
	}
	return f.node.locks.release(f)
}
