package store

import (
	"fmt"
	"testing"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// checkStats reads s.Stats and checks what holds of any file: the kinds add
// up to the extent count, the data extents are the partitions', and each
// partition's figures are those Topics reports.
func checkStats(t *testing.T, s *Store) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	c := st.Extents
	if sum := c.Data + c.Journal + c.Checkpoint + c.Free + c.PendingFree; sum != c.Total || c.Total == 0 {
		t.Fatalf("extent kinds %+v add up to %d, not the total", c, sum)
	}
	if size := format.ExtentsStart + int64(c.Total)*int64(st.ExtentSize); st.Size > size {
		t.Fatalf("file of %d bytes has only %d extents of %d", st.Size, c.Total, st.ExtentSize)
	}
	topics, err := s.Topics()
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != len(st.Topics) {
		t.Fatalf("stats has %d topics, Topics %d", len(st.Topics), len(topics))
	}
	data := 0
	for i, ts := range st.Topics {
		if ts.Topic != topics[i].Name || len(ts.Partitions) != len(topics[i].Partitions) {
			t.Fatalf("stats topic %s with %d partitions, Topics %s with %d", ts.Topic, len(ts.Partitions), topics[i].Name, len(topics[i].Partitions))
		}
		for j, p := range ts.Partitions {
			q := topics[i].Partitions[j]
			if p.Partition != q.Partition || p.Extents != q.Extents || p.Bytes != q.Bytes || p.LogStart != q.LogStartOffset || p.LogEnd != q.HighWatermark {
				t.Fatalf("stats of %s/%d %+v, Topics says %+v", ts.Topic, p.Partition, p, q)
			}
			data += p.Extents
		}
	}
	if data != c.Data {
		t.Fatalf("%d data extents, the partitions hold %d", c.Data, data)
	}
	return st
}

func partitionStats(t *testing.T, st Stats, partition int32) PartitionStats {
	t.Helper()
	for _, ts := range st.Topics {
		if ts.Topic == "t" {
			return ts.Partitions[partition]
		}
	}
	t.Fatal("no topic t in stats")
	return PartitionStats{}
}

func TestStatsAppendDeleteRecords(t *testing.T) {
	s := openWithTopic(t, vfs.NewMem(), 2)
	defer s.Close()
	st := checkStats(t, s)
	if c := st.Extents; c.Data != 0 || c.Journal != 1 || c.Checkpoint != 0 {
		t.Fatalf("a new file's extents: %+v, want one journal extent", c)
	}
	for i := range 200 {
		mustProduce(t, s, 0, batch(fmt.Sprint(i), 100))
	}
	mustProduce(t, s, 1, batch("one", 10))
	st = checkStats(t, s)
	p0, p1 := partitionStats(t, st, 0), partitionStats(t, st, 1)
	if p0.Extents < 4 || p0.LogStart != 0 || p0.LogEnd != 20000 || p0.Bytes < 20000*8 {
		t.Fatalf("partition 0 after 200 batches of 100 records: %+v", p0)
	}
	if p1.Extents != 1 || p1.LogEnd != 10 || p1.Bytes == 0 {
		t.Fatalf("partition 1 after one batch of 10 records: %+v", p1)
	}
	if st.Extents.Data != p0.Extents+p1.Extents {
		t.Fatalf("%d data extents; partitions hold %d and %d", st.Extents.Data, p0.Extents, p1.Extents)
	}

	// Deleting the records of all but the last extent frees the others.
	if _, err := s.DeleteRecords(ctx, "t", 0, 19999); err != nil {
		t.Fatal(err)
	}
	after := checkStats(t, s)
	q0 := partitionStats(t, after, 0)
	if q0.Extents != 1 || q0.LogStart != 19999 || q0.LogEnd != 20000 || q0.Bytes >= p0.Bytes {
		t.Fatalf("partition 0 after DeleteRecords to 19999: %+v (before %+v)", q0, p0)
	}
	freed := p0.Extents - 1
	if after.Extents.Data != st.Extents.Data-freed {
		t.Fatalf("%d data extents after freeing %d of %d", after.Extents.Data, freed, st.Extents.Data)
	}
	if got, was := after.Extents.Free+after.Extents.PendingFree, st.Extents.Free+st.Extents.PendingFree; got < was+freed {
		t.Fatalf("free and pending free extents went from %d to %d after freeing %d", was, got, freed)
	}
}

func TestStatsCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	// Every commit checkpoints.
	opts := memOpts(fs)
	opts.CheckpointBytes = 1
	s := openTopic(t, "f", opts, 1)
	for i := range 20 {
		mustProduce(t, s, 0, batch(fmt.Sprint(i), 10))
	}
	st := checkStats(t, s)
	if c := st.Extents; c.Checkpoint == 0 || c.Journal == 0 || c.Free+c.PendingFree == 0 {
		t.Fatalf("after checkpoints: %+v, want checkpoint, journal and freed extents", c)
	}
	s.mu.RLock()
	journal, ckpt := len(s.st.journal), len(s.st.ckpt)
	s.mu.RUnlock()
	if st.Extents.Journal != journal || st.Extents.Checkpoint != ckpt {
		t.Fatalf("stats count %d journal and %d checkpoint extents; the state has %d and %d", st.Extents.Journal, st.Extents.Checkpoint, journal, ckpt)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stats(); err == nil {
		t.Fatal("stats of a closed store succeeded")
	}
	s = mustOpen(t, "f", opts)
	defer s.Close()
	if st := checkStats(t, s); st.Extents.Checkpoint == 0 || partitionStats(t, st, 0).LogEnd != 200 {
		t.Fatalf("reopened: %+v", st)
	}
}
