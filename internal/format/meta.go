package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic opens both meta pages of every spool file.
const Magic = "SPOOLFMT"

// Version is the format version this package reads and writes.
const Version = 1

// MetaSize is the number of bytes of a meta page that carry the meta record;
// the rest of the page is zero. It is one disk sector, so a torn write cannot
// leave half a record behind a valid checksum.
const MetaSize = 128

// NoExtent marks an absent extent reference.
const NoExtent = ^uint32(0)

// ErrNotSpool is returned for a file whose meta pages do not start with Magic.
var ErrNotSpool = errors.New("format: not a spool file")

// ErrVersion is returned for a spool file of a format version this build does
// not know.
var ErrVersion = errors.New("format: unsupported format version")

// ErrMetaCorrupt is returned for a meta page whose checksum or fields are wrong.
var ErrMetaCorrupt = errors.New("format: meta page corrupt")

// Meta is the record in a meta page. The valid meta page with the higher
// Sequence is the current one.
//
//	 0  8  magic "SPOOLFMT"
//	 8  4  format version
//	12  4  page size
//	16  4  extent size
//	20  4  flags (zero)
//	24  8  sequence
//	32 16  file id
//	48  8  created, Unix nanoseconds
//	56  8  checkpoint LSN: last journal record the checkpoint includes
//	64  4  checkpoint extent (NoExtent: none)
//	68  4  checkpoint checksum: chain checksum of its last record
//	72  4  journal extent: where the journal continues after the checkpoint
//	76  4  journal seed: chain checksum the first record there continues
//	80 44  zero
//	124 4  CRC32C of bytes 0..124
type Meta struct {
	ExtentSize         uint32
	Sequence           uint64
	FileID             [16]byte
	Created            int64
	CheckpointLSN      uint64
	CheckpointExtent   uint32
	CheckpointChecksum uint32
	JournalExtent      uint32
	JournalSeed        uint32
}

// AppendTo appends the MetaSize bytes of m to b.
func (m *Meta) AppendTo(b []byte) []byte {
	start := len(b)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint32(b, PageSize)
	b = binary.LittleEndian.AppendUint32(b, m.ExtentSize)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, m.Sequence)
	b = append(b, m.FileID[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Created))
	b = binary.LittleEndian.AppendUint64(b, m.CheckpointLSN)
	b = binary.LittleEndian.AppendUint32(b, m.CheckpointExtent)
	b = binary.LittleEndian.AppendUint32(b, m.CheckpointChecksum)
	b = binary.LittleEndian.AppendUint32(b, m.JournalExtent)
	b = binary.LittleEndian.AppendUint32(b, m.JournalSeed)
	b = append(b, make([]byte, MetaSize-4-(len(b)-start))...)
	return binary.LittleEndian.AppendUint32(b, Checksum(b[start:]))
}

// DecodeMeta decodes a meta page. It reports ErrNotSpool when the magic is
// wrong, ErrVersion for a version other than Version, and ErrMetaCorrupt for
// anything else that does not check out.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < MetaSize {
		return m, fmt.Errorf("%w: %d bytes, want %d", ErrMetaCorrupt, len(b), MetaSize)
	}
	if string(b[:8]) != Magic {
		return m, ErrNotSpool
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[124:]), Checksum(b[:124]); got != want {
		return m, fmt.Errorf("%w: checksum %08x, computed %08x", ErrMetaCorrupt, got, want)
	}
	if v := le.Uint32(b[8:]); v != Version {
		return m, fmt.Errorf("%w: file has version %d, this build reads version %d", ErrVersion, v, Version)
	}
	if ps := le.Uint32(b[12:]); ps != PageSize {
		return m, fmt.Errorf("%w: page size %d, want %d", ErrMetaCorrupt, ps, PageSize)
	}
	m.ExtentSize = le.Uint32(b[16:])
	if err := ValidExtentSize(m.ExtentSize); err != nil {
		return m, fmt.Errorf("%w: %v", ErrMetaCorrupt, err)
	}
	m.Sequence = le.Uint64(b[24:])
	copy(m.FileID[:], b[32:48])
	m.Created = int64(le.Uint64(b[48:]))
	m.CheckpointLSN = le.Uint64(b[56:])
	m.CheckpointExtent = le.Uint32(b[64:])
	m.CheckpointChecksum = le.Uint32(b[68:])
	m.JournalExtent = le.Uint32(b[72:])
	m.JournalSeed = le.Uint32(b[76:])
	return m, nil
}

// ValidExtentSize reports whether size is a power of two between
// MinExtentSize and MaxExtentSize.
func ValidExtentSize(size uint32) error {
	if size < MinExtentSize || size > MaxExtentSize || size&(size-1) != 0 {
		return fmt.Errorf("extent size %d is not a power of two from %d to %d", size, MinExtentSize, MaxExtentSize)
	}
	return nil
}

// JournalOrigin is the seed checksum of the first journal record of a new
// file. Deriving it from the file id means no journal of another spool file
// can pass for this one's.
func JournalOrigin(fileID [16]byte) uint32 { return Checksum(fileID[:]) }
