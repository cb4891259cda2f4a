package vfs

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// networkFS lists the type names of macOS's network file systems.
var networkFS = []string{"nfs", "smbfs", "afpfs", "webdav", "9p", "ftp"}

func checkNetworkFS(f *os.File, path string) error {
	var st unix.Statfs_t
	if err := withFD(f, func(fd int) error { return unix.Fstatfs(fd, &st) }); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	name, _, _ := bytes.Cut(st.Fstypename[:], []byte{0})
	if slices.Contains(networkFS, string(name)) {
		return fmt.Errorf("%w: %s is on %s", ErrNetworkFS, path, name)
	}
	return nil
}
