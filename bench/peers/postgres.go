package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/spooldb/spool/internal/bench"
)

// PostgreSQL: one table per partition with an identity key; a request of
// several records is one multi-row INSERT (unnest of an array parameter),
// consumers page by key, a group keeps its offsets in a table, and a
// consumer at the end of a table waits for a NOTIFY sent by a statement
// trigger. Durability is synchronous_commit, set for each stream's
// connections: off for async, on for sync.
type pgSystem struct {
	dsn string
}

func newPostgres(ctx context.Context, dsn string) (*pgSystem, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_offsets (grp text, tbl text, off bigint NOT NULL, PRIMARY KEY (grp, tbl));
CREATE OR REPLACE FUNCTION bench_notify() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_notify(TG_TABLE_NAME, ''); RETURN NULL; END $$`)
	return &pgSystem{dsn: dsn}, err
}

func (*pgSystem) Name() string { return "postgres" }

func (*pgSystem) Mode(d bench.Durability) string { return "synchronous_commit " + pgSyncCommit(d) }

func pgSyncCommit(d bench.Durability) string {
	if d == bench.Sync {
		return "on"
	}
	return "off"
}

func (s *pgSystem) Stream(ctx context.Context, spec bench.Spec) (bench.Stream, error) {
	cfg, err := pgxpool.ParseConfig(s.dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 200
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = pgSyncCommit(spec.Durability)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	st := &pgStream{pool: pool, spec: spec}
	if !spec.Attach {
		if err := st.create(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return st, nil
}

type pgStream struct {
	pool *pgxpool.Pool
	spec bench.Spec
}

// table names partition p's table.
func (st *pgStream) table(p int) string {
	return strings.ReplaceAll(fmt.Sprintf("%s_%d", st.spec.Name, p), "-", "_")
}

func (st *pgStream) create(ctx context.Context) error {
	if err := st.drop(ctx); err != nil {
		return err
	}
	for p := range st.spec.Partitions {
		t := st.table(p)
		sql := fmt.Sprintf(`CREATE TABLE %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bytea NOT NULL)`, t)
		if st.spec.Tail {
			sql += fmt.Sprintf(`; CREATE TRIGGER %s_notify AFTER INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION bench_notify()`, t, t)
		}
		if _, err := st.pool.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

func (st *pgStream) drop(ctx context.Context) error {
	for p := range st.spec.Partitions {
		if _, err := st.pool.Exec(ctx, "DROP TABLE IF EXISTS "+st.table(p)); err != nil {
			return err
		}
	}
	_, err := st.pool.Exec(ctx, "DELETE FROM bench_offsets WHERE tbl LIKE $1", strings.ReplaceAll(st.spec.Name, "-", "_")+"_%")
	return err
}

func (st *pgStream) Close(drop bool) error {
	var err error
	if drop {
		err = st.drop(context.Background())
	}
	st.pool.Close()
	return err
}

func (st *pgStream) Producer(context.Context) (bench.Producer, error) { return pgProducer{st}, nil }

type pgProducer struct{ st *pgStream }

func (p pgProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	t := p.st.table(partition)
	var err error
	if len(values) == 1 {
		_, err = p.st.pool.Exec(ctx, "INSERT INTO "+t+" (v) VALUES ($1)", values[0])
	} else {
		_, err = p.st.pool.Exec(ctx, "INSERT INTO "+t+" (v) SELECT unnest($1::bytea[])", values)
	}
	return err
}

func (pgProducer) Close() error { return nil }

func (st *pgStream) Consumer(ctx context.Context, group string) (bench.Consumer, error) {
	c := &pgConsumer{st: st, group: group, last: map[int]int64{}}
	if st.spec.Tail {
		conn, err := st.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		for p := range st.spec.Partitions {
			if _, err := conn.Exec(ctx, "LISTEN "+st.table(p)); err != nil {
				conn.Release()
				return nil, err
			}
		}
		c.listen = conn
	}
	return c, nil
}

type pgConsumer struct {
	st     *pgStream
	group  string
	last   map[int]int64 // the last id read, by partition
	listen *pgxpool.Conn // LISTENs on every partition's channel, for tails
}

func (c *pgConsumer) Poll(ctx context.Context, partition int, max int, wait bool, fn func([]byte)) (int, error) {
	t := c.st.table(partition)
	last, ok := c.last[partition]
	if !ok && c.group != "" {
		err := c.st.pool.QueryRow(ctx, "SELECT off FROM bench_offsets WHERE grp = $1 AND tbl = $2", c.group, t).Scan(&last)
		if err != nil && err != pgx.ErrNoRows {
			return 0, err
		}
	}
	for {
		rows, err := c.st.pool.Query(ctx, "SELECT id, v FROM "+t+" WHERE id > $1 ORDER BY id LIMIT $2", last, max)
		if err != nil {
			return 0, err
		}
		n, err := eachRow[[]byte](rows, &last, fn)
		rows.Close()
		if err := errors.Join(err, rows.Err()); err != nil {
			return n, err
		}
		c.last[partition] = last
		if n > 0 || !wait || c.listen == nil {
			return n, nil
		}
		if _, err := c.listen.Conn().WaitForNotification(ctx); err != nil {
			return 0, err
		}
	}
}

func (c *pgConsumer) Commit(ctx context.Context, partition int) error {
	_, err := c.st.pool.Exec(ctx, `INSERT INTO bench_offsets (grp, tbl, off) VALUES ($1, $2, $3)
ON CONFLICT (grp, tbl) DO UPDATE SET off = excluded.off`, c.group, c.st.table(partition), c.last[partition])
	return err
}

func (c *pgConsumer) Close() error {
	if c.listen != nil {
		c.listen.Exec(context.Background(), "UNLISTEN *")
		c.listen.Release()
	}
	return nil
}
