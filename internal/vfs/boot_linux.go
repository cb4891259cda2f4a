package vfs

import (
	"encoding/hex"
	"os"
	"strings"
	"sync"
)

// bootID is the kernel's random boot ID, made at each boot.
var bootID = sync.OnceValue(func() [16]byte {
	var id [16]byte
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return id
	}
	h := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if n, err := hex.Decode(id[:], []byte(h)); err != nil || n != len(id) {
		return [16]byte{}
	}
	return id
})
