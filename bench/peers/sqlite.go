package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver "sqlite3", SQLite itself through cgo

	"github.com/spooldb/spool/internal/bench"
)

// SQLite in WAL mode, one file per stream with one table per partition
// (INTEGER PRIMARY KEY); a request of several records is one transaction of
// inserts through a prepared statement, on the one connection that writes
// (SQLite has one writer at a time: more connections would only contend
// for the lock). Consumers page by key; at the end of a table they poll
// every 100 µs, since SQLite cannot notify another process. Durability is
// synchronous=NORMAL for async (in WAL mode, commits are synced at
// checkpoints) and FULL for sync (every commit is synced).
type sqliteSystem struct{}

func (sqliteSystem) Name() string { return "sqlite" }
func (sqliteSystem) Embedded()    {}

func (sqliteSystem) Mode(d bench.Durability) string { return "WAL, synchronous=" + sqliteSync(d) }

func sqliteSync(d bench.Durability) string {
	if d == bench.Sync {
		return "FULL"
	}
	return "NORMAL"
}

// sqlitePoll is how long a consumer at the end of a table sleeps before it
// looks again.
const sqlitePoll = 100 * time.Microsecond

func (sqliteSystem) Stream(ctx context.Context, spec bench.Spec) (bench.Stream, error) {
	path := filepath.Join(spec.Dir, spec.Name+".db")
	if !spec.Attach {
		removeSQLite(path)
	}
	dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=%s&_busy_timeout=60000&_txlock=immediate", path, sqliteSync(spec.Durability))
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite3", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	st := &sqliteStream{w: w, r: r, spec: spec, path: path}
	if spec.Attach {
		// sql.Open connects lazily; the first query opens the file and
		// recovers its WAL.
		var n sql.NullInt64
		err = r.QueryRowContext(ctx, "SELECT max(id) FROM "+st.table(0)).Scan(&n)
	} else {
		err = st.create(ctx)
	}
	if err != nil {
		st.Close(false)
		return nil, err
	}
	return st, nil
}

func removeSQLite(path string) error {
	var errs []error
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type sqliteStream struct {
	w, r *sql.DB
	spec bench.Spec
	path string
}

func (st *sqliteStream) table(p int) string { return fmt.Sprintf("t%d", p) }

func (st *sqliteStream) create(ctx context.Context) error {
	for p := range st.spec.Partitions {
		if _, err := st.w.ExecContext(ctx, "CREATE TABLE "+st.table(p)+" (id INTEGER PRIMARY KEY, v BLOB NOT NULL)"); err != nil {
			return err
		}
	}
	_, err := st.w.ExecContext(ctx, "CREATE TABLE offsets (grp TEXT, part INTEGER, off INTEGER NOT NULL, PRIMARY KEY (grp, part))")
	return err
}

func (st *sqliteStream) Bytes() (int64, error) {
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(st.path + suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		if err == nil {
			total += fi.Size()
		}
	}
	return total, nil
}

func (st *sqliteStream) Close(drop bool) error {
	err := errors.Join(st.r.Close(), st.w.Close())
	if drop {
		err = errors.Join(err, removeSQLite(st.path))
	}
	return err
}

func (st *sqliteStream) Producer(ctx context.Context) (bench.Producer, error) {
	p := &sqliteProducer{st: st}
	for part := range st.spec.Partitions {
		stmt, err := st.w.PrepareContext(ctx, "INSERT INTO "+st.table(part)+" (v) VALUES (?)")
		if err != nil {
			p.Close()
			return nil, err
		}
		p.insert = append(p.insert, stmt)
	}
	return p, nil
}

type sqliteProducer struct {
	st     *sqliteStream
	insert []*sql.Stmt // by partition
}

func (p *sqliteProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	if len(values) == 1 {
		_, err := p.insert[partition].ExecContext(ctx, values[0])
		return err
	}
	tx, err := p.st.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt := tx.StmtContext(ctx, p.insert[partition])
	for _, v := range values {
		if _, err := stmt.ExecContext(ctx, v); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (p *sqliteProducer) Close() error {
	for _, s := range p.insert {
		s.Close()
	}
	return nil
}

func (st *sqliteStream) Consumer(_ context.Context, group string) (bench.Consumer, error) {
	return &sqliteConsumer{st: st, group: group, last: map[int]int64{}}, nil
}

type sqliteConsumer struct {
	st    *sqliteStream
	group string
	last  map[int]int64 // the last id read, by partition
}

func (c *sqliteConsumer) Poll(ctx context.Context, partition int, max int, wait bool, fn func([]byte)) (int, error) {
	last, ok := c.last[partition]
	if !ok && c.group != "" {
		err := c.st.r.QueryRowContext(ctx, "SELECT off FROM offsets WHERE grp = ? AND part = ?", c.group, partition).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	query := "SELECT id, v FROM " + c.st.table(partition) + " WHERE id > ? ORDER BY id LIMIT ?"
	for {
		rows, err := c.st.r.QueryContext(ctx, query, last, max)
		if err != nil {
			return 0, err
		}
		// RawBytes points into the driver's buffer: no copy of each value.
		n, err := eachRow[sql.RawBytes](rows, &last, fn)
		if err := errors.Join(err, rows.Err(), rows.Close()); err != nil {
			return n, err
		}
		c.last[partition] = last
		if n > 0 || !wait {
			return n, nil
		}
		select {
		case <-time.After(sqlitePoll):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (c *sqliteConsumer) Commit(ctx context.Context, partition int) error {
	_, err := c.st.w.ExecContext(ctx, "INSERT OR REPLACE INTO offsets (grp, part, off) VALUES (?, ?, ?)", c.group, partition, c.last[partition])
	return err
}

func (c *sqliteConsumer) Close() error { return nil }
