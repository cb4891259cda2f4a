//go:build !linux

package vfs

import (
	"errors"
	"time"
)

// CanWaitWord reports whether WaitWord blocks (a futex on Linux); here it
// does not, and a caller polls the word.
const CanWaitWord = false

// WaitWord returns errors.ErrUnsupported at once. macOS has a public wait
// on a word shared between processes only since 14.4
// (os_sync_wait_on_address), which golang.org/x/sys does not wrap; Windows'
// WaitOnAddress works only within a process.
func WaitWord(addr *uint32, val uint32, timeout time.Duration) error {
	return errors.ErrUnsupported
}

// WakeWord does nothing.
func WakeWord(addr *uint32) {}

// Yield does nothing here: a spin-wait yields only to the goroutines of its
// own process (runtime.Gosched).
func Yield() {}
