package spool

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// DB is an open spool file. All its methods, and those of the producers and
// consumers made from it, are safe for concurrent use. Several processes may
// have the same file open at once.
type DB struct {
	s       *store.Store
	path    string
	outputs outputPartitioners // of transactions' records
}

// Options configure Open. A nil *Options means the defaults.
type Options struct {
	// Durability is the default for commits: DurabilitySync when zero.
	Durability Durability
	// SyncInterval is the period of DurabilityInterval: 200ms when zero.
	SyncInterval time.Duration
	// ReadOnly opens the file for reading only: nothing is written, not
	// even the repairs of recovery.
	ReadOnly bool
	// NoCreate fails Open when the file does not exist.
	NoCreate bool
	// ExtentSize is the size of the extents a new file is cut into (8 MiB
	// when zero; a power of two from 64 KiB). A batch must fit in one
	// extent. An existing file keeps its own.
	ExtentSize int
	// Logger receives recovery and maintenance events: slog.Default when nil.
	Logger *slog.Logger
}

// Open opens the spool file at path, creating it unless opts.NoCreate or
// opts.ReadOnly. A process that finds itself alone with the file recovers
// it: commits cut short by a crash are dropped, acknowledged ones kept.
func Open(path string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.ExtentSize < 0 || opts.ExtentSize > 1<<31 {
		return nil, fmt.Errorf("spool: open %s: extent size %d out of range", path, opts.ExtentSize)
	}
	s, err := store.Open(path, store.Options{
		Durability:   store.Durability(opts.Durability),
		SyncInterval: opts.SyncInterval,
		ReadOnly:     opts.ReadOnly,
		NoCreate:     opts.NoCreate,
		ExtentSize:   uint32(opts.ExtentSize),
		Logger:       opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &DB{s: s, path: path}, nil
}

// Close waits for the commits already queued, then closes the file.
// Producers and consumers of the DB should be closed first: their later
// calls fail with ErrClosed.
func (db *DB) Close() error { return db.s.Close() }

// Path returns the path the DB was opened with.
func (db *DB) Path() string { return db.path }

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string
	Partitions []PartitionInfo
	// Config holds the configuration entries set on the topic, by Kafka's
	// names; the others have their defaults.
	Config  map[string]string
	Created time.Time
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition int32
	// LogStartOffset is the first offset still readable.
	LogStartOffset int64
	// HighWatermark is the offset the next record will get: the log end.
	HighWatermark int64
	// Bytes is the size of the partition's stored batches.
	Bytes int64
}

// CreateTopic creates a topic with partitions partitions. config takes
// Kafka's topic configuration names: retention.ms, retention.bytes,
// max.message.bytes, message.timestamp.type and cleanup.policy (delete).
func (db *DB) CreateTopic(ctx context.Context, name string, partitions int, config map[string]string) error {
	return db.s.CreateTopic(ctx, name, partitions, configEntries(config))
}

// AlterTopic sets configuration entries of a topic; an empty value restores
// the default.
func (db *DB) AlterTopic(ctx context.Context, name string, config map[string]string) error {
	return db.s.AlterTopic(ctx, name, configEntries(config))
}

// DeleteTopic deletes a topic, its records and the offsets groups committed
// for it.
func (db *DB) DeleteTopic(ctx context.Context, name string) error {
	return db.s.DeleteTopic(ctx, name)
}

// Topics describes every topic, sorted by name.
func (db *DB) Topics() ([]TopicInfo, error) {
	ts, err := db.s.Topics()
	if err != nil {
		return nil, err
	}
	out := make([]TopicInfo, len(ts))
	for i, t := range ts {
		out[i] = topicInfo(t)
	}
	return out, nil
}

// Topic describes one topic.
func (db *DB) Topic(name string) (TopicInfo, error) {
	t, err := db.s.Topic(name)
	if err != nil {
		return TopicInfo{}, err
	}
	return topicInfo(t), nil
}

// Offsets returns a partition's log start offset and high watermark.
func (db *DB) Offsets(topic string, partition int32) (logStart, highWatermark int64, err error) {
	return db.s.Offsets(topic, partition)
}

// DeleteRecords makes the records of a partition before offset unreadable,
// as Kafka's DeleteRecords does, and frees the space they occupied. It
// returns the new log start offset. offset -1 means the high watermark.
func (db *DB) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error) {
	return db.s.DeleteRecords(ctx, topic, partition, offset)
}

func configEntries(config map[string]string) []format.ConfigEntry {
	entries := make([]format.ConfigEntry, 0, len(config))
	for _, name := range slices.Sorted(maps.Keys(config)) {
		entries = append(entries, format.ConfigEntry{Name: name, Value: config[name]})
	}
	return entries
}

func topicInfo(t store.TopicInfo) TopicInfo {
	info := TopicInfo{Name: t.Name, Config: map[string]string{}, Created: time.Unix(0, t.Created),
		Partitions: make([]PartitionInfo, len(t.Partitions))}
	for _, e := range t.Overrides {
		info.Config[e.Name] = e.Value
	}
	for i, p := range t.Partitions {
		info.Partitions[i] = PartitionInfo{Partition: p.Partition, LogStartOffset: p.LogStartOffset,
			HighWatermark: p.HighWatermark, Bytes: p.Bytes}
	}
	return info
}
