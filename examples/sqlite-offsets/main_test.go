package main

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spooldb/spool"
	"github.com/spooldb/spool/examples/sqlite-offsets/offsets"
)

// openBoth opens a new spool file with n payments and a new SQLite
// database, both closed when the test ends.
func openBoth(t *testing.T, n int) (string, string, *spool.DB, *sql.DB, *offsets.Store) {
	t.Helper()
	dir := t.TempDir()
	spoolPath, sqlitePath := filepath.Join(dir, "payments.spool"), filepath.Join(dir, "payments.db")
	sp, err := spool.Open(spoolPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	if err := produce(t.Context(), sp, n); err != nil {
		t.Fatal(err)
	}
	sq, store, err := openSQLite(t.Context(), sqlitePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	return spoolPath, sqlitePath, sp, sq, store
}

// handledOffsets returns, per partition, the offsets of the payments rows
// in the order they were inserted.
func handledOffsets(t *testing.T, sq *sql.DB) map[int32][]int64 {
	t.Helper()
	rows, err := sq.QueryContext(t.Context(), `SELECT "partition", "offset" FROM payments ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int32][]int64{}
	for rows.Next() {
		var p int32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			t.Fatal(err)
		}
		out[p] = append(out[p], off)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

// TestResumesAtSQLitePosition: Workers starts each partition where SQLite
// says, not where the spool file has the group.
func TestResumesAtSQLitePosition(t *testing.T) {
	ctx := t.Context()
	_, _, sp, sq, store := openBoth(t, 400)
	info, err := sp.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	hw := map[int32]int64{}
	for _, p := range info.Partitions {
		hw[p.Partition] = p.HighWatermark
		if p.HighWatermark < 20 {
			t.Fatalf("partition %d has %d payments: too few for the test", p.Partition, p.HighWatermark)
		}
	}
	setPosition := func(p int32, off int64) {
		t.Helper()
		tx, err := sq.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := offsets.SaveOffset(ctx, tx, group, spool.TopicPartition{Topic: topic, Partition: p}, off); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 0 starts at 10, partition 1 is done, 2 and 3 have no
	// position and start at the beginning.
	setPosition(0, 10)
	setPosition(1, hw[1])
	n, err := catchUp(ctx, sp, sq, store)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(400 - 10 - hw[1]); n != want {
		t.Errorf("handled %d payments, want %d", n, want)
	}
	got := handledOffsets(t, sq)
	want := map[int32][]int64{0: span(10, hw[0]), 2: span(0, hw[2]), 3: span(0, hw[3])}
	for p := range int32(partitions) {
		if !slices.Equal(got[p], want[p]) {
			t.Errorf("partition %d: handled offsets %v, want %v", p, got[p], want[p])
		}
	}

	// The spool file now has the group at the end of every partition (the
	// pool committed its acknowledgements when it stopped), but SQLite's
	// position is the one that counts: moved back, partition 2 is handled
	// again from there.
	lags, err := sp.Lag(group)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lags {
		if l.Partition != 1 && l.Committed != hw[l.Partition] {
			t.Errorf("the spool file has the group at %d in partition %d, want %d", l.Committed, l.Partition, hw[l.Partition])
		}
	}
	setPosition(2, 5)
	if n, err := catchUp(ctx, sp, sq, store); err != nil || n != int(hw[2]-5) {
		t.Fatalf("after moving partition 2 back to 5: handled %d, %v; want %d", n, err, hw[2]-5)
	}
	if got := handledOffsets(t, sq)[2]; !slices.Equal(got, append(span(0, hw[2]), span(5, hw[2])...)) {
		t.Errorf("partition 2 handled %v, want 0 to %d then 5 to %d", got, hw[2], hw[2])
	}
	if n, err := catchUp(ctx, sp, sq, store); err != nil || n != 0 {
		t.Fatalf("caught up: handled %d, %v; want none", n, err)
	}
}
