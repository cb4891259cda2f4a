// Package bench runs spool's benchmark workloads (producing, consuming,
// produce-to-consume latency across processes, a consumer group, opening a
// file after a crash) and measures the machine's physical limits in the same
// run, so that every figure can be read as a ratio against something measured
// under the same load. `spool bench` runs it on spool alone; bench/peers runs
// the same workloads, through the same code, on the systems people would pick
// instead (Redis Streams, NATS JetStream, PostgreSQL, SQLite), each behind the
// System interface.
package bench

import (
	"context"
	"encoding/binary"
	"time"
)

// Durability is what a workload asks of a commit. Each system maps it to its
// own settings: spool's interval and sync modes, Redis's appendfsync
// everysec and always, and so on (System.Mode names the setting).
type Durability int

const (
	// Async acknowledges before the data is durable; a power failure may
	// take back the last moments (about a second or less).
	Async Durability = iota
	// Sync acknowledges once the data is durable.
	Sync
)

func (d Durability) String() string {
	if d == Sync {
		return "sync"
	}
	return "async"
}

// Spec names one stream of a workload: a topic, a Redis stream, a table.
type Spec struct {
	// Name is unique within a run.
	Name string `json:"name"`
	// Dir is where a system that keeps its data in files puts them.
	Dir        string     `json:"dir"`
	Partitions int        `json:"partitions"`
	Durability Durability `json:"durability"`
	// RecordSize is the size of the values the workload writes, so that a
	// system can size its reads.
	RecordSize int `json:"record_size"`
	// Attach opens a stream that another process created, instead of
	// creating a new one.
	Attach bool `json:"attach,omitempty"`
	// Tail says that a consumer will wait at the end of the stream for new
	// records, so that a system that must be told to notify consumers (a
	// trigger, a channel) sets that up.
	Tail bool `json:"tail,omitempty"`
}

// System is something the workloads run on.
type System interface {
	// Name is short and stable: it keys results across runs.
	Name() string
	// Mode names the setting that gives durability d, for the report.
	Mode(d Durability) string
	// Stream creates the stream spec names (or, with spec.Attach, opens it).
	Stream(ctx context.Context, spec Spec) (Stream, error)
}

// Stream is one stream of a system, open.
type Stream interface {
	// Producer returns a client for one goroutine.
	Producer(ctx context.Context) (Producer, error)
	// Consumer returns a client for one goroutine that reads every
	// partition from its start. With a group, Commit records its position
	// as that group's.
	Consumer(ctx context.Context, group string) (Consumer, error)
	// Close closes the stream; drop also deletes what it holds.
	Close(drop bool) error
}

// Producer appends records.
type Producer interface {
	// Send appends values to partition and returns once they are
	// acknowledged with the stream's durability, sending them the fastest
	// way the system offers for a group of records (one batch, a pipeline,
	// a multi-row insert, one transaction).
	Send(ctx context.Context, partition int, values [][]byte) error
	Close() error
}

// Consumer reads records in order, one partition at a time.
type Consumer interface {
	// Poll calls fn with the value of each record of partition after those
	// it returned before, up to about max records, and returns how many. With
	// wait it waits until there is at least one; without, it may return 0.
	Poll(ctx context.Context, partition int, max int, wait bool, fn func(value []byte)) (int, error)
	// Commit makes the group's position in partition what Poll has returned.
	Commit(ctx context.Context, partition int) error
	Close() error
}

// SyncCounter is implemented by streams that can count the syncs they made,
// which gives records per sync: how well commits share a sync.
type SyncCounter interface {
	Syncs() uint64
}

// Sizer is implemented by streams that know how many bytes they take.
type Sizer interface {
	Bytes() (int64, error)
}

// Embedded is implemented by systems that run inside the application's
// process, over a file: opening after a crash of the writer is then their
// own recovery. A server's recovery is its restart, which the recovery
// workload does not measure.
type Embedded interface {
	Embedded()
}

// stampSize is the bytes of a value that carry the time it was sent, for
// the latency workloads.
const stampSize = 8

// stamp writes the current time into the start of v.
func stamp(v []byte) {
	binary.LittleEndian.PutUint64(v, uint64(time.Now().UnixNano()))
}

// sentAt reads the time stamp wrote.
func sentAt(v []byte) time.Time {
	if len(v) < stampSize {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(v)))
}
