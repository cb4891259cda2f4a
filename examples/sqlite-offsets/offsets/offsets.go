// Package offsets keeps a spool consumer group's positions in an SQL
// database, next to the effects of handling the records, for
// spool.WorkersOptions.OffsetStore.
//
// A handler that writes to another database cannot make spool's
// acknowledgement and its own write one atomic step: whichever commits
// first, a crash between the two either repeats the effect (the write
// committed, the acknowledgement not) or loses it (the other way round).
// The way out is to keep the position where the effect is: the handler
// saves the offset after its record with Save, inside the very transaction
// that applies the effect, so that the database holds both or neither.
// When a member of the group takes a partition, Workers asks the Store
// for its Position and resumes there, whatever the spool file says: a
// record whose effect committed is never handled again, and one whose
// transaction rolled back (a crash, a kill, a failed commit) is handled
// again, once.
//
// This works with Ordering PerPartition, where a partition's records are
// handled one at a time in offset order, so that the offset after the last
// record handled is the whole of the partition's progress.
//
// Save also fences: it refuses (ErrPassed) a record the saved position is
// past already. A handler still committing when its partition went to
// another member (one that outlived RebalanceTimeout, or ran in a process
// the group removed after it stopped heartbeating) can then not apply a
// record the new owner applied already; without it, the new owner, which
// read the position before that commit, would apply it a second time.
package offsets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/spooldb/spool"
)

// Table is the name of the table a Store keeps positions in.
const Table = "spool_offsets"

// Store is a spool.OffsetStore over a table of an SQL database: one row
// per group, topic and partition, holding the offset at which the group
// resumes the partition. Its statements are SQLite's (and PostgreSQL's,
// but for the ? placeholders).
type Store struct {
	db *sql.DB
}

var _ spool.OffsetStore = (*Store)(nil)

// New returns a Store over db, creating its table if it does not exist.
func New(ctx context.Context, db *sql.DB) (*Store, error) {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+Table+` (
	"group"     TEXT    NOT NULL,
	topic       TEXT    NOT NULL,
	"partition" INTEGER NOT NULL,
	next_offset INTEGER NOT NULL,
	PRIMARY KEY ("group", topic, "partition")
)`)
	if err != nil {
		return nil, fmt.Errorf("offsets: create table %s: %w", Table, err)
	}
	return &Store{db: db}, nil
}

// Position returns the offset at which group resumes tp, and whether one
// was saved. Workers calls it when a member takes tp.
func (s *Store) Position(ctx context.Context, group string, tp spool.TopicPartition) (int64, bool, error) {
	var off int64
	err := s.db.QueryRowContext(ctx, `SELECT next_offset FROM `+Table+` WHERE "group" = ? AND topic = ? AND "partition" = ?`,
		group, tp.Topic, tp.Partition).Scan(&off)
	switch {
	case err == sql.ErrNoRows:
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("offsets: position of %s in %s/%d: %w", group, tp.Topic, tp.Partition, err)
	}
	return off, true, nil
}

// ErrPassed is returned by Save when the group's saved position is past
// the record already: another member handled it, and the transaction must
// roll back. It happens when a partition moves while a handler is still
// committing (past RebalanceTimeout, or when the group removed a member
// that stopped heartbeating), and when a record is delivered again that
// should not have been.
var ErrPassed = errors.New("offsets: the group's position is past the record")

// Save records, in tx, that group has handled r: the group resumes r's
// partition at r.Offset+1 once tx commits. Call it in the transaction
// that applies r's effect, before committing it. It returns ErrPassed,
// and changes nothing, when the saved position is past r.Offset: the
// effect must not commit, and nothing is handled twice even when two
// members handle a record at once.
func (s *Store) Save(ctx context.Context, tx *sql.Tx, group string, r *spool.Record) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO `+Table+` ("group", topic, "partition", next_offset) VALUES (?, ?, ?, ?)
ON CONFLICT ("group", topic, "partition") DO UPDATE SET next_offset = excluded.next_offset WHERE next_offset <= ?`,
		group, r.Topic, r.Partition, r.Offset+1, r.Offset)
	if err != nil {
		return fmt.Errorf("offsets: save %s in %s/%d: %w", group, r.Topic, r.Partition, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("offsets: save %s in %s/%d: %w", group, r.Topic, r.Partition, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s in %s/%d at offset %d", ErrPassed, group, r.Topic, r.Partition, r.Offset)
	}
	return nil
}

// SaveOffset sets, in tx, the offset at which group resumes tp once tx
// commits, wherever the saved one is: to reset a group, or move it on.
func SaveOffset(ctx context.Context, tx *sql.Tx, group string, tp spool.TopicPartition, next int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO `+Table+` ("group", topic, "partition", next_offset) VALUES (?, ?, ?, ?)
ON CONFLICT ("group", topic, "partition") DO UPDATE SET next_offset = excluded.next_offset`,
		group, tp.Topic, tp.Partition, next)
	if err != nil {
		return fmt.Errorf("offsets: save %s in %s/%d: %w", group, tp.Topic, tp.Partition, err)
	}
	return nil
}
