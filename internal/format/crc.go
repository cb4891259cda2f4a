package format

import "hash/crc32"

// crcTable is the CRC32C (Castagnoli) table every checksum in a spool file uses;
// hash/crc32 accelerates it in hardware.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C of b.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// ChainChecksum continues the CRC32C prev over b. Journal records chain their
// checksums this way, so a record is valid only after the record before it.
func ChainChecksum(prev uint32, b []byte) uint32 { return crc32.Update(prev, crcTable, b) }
