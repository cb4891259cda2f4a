//go:build unix

package vfs

import (
	"encoding/binary"
	"os"
	"syscall"
)

// cacheID mixes the boot's identity with the file's device and inode.
func cacheID(f *os.File) [16]byte {
	boot := bootID()
	fi, err := f.Stat()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if err != nil || !ok || boot == ([16]byte{}) {
		return [16]byte{}
	}
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:], binary.LittleEndian.Uint64(boot[:])^uint64(st.Dev))
	binary.LittleEndian.PutUint64(id[8:], binary.LittleEndian.Uint64(boot[8:])^uint64(st.Ino))
	return id
}
