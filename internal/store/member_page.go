package store

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// memberPage is the page every process with the file open maps shared after
// the shared page: word n holds the last heartbeat (Unix milliseconds) of
// the member in slot n. Like the shared page it is scratch: a process that
// opens the file alone clears it.
type memberPage struct{ b []byte }

func (p memberPage) word(slot uint32) *int64 {
	_ = p.b[slot*8 : slot*8+8]
	return (*int64)(unsafe.Pointer(&p.b[slot*8]))
}

func (p memberPage) heartbeat(slot uint32) int64 { return atomic.LoadInt64(p.word(slot)) }

func (p memberPage) beat(slot uint32, ms int64) { atomic.StoreInt64(p.word(slot), ms) }

func (p memberPage) reset() {
	for slot := range uint32(format.MemberSlots) {
		p.beat(slot, 0)
	}
}

// lockSlot is the offset in the lock space of a member slot's lock, which
// the member's process holds for as long as the member is in its group:
// the OS drops it the moment the process dies.
func lockSlot(slot uint32) int64 { return lockMembers + int64(slot) }

// slotHeld tells whether another open file holds slot's lock, by taking and
// dropping it.
func (s *Store) slotHeld(slot uint32) (bool, error) {
	err := s.f.Lock(lockSlot(slot), 1, vfs.Exclusive, false)
	if errors.Is(err, vfs.ErrLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, s.f.Unlock(lockSlot(slot), 1)
}
