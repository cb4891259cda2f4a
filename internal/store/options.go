package store

import (
	"log/slog"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// Durability says when a commit is acknowledged, and so what a power failure
// can take back. A crash of the process alone (kill -9, panic) loses nothing
// in any mode: written bytes survive in the operating system's page cache.
type Durability uint8

const (
	// DurabilityDefault defers to the file's Options.Durability.
	DurabilityDefault Durability = iota
	// DurabilitySync acknowledges a commit once a sync has made it durable;
	// a power failure loses nothing acknowledged. Concurrent commits share
	// one sync (group commit).
	DurabilitySync
	// DurabilityInterval acknowledges at once and syncs every
	// Options.SyncInterval; a power failure loses at most the commits of
	// the last interval.
	DurabilityInterval
	// DurabilityNone acknowledges at once and leaves syncing to the
	// operating system (and to checkpoints); a power failure may lose
	// everything since the last checkpoint, but never leaves a partial commit.
	DurabilityNone
)

func (d Durability) String() string {
	switch d {
	case DurabilityDefault:
		return "default"
	case DurabilitySync:
		return "sync"
	case DurabilityInterval:
		return "interval"
	case DurabilityNone:
		return "none"
	}
	return "unknown"
}

// Options configure Open. The zero value is a good default.
type Options struct {
	// FS opens the file; nil means vfs.OS.
	FS vfs.FS
	// ExtentSize is the extent size of a new file (format.DefaultExtentSize
	// when zero). An existing file keeps the size it was created with.
	ExtentSize uint32
	// Durability is the default for commits (DurabilitySync when zero).
	Durability Durability
	// SyncInterval is the period of DurabilityInterval (200ms when zero).
	SyncInterval time.Duration
	// ReadOnly opens the file for reading only: no writer lock is taken and
	// nothing is written, not even recovery's repairs.
	ReadOnly bool
	// NoCreate fails Open when the file does not exist.
	NoCreate bool
	// CheckpointBytes is how much journal may accumulate before a checkpoint
	// (one journal extent when zero). Opening replays at most about this much.
	CheckpointBytes int64
	// RetentionCheck is the period of the retention sweep (1s when zero).
	RetentionCheck time.Duration
	// ProducerIDExpiration is how long a partition remembers an idempotent
	// producer after its last batch (Kafka's producer.id.expiration.ms; 24h
	// when zero). Producers are forgotten when a checkpoint is taken; a
	// forgotten producer's next batch is accepted at any sequence.
	ProducerIDExpiration time.Duration
	// Logger receives recovery and maintenance events; nil means slog.Default.
	Logger *slog.Logger
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.Durability == DurabilityDefault {
		o.Durability = DurabilitySync
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 200 * time.Millisecond
	}
	if o.ProducerIDExpiration <= 0 {
		o.ProducerIDExpiration = 24 * time.Hour
	}
	if o.RetentionCheck <= 0 {
		o.RetentionCheck = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
