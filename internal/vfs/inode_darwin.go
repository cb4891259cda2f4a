package vfs

import (
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Classic POSIX locks belong to the process, and closing any descriptor of a
// file drops every lock the process holds on it. So this process keeps one
// descriptor per inode, shared by all its Files and closed with the last of
// them, and a lockTable per inode keeps its Files apart.

type fileID struct{ dev, ino uint64 }

// inode is one file as this process has it open.
type inode struct {
	id    fileID
	f     *os.File
	refs  int
	locks *lockTable
	// strays are descriptors that could not be closed at once without
	// dropping the locks held through f.
	strays []*os.File
}

var inodes = struct {
	sync.Mutex
	m map[fileID]*inode
}{m: map[fileID]*inode{}}

// fileLocks names the shared inode whose lock table holds this File's locks.
type fileLocks struct{ in *inode }

func idOf(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), st.Ino} }

func openFile(path string, create bool) (*osFile, error) {
	inodes.Lock()
	defer inodes.Unlock()
	// Looking the path up before opening it avoids a second descriptor for
	// an inode this process has open, which could not be closed again while
	// it holds locks.
	var st unix.Stat_t
	if unix.Stat(path, &st) == nil {
		if in := inodes.m[idOf(&st)]; in != nil {
			in.refs++
			return &osFile{path: path, f: in.f, lk: fileLocks{in}}, nil
		}
	}
	f, err := os.OpenFile(path, openFlags(create), 0o644)
	if err != nil {
		return nil, err
	}
	if err := withFD(f, func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if in := inodes.m[idOf(&st)]; in != nil {
		// path was renamed over to a file this process has open since the
		// Stat above.
		in.strays = append(in.strays, f)
		in.refs++
		return &osFile{path: path, f: in.f, lk: fileLocks{in}}, nil
	}
	if err := checkNetworkFS(f, path); err != nil {
		f.Close()
		return nil, err
	}
	in := &inode{id: idOf(&st), f: f, refs: 1, locks: newLockTable(posixLocks{f})}
	inodes.m[in.id] = in
	return &osFile{path: path, f: f, lk: fileLocks{in}}, nil
}

// closeFile releases the File's locks and closes the inode's descriptors
// once no File uses them.
func (f *osFile) closeFile() error {
	in := f.lk.in
	errs := []error{in.locks.release(f)}
	inodes.Lock()
	defer inodes.Unlock()
	if in.refs--; in.refs > 0 {
		return errors.Join(errs...)
	}
	delete(inodes.m, in.id)
	errs = append(errs, in.f.Close())
	for _, s := range in.strays {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
