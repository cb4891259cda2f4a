package spool

import (
	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// Durability says when a commit is acknowledged, and so what a power failure
// can take back. A crash of the process alone (kill -9, a panic) loses
// nothing in any mode: written bytes survive in the operating system's page
// cache. No mode ever leaves part of a commit behind.
type Durability uint8

const (
	// DurabilityDefault defers to the DB's Options.Durability.
	DurabilityDefault Durability = iota
	// DurabilitySync acknowledges a commit once it is on disk: a power
	// failure loses nothing acknowledged. Concurrent commits share one sync.
	DurabilitySync
	// DurabilityInterval acknowledges at once and syncs every
	// Options.SyncInterval: a power failure loses at most that much.
	DurabilityInterval
	// DurabilityNone acknowledges at once and leaves syncing to the
	// operating system and to checkpoints.
	DurabilityNone
)

func (d Durability) String() string { return store.Durability(d).String() }

// Compression is the codec a producer compresses its batches with, stored as
// Kafka stores it so that any Kafka client can read the batches.
type Compression int8

// The codecs, numbered as in Kafka's batch attributes.
const (
	NoCompression Compression = iota
	Gzip
	Snappy
	LZ4
	Zstd
)

func (c Compression) String() string { return format.Compression(c).String() }
