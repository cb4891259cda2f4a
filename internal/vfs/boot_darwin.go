package vfs

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// bootID is the time of the boot to the microsecond (kern.boottime).
var bootID = sync.OnceValue(func() [16]byte {
	var id [16]byte
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return id
	}
	binary.LittleEndian.PutUint64(id[:], uint64(tv.Sec))
	binary.LittleEndian.PutUint64(id[8:], uint64(tv.Usec))
	return id
})
