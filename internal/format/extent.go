package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ExtentHeaderSize is the size of the header at the start of every extent.
const ExtentHeaderSize = 64

const extentMagic = "SPEX"

// ErrExtentHeader is returned for an extent header that does not check out:
// wrong magic, kind or checksum. A reader that expected a particular owner
// treats it as an extent recycled or never written.
var ErrExtentHeader = errors.New("format: bad extent header")

// ExtentKind says what an extent holds.
type ExtentKind uint8

// The kinds of extent.
const (
	KindFree       ExtentKind = 0
	KindJournal    ExtentKind = 1
	KindData       ExtentKind = 2
	KindCheckpoint ExtentKind = 3
)

func (k ExtentKind) String() string {
	switch k {
	case KindFree:
		return "free"
	case KindJournal:
		return "journal"
	case KindData:
		return "data"
	case KindCheckpoint:
		return "checkpoint"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ExtentHeader opens every extent in use. Generation is unique to one
// allocation of the extent, so a reader holding an old reference can tell the
// extent was freed and reused under it.
//
//	 0  4  magic "SPEX"
//	 4  1  kind
//	 5  3  zero
//	 8  8  generation
//	16  4  topic id (data extents)
//	20  4  partition (data extents)
//	24  8  base: first offset (data), first LSN (journal), checkpoint LSN
//	32 28  zero
//	60  4  CRC32C of bytes 0..60
type ExtentHeader struct {
	Kind       ExtentKind
	Generation uint64
	Topic      uint32
	Partition  uint32
	Base       int64
}

// AppendTo appends the ExtentHeaderSize bytes of h to b.
func (h *ExtentHeader) AppendTo(b []byte) []byte {
	start := len(b)
	b = append(b, extentMagic...)
	b = append(b, byte(h.Kind), 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, h.Generation)
	b = binary.LittleEndian.AppendUint32(b, h.Topic)
	b = binary.LittleEndian.AppendUint32(b, h.Partition)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.Base))
	b = append(b, make([]byte, 60-(len(b)-start))...)
	return binary.LittleEndian.AppendUint32(b, Checksum(b[start:]))
}

// DecodeExtentHeader decodes an extent header.
func DecodeExtentHeader(b []byte) (ExtentHeader, error) {
	var h ExtentHeader
	if len(b) < ExtentHeaderSize {
		return h, fmt.Errorf("%w: %d bytes", ErrExtentHeader, len(b))
	}
	if string(b[:4]) != extentMagic {
		return h, fmt.Errorf("%w: no magic", ErrExtentHeader)
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[60:]), Checksum(b[:60]); got != want {
		return h, fmt.Errorf("%w: checksum %08x, computed %08x", ErrExtentHeader, got, want)
	}
	h.Kind = ExtentKind(b[4])
	if h.Kind == KindFree || h.Kind > KindCheckpoint {
		return h, fmt.Errorf("%w: kind %d", ErrExtentHeader, b[4])
	}
	h.Generation = le.Uint64(b[8:])
	h.Topic = le.Uint32(b[16:])
	h.Partition = le.Uint32(b[20:])
	h.Base = int64(le.Uint64(b[24:]))
	return h, nil
}
