//go:build !linux

package bench

// FSType names the file system dir is on; only Linux says.
func FSType(dir string) (string, error) { return "", nil }
