// Package format holds the byte layouts of a spool file: the meta pages, the
// extent headers, the journal and its operations, and Kafka's RecordBatch v2.
// It does no I/O; every decoder here is fuzzed.
//
// A spool file is a run of 4 KiB pages followed by fixed-size extents:
//
//	offset 0        4096      8192         12288     16384
//	+---------------+---------+------------+---------+----------+----------+---
//	| meta A        | meta B  | shared     | (spare) | extent 0 | extent 1 | ...
//	+---------------+---------+------------+---------+----------+----------+---
//
// The two meta pages are written in turn; the valid one with the higher
// sequence names the file's geometry, the last checkpoint and where the
// journal continues after it. The shared page is scratch space mapped by every
// process that has the file open, never read back after a restart. Every
// extent starts with an ExtentHeader naming its kind and owner:
//
//	extent: +--------------+----------------------------------------------+
//	        | header (64)  | payload: journal records, batches or a       |
//	        |              | checkpoint, packed from the start            |
//	        +--------------+----------------------------------------------+
//
// Spool's own structures are little-endian; Kafka's RecordBatch keeps the
// big-endian layout of the Kafka protocol, so that stored batches can be
// served to Kafka clients as they are. docs/FORMAT.md specifies every byte.
package format

// PageSize is the size of the meta and shared pages.
const PageSize = 4096

// ExtentsStart is the file offset of extent 0.
const ExtentsStart = 4 * PageSize

// SharedPageOffset is the file offset of the shared page.
const SharedPageOffset = 2 * PageSize

// MemberPageOffset is the file offset of the member page, where each group
// member's slot holds its last heartbeat.
const MemberPageOffset = 3 * PageSize

// MemberSlots is how many group members a file can have at once: one 8-byte
// heartbeat word each in the member page.
const MemberSlots = PageSize / 8

// Extent sizes a file may be created with.
const (
	MinExtentSize     = 64 << 10
	MaxExtentSize     = 1 << 30
	DefaultExtentSize = 8 << 20
)

// ExtentOffset returns the file offset of extent i.
func ExtentOffset(i uint32, extentSize uint32) int64 {
	return ExtentsStart + int64(i)*int64(extentSize)
}
