package vfs

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CanWaitWord reports whether WaitWord blocks (a futex); where it does not,
// a caller polls the word.
const CanWaitWord = true

// The futex operations, without FUTEX_PRIVATE_FLAG: the word lies in a
// MAP_SHARED file mapping that other processes wait on and wake too.
const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE
)

// WaitWord blocks while the 32-bit word at addr holds val: until WakeWord
// wakes it, timeout passes, or for no reason at all. It returns at once if the
// word holds something else; the comparison and the going to sleep are one
// step, so a change made before the waker calls WakeWord is never missed. The
// word lies in a page Map returned, and the waiters and wakers of the same
// bytes of the same file meet there whichever process they are in; in a Mem
// file's page they meet within the process. It returns an error only when the
// wait itself failed (not for a wake, a changed word, a timeout or a signal);
// the caller then polls.
func WaitWord(addr *uint32, val uint32, timeout time.Duration) error {
	ts := unix.NsecToTimespec(int64(timeout))
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWait, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.ETIMEDOUT, unix.EINTR:
		return nil
	}
	return e
}

// WakeWord wakes every WaitWord on the word at addr, in every process.
func WakeWord(addr *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake, math.MaxInt32, 0, 0, 0)
}

// Yield lets another thread that waits for this CPU run first, if any
// (sched_yield): a spin-wait calls it between looks so that, on a machine
// with more runnable threads than cores, it does not hold a core from the
// thread whose work it waits for.
func Yield() {
	unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
}
