package offsets_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/spooldb/spool"
	"github.com/spooldb/spool/examples/sqlite-offsets/offsets"
)

func openStore(t *testing.T) (*sql.DB, *offsets.Store) {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "offsets.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := offsets.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

// inTx runs f in a transaction and commits it, or rolls it back when
// commit is false.
func inTx(t *testing.T, db *sql.DB, commit bool, f func(tx *sql.Tx) error) {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if !commit {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func wantPosition(t *testing.T, s *offsets.Store, group string, tp spool.TopicPartition, want int64, wantOK bool) {
	t.Helper()
	got, ok, err := s.Position(t.Context(), group, tp)
	if err != nil || ok != wantOK || got != want {
		t.Fatalf("Position(%s, %v) = %d, %v, %v; want %d, %v", group, tp, got, ok, err, want, wantOK)
	}
}

func TestPositionAndSave(t *testing.T) {
	db, s := openStore(t)
	ctx := t.Context()
	p0 := spool.TopicPartition{Topic: "payments", Partition: 0}
	p1 := spool.TopicPartition{Topic: "payments", Partition: 1}

	wantPosition(t, s, "billing", p0, 0, false)

	// A position saved in a transaction that rolls back is not saved.
	inTx(t, db, false, func(tx *sql.Tx) error {
		return s.Save(ctx, tx, "billing", &spool.Record{Topic: "payments", Partition: 0, Offset: 41})
	})
	wantPosition(t, s, "billing", p0, 0, false)

	// Committed, it is the offset after the record.
	inTx(t, db, true, func(tx *sql.Tx) error {
		return s.Save(ctx, tx, "billing", &spool.Record{Topic: "payments", Partition: 0, Offset: 41})
	})
	wantPosition(t, s, "billing", p0, 42, true)

	// A later record replaces it; other partitions and groups are apart.
	inTx(t, db, true, func(tx *sql.Tx) error {
		if err := s.Save(ctx, tx, "billing", &spool.Record{Topic: "payments", Partition: 0, Offset: 42}); err != nil {
			return err
		}
		return offsets.SaveOffset(ctx, tx, "audit", p1, 7)
	})
	wantPosition(t, s, "billing", p0, 43, true)
	wantPosition(t, s, "billing", p1, 0, false)
	wantPosition(t, s, "audit", p0, 0, false)
	wantPosition(t, s, "audit", p1, 7, true)

	// A record the position is past already is refused: the transaction
	// must roll back.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, tx, "billing", &spool.Record{Topic: "payments", Partition: 0, Offset: 41}); !errors.Is(err, offsets.ErrPassed) {
		t.Fatalf("Save of offset 41 at position 43: %v, want ErrPassed", err)
	}
	tx.Rollback()
	wantPosition(t, s, "billing", p0, 43, true)

	// A gap (offsets a commit skipped) is no matter.
	inTx(t, db, true, func(tx *sql.Tx) error {
		return s.Save(ctx, tx, "billing", &spool.Record{Topic: "payments", Partition: 0, Offset: 45})
	})
	wantPosition(t, s, "billing", p0, 46, true)

	// SaveOffset sets a position anywhere, back too (a reset).
	inTx(t, db, true, func(tx *sql.Tx) error { return offsets.SaveOffset(ctx, tx, "billing", p0, 3) })
	wantPosition(t, s, "billing", p0, 3, true)

	// New again keeps the table and its rows.
	s2, err := offsets.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wantPosition(t, s2, "billing", p0, 3, true)
}
