//go:build !darwin

package vfs

import "os"

// openFile opens a File with a descriptor of its own: Linux OFD locks and
// Windows locks belong to the open file, so nothing is shared.
func openFile(path string, create bool) (*osFile, error) {
	f, err := os.OpenFile(path, openFlags(create), 0o644)
	if err != nil {
		return nil, err
	}
	if err := checkNetworkFS(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return &osFile{path: path, f: f}, nil
}
