package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// Damage in the middle of the journal must not pass for its end: a record
// that does not decode, where the records after it or the shared page show
// that it was synced, fails Open with ErrCorrupt and is a Check problem;
// one that was never synced (the torn tail of a power loss) is cut.

// journalFile is a spool file whose journal, after its checkpoint, holds
// one record per commit across several journal extents.
type journalFile struct {
	b       []byte
	recs    []journalRec // the journal's records after the checkpoint, in order
	commits int          // commits of one record each to t/0, in order
	synced  int          // how many of them were acknowledged with DurabilitySync
	// first is the offset of t/0 the first commit's record is at.
	first int64
}

// journalRec is where a journal record lies.
type journalRec struct {
	lsn    uint64
	extent uint32
	pos    uint32
	size   int   // framed
	off    int64 // file offset of its frame
	cont   bool  // it holds a Continue
}

func journalOpts(fs vfs.FS) Options {
	return Options{FS: fs, ExtentSize: format.MinExtentSize, CheckpointBytes: 1 << 30, RetentionCheck: time.Hour,
		Logger: slog.New(slog.DiscardHandler)}
}

// buildJournalFile commits n records to t/0, one commit each with an offset
// commit of 200 bytes of metadata (so the journal spans several 64 KiB
// extents); the last unsynced of them with DurabilityNone. The file is
// taken as a killed process leaves it: a closed one would have checkpointed
// the journal away, since synchronous commits carry their batches in it.
func buildJournalFile(t testing.TB, n, unsynced int) *journalFile {
	t.Helper()
	fs := vfs.NewMem()
	s, err := Open("f", journalOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	jf := &journalFile{commits: n, synced: n - unsynced, first: -1}
	for i := range n {
		txn := &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint("r", i), 1)}},
			Offsets: []Offset{{Group: "g", Topic: "t", Offset: int64(i), Metadata: strings.Repeat("m", 200)}}}
		if i >= n-unsynced {
			txn.Durability = DurabilityNone
		}
		res, err := s.Commit(ctx, txn)
		if err != nil {
			t.Fatal(err)
		}
		if jf.first < 0 {
			jf.first = res[0].BaseOffset
		}
	}
	jf.b = crashFileBytes(t, fs.CrashClean(), "f")
	s.Close()
	if jf.recs = journalRecords(t, jf.b); len(jf.recs) < n {
		t.Fatalf("%d journal records for %d commits", len(jf.recs), n)
	}
	return jf
}

// journalRecords returns where the journal records of the file b are, after
// its checkpoint, read from an undamaged copy.
func journalRecords(t testing.TB, b []byte) []journalRec {
	t.Helper()
	r, err := Open("f", Options{FS: crashMemFile(t, "f", b), ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []journalRec
	if _, err := r.readJournal(r.meta, math.MaxUint64, func(start, end chainPos, x format.Record) {
		_, cont, _ := continueOf(x.Ops)
		recs = append(recs, journalRec{lsn: x.LSN, extent: start.extent, pos: start.pos, size: format.RecordSize(len(x.Ops)),
			off: r.payloadOffset(start.extent, start.pos), cont: cont})
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no journal records")
	}
	return recs
}

// last returns the index of the last record that is a commit's (not a
// Continue).
func (jf *journalFile) last() int {
	i := len(jf.recs) - 1
	for jf.recs[i].cont {
		i--
	}
	return i
}

// continued returns the index of the first Continue record.
func (jf *journalFile) continued(t testing.TB) int {
	for i, r := range jf.recs {
		if r.cont {
			return i
		}
	}
	t.Fatal("the journal never continues in another extent")
	return 0
}

// noHint clears the shared page, as a file whose page never reached the
// disk, so that only the journal itself tells damage from its end.
func noHint(b []byte) {
	clear(b[format.SharedPageOffset : format.SharedPageOffset+format.PageSize])
}

// openDamaged opens b and returns the store or the error, for read-write and
// read-only opens alike (read-only first: it changes nothing).
func openDamaged(t *testing.T, b []byte, readOnly bool) (*Store, error) {
	t.Helper()
	opts := journalOpts(crashMemFile(t, "f", b))
	opts.ReadOnly, opts.NoCreate = readOnly, true
	return Open("f", opts)
}

// wantCorrupt opens b read-only and read-write and wants ErrCorrupt naming
// the record, both times.
func wantCorrupt(t *testing.T, b []byte, r journalRec) {
	t.Helper()
	for _, ro := range []bool{true, false} {
		s, err := openDamaged(t, b, ro)
		if err == nil {
			_, hwm, _ := s.Offsets("t", 0)
			s.Close()
			t.Fatalf("read-only %v: the damaged file opened, t/0 ends at %d", ro, hwm)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read-only %v: %v, want ErrCorrupt", ro, err)
		}
		for _, want := range []string{fmt.Sprintf("journal record %d ", r.lsn), fmt.Sprintf("extent %d,", r.extent), fmt.Sprintf("byte %d,", r.pos)} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("read-only %v: the error does not say %q: %v", ro, want, err)
			}
		}
	}
}

// wantOpens opens b and wants t/0 to end after the first keep commits, and
// that it takes a new commit and keeps it over a reopen.
func wantOpens(t *testing.T, jf *journalFile, b []byte, keep int) {
	t.Helper()
	s, err := openDamaged(t, b, false)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, hwm, err := s.Offsets("t", 0); err != nil || hwm != jf.first+int64(keep) {
		s.Close()
		t.Fatalf("t/0 ends at %d (%v), want %d: %d commits kept of %d, %d synced", hwm, err, jf.first+int64(keep), hwm-jf.first, jf.commits, jf.synced)
	}
	if r, err := s.Check(ctx, nil); err != nil || len(r.Problems) != 0 {
		t.Fatalf("check after recovery: %v %v", err, r.Problems)
	}
	if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("after", 1)}}}); err != nil {
		t.Fatal(err)
	}
	fs := s.opts.FS
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	opts := journalOpts(fs)
	if s, err = Open("f", opts); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, hwm, _ := s.Offsets("t", 0); hwm != jf.first+int64(keep)+1 {
		t.Fatalf("after a commit and a reopen t/0 ends at %d, want %d", hwm, jf.first+int64(keep)+1)
	}
}

// TestJournalDamage damages one journal record of a file at a time:
// its body, its length, its checksum, all of it; the first record, one in
// the middle, the last, a Continue, and the header of the extent a Continue
// names. Each was synced, so each open fails with ErrCorrupt naming the
// record, whether the shared page (which says what was synced) survived or
// not, and the record's position.
func TestJournalDamage(t *testing.T) {
	jf := buildJournalFile(t, 400, 0)
	cont := jf.continued(t)
	middle := len(jf.recs) / 2
	if jf.recs[middle].cont {
		middle++
	}
	type damage struct {
		name string
		rec  int
		fn   func(b []byte, r journalRec)
		hint bool // only the shared page can tell
	}
	body := func(b []byte, r journalRec) { b[r.off+format.RecordFrameSize+20] ^= 0x10 } // the time field
	lsn := func(b []byte, r journalRec) { b[r.off+format.RecordFrameSize] ^= 0x01 }
	length := func(b []byte, r journalRec) { b[r.off+1] ^= 0x40 }
	sum := func(b []byte, r journalRec) { b[r.off+5] ^= 0x01 }
	zero := func(b []byte, r journalRec) { clear(b[r.off : r.off+int64(r.size)]) }
	ops := func(b []byte, r journalRec) { b[r.off+int64(r.size)-1] ^= 0x80 }
	damages := []damage{
		{"first body", 0, body, false},
		{"first length", 0, length, false},
		{"first zeroed", 0, zero, false},
		{"middle body", middle, body, false},
		{"middle lsn", middle, lsn, false},
		{"middle ops", middle, ops, false},
		{"middle length", middle, length, false},
		{"middle checksum", middle, sum, false},
		{"middle zeroed", middle, zero, false},
		{"continue body", cont, body, false},
		{"continue checksum", cont, sum, false},
		{"continue length", cont, length, true},
		{"continue zeroed", cont, zero, true},
		{"after continue", cont + 1, body, false},
		{"last body", jf.last(), body, true},
		{"last zeroed", jf.last(), zero, true},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			r := jf.recs[d.rec]
			for _, hint := range []bool{true, false} {
				b := bytes.Clone(jf.b)
				d.fn(b, r)
				if !hint {
					noHint(b)
				}
				if !hint && d.hint {
					// Nothing after it says it was synced: a file without
					// the page opens without it. It loses synced records;
					// the page is what prevents that.
					continue
				}
				wantCorrupt(t, b, r)
			}
		})
	}
	t.Run("journal extent header", func(t *testing.T) {
		next := jf.recs[cont+1]
		for _, hint := range []bool{true, false} {
			b := bytes.Clone(jf.b)
			b[format.ExtentOffset(next.extent, format.MinExtentSize)+9] ^= 1 // its generation
			if !hint {
				noHint(b)
			}
			wantCorrupt(t, b, jf.recs[cont])
		}
	})
	t.Run("truncated", func(t *testing.T) {
		b := bytes.Clone(jf.b[:jf.recs[middle].off+10])
		wantCorrupt(t, b, jf.recs[middle])
	})
	t.Run("undamaged", func(t *testing.T) {
		wantOpens(t, jf, bytes.Clone(jf.b), jf.commits)
		b := bytes.Clone(jf.b)
		noHint(b)
		wantOpens(t, jf, b, jf.commits)
	})
}

// TestJournalDamageUnsynced damages records that were never synced: a
// killed process's last commits with DurabilityNone. Recovery may cut there
// (a power loss could have lost them), and keeps every synced commit; the
// synced record before them is damage.
func TestJournalDamageUnsynced(t *testing.T) {
	const unsynced = 5
	jf := buildJournalFile(t, 200, unsynced)
	last := jf.last()
	firstUnsynced := last - unsynced + 1
	for _, hint := range []bool{true, false} {
		t.Run(fmt.Sprint("hint ", hint), func(t *testing.T) {
			for _, i := range []int{last, firstUnsynced + 2, firstUnsynced} {
				b := bytes.Clone(jf.b)
				b[jf.recs[i].off+format.RecordFrameSize+20] ^= 0x10
				if !hint {
					noHint(b)
				}
				wantOpens(t, jf, b, jf.commits-(last-i+1))
			}
			b := bytes.Clone(jf.b)
			b[jf.recs[firstUnsynced-1].off+format.RecordFrameSize+20] ^= 0x10
			if !hint {
				noHint(b)
			}
			wantCorrupt(t, b, jf.recs[firstUnsynced-1])
		})
	}
}

// TestJournalTornTail is the torn write of a power loss: of a group of
// unsynced records written at once, a sector in the middle of the first is
// lost and the rest kept whole. The records after it are valid and continue
// its stored checksum, but none claims it synced: recovery cuts it and them,
// without an error, and keeps every synced commit.
func TestJournalTornTail(t *testing.T) {
	const unsynced = 6
	jf := buildJournalFile(t, 120, unsynced)
	first := jf.last() - unsynced + 1
	for _, hint := range []bool{true, false} {
		r := jf.recs[first]
		b := bytes.Clone(jf.b)
		// Lose the body after the frame and the fixed fields, as a sector
		// that never reached the disk, in a journal extent recycled from
		// data (stale bytes, not zeros).
		for i := r.off + format.RecordFrameSize + 24; i < r.off+int64(r.size); i++ {
			b[i] = byte(i * 7)
		}
		if !hint {
			noHint(b)
		}
		wantOpens(t, jf, b, jf.synced)
	}
}

// openCommitted opens a store on fs and commits n records to t/0.
func openCommitted(t *testing.T, fs vfs.FS, n int) *Store {
	t.Helper()
	s, err := Open("f", journalOpts(fs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch(fmt.Sprint("r", i), 1)}}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// damageMiddle flips a bit in the body of a journal record in the middle of
// the file on fs, under the stores that have it open, and returns the record.
func damageMiddle(t *testing.T, fs vfs.FS) journalRec {
	t.Helper()
	recs := journalRecords(t, crashFileBytes(t, fs, "f"))
	r := recs[len(recs)/2]
	f, err := fs.Open("f", false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var one [1]byte
	if _, err := f.ReadAt(one[:], r.off+format.RecordFrameSize+20); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 0x10
	if _, err := f.WriteAt(one[:], r.off+format.RecordFrameSize+20); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheckJournalDamage damages the journal of a file while a store has it
// open: Check reports the record as a problem wrapping ErrCorrupt, with the
// journal extent, byte and LSN.
func TestCheckJournalDamage(t *testing.T) {
	fs := vfs.NewMem()
	s := openCommitted(t, fs, 50)
	defer s.Close()
	if r, err := s.Check(ctx, nil); err != nil || len(r.Problems) != 0 {
		t.Fatalf("undamaged: %v %v", err, r.Problems)
	}
	r := damageMiddle(t, fs)
	rep, err := s.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 {
		t.Fatalf("check found %d problems, want 1: %v", len(rep.Problems), rep.Problems)
	}
	p := rep.Problems[0]
	if !errors.Is(p.Err, ErrCorrupt) || p.Topic != "" || p.Extent != r.extent || p.Offset != int64(r.pos) || p.LSN != r.lsn {
		t.Fatalf("problem %+v, want journal extent %d byte %d record %d wrapping ErrCorrupt", p, r.extent, r.pos, r.lsn)
	}
	if want := fmt.Sprintf("journal extent %d byte %d record %d: ", r.extent, r.pos, r.lsn); !strings.HasPrefix(p.String(), want) {
		t.Fatalf("problem reads %q, want it to start %q", p, want)
	}
}

// TestLookPastClaims checks what records found past the end of a journal
// prove: records that claim no sync as far as the end (what a torn tail
// leaves, and the tail a recovery cut) are no evidence, and the file opens
// with everything; records that do, or that continue the chain after a
// damaged record, are.
func TestLookPastClaims(t *testing.T) {
	jf := buildJournalFile(t, 60, 0)
	last := jf.recs[len(jf.recs)-1]
	end := last.off + int64(last.size)
	next := journalRec{lsn: last.lsn + 1, extent: last.extent, pos: last.pos + uint32(last.size)}
	// records returns 20 records with the LSNs this chain would have next,
	// continuing checksum prev, each claiming synced what claim says.
	records := func(prev uint32, claim func(lsn uint64) uint64) []byte {
		var b []byte
		for lsn := last.lsn + 1; lsn <= last.lsn+20; lsn++ {
			b, prev = format.AppendRecord(b, prev, lsn, claim(lsn), 0, format.AppendOp(nil, format.ProducerExpire{Until: 1}))
		}
		return b
	}
	img := func(at int64, b []byte, damage bool) []byte {
		img := bytes.Clone(jf.b)
		if need := int(at) + len(b); need > len(img) {
			img = append(img, make([]byte, need-len(img))...)
		}
		copy(img[at:], b)
		if damage {
			img[end+format.RecordFrameSize+20] ^= 1
		}
		noHint(img)
		return img
	}
	stored := binary.LittleEndian.Uint32(jf.b[last.off+4:])
	unsynced := func(uint64) uint64 { return last.lsn }
	synced := func(lsn uint64) uint64 { return lsn - 1 }
	// Found by the free scan, two records vouching for each other.
	wantOpens(t, jf, img(end+40, records(12345, unsynced), false), jf.commits)
	wantCorrupt(t, img(end+40, records(12345, synced), false), next)
	// Continuing this chain: the first of them does not decode.
	wantOpens(t, jf, img(end, records(stored, unsynced), true), jf.commits)
	wantCorrupt(t, img(end, records(stored, synced), true), next)
}

// TestJournalDamageLastData damages the batch the last commit appended. A
// synced commit carries its batches in its record (AppendData): a read-write
// open writes them back, a read-only one refuses with ErrReadOnly. An
// unsynced one is cut, as a commit that did not reach the disk whole.
func TestJournalDamageLastData(t *testing.T) {
	for _, unsynced := range []int{0, 1} {
		jf := buildJournalFile(t, 50, unsynced)
		r := jf.recs[jf.last()]
		// The last record's Append, read from an undamaged open.
		s, err := openDamaged(t, jf.b, true)
		if err != nil {
			t.Fatal(err)
		}
		var ap format.Append
		carried := false
		s.catchMu.Lock()
		_, err = s.readJournal(s.meta, math.MaxUint64, func(_, _ chainPos, x format.Record) {
			for or := format.NewOpReader(x.Ops); ; {
				op, err := or.Next()
				if op == nil || err != nil {
					break
				}
				if x.LSN != r.lsn {
					continue
				}
				switch a := op.(type) {
				case format.Append:
					ap = a
				case format.AppendData:
					ap, carried = a.Append, true
				}
			}
		})
		s.catchMu.Unlock()
		s.Close()
		if err != nil || ap.End == 0 {
			t.Fatalf("no Append in the last record (%v)", err)
		}
		b := bytes.Clone(jf.b)
		b[format.ExtentOffset(ap.Extent, format.MinExtentSize)+format.ExtentHeaderSize+int64(ap.End)-3] ^= 0x04
		if carried != (unsynced == 0) {
			t.Fatalf("unsynced %d: the last record carries its batches: %v", unsynced, carried)
		}
		if unsynced == 1 {
			wantOpens(t, jf, b, jf.commits-1)
			continue
		}
		if _, err := openDamaged(t, b, true); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), fmt.Sprintf("extent %d ", ap.Extent)) {
			t.Fatalf("read-only: %v, want ErrReadOnly naming extent %d", err, ap.Extent)
		}
		wantOpens(t, jf, b, jf.commits)
	}
}

// TestJournalDamageNotAlone opens a file whose journal was damaged while
// another process has it open: the opener does not recover, it loads what
// the other published, and the chain stopping short of that is ErrCorrupt.
func TestJournalDamageNotAlone(t *testing.T) {
	fs := vfs.NewMem()
	s := openCommitted(t, fs, 30)
	defer s.Close()
	r := damageMiddle(t, fs)
	for _, ro := range []bool{true, false} {
		opts := journalOpts(fs)
		opts.ReadOnly = ro
		s2, err := Open("f", opts)
		if err == nil {
			_, hwm, _ := s2.Offsets("t", 0)
			s2.Close()
			t.Fatalf("read-only %v: opened beside a store with a damaged journal; t/0 ends at %d", ro, hwm)
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("journal record %d ", r.lsn)) {
			t.Fatalf("read-only %v: %v, want ErrCorrupt naming record %d", ro, err, r.lsn)
		}
	}
}

// TestNextIn compares nextIn, which reads words, with a byte-at-a-time scan
// on buffers of zeros, random bytes and planted values.
func TestNextIn(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 9))
	naive := func(b []byte, from int, lo, span uint64) int {
		for i := from; i+8 <= len(b); i++ {
			if binary.LittleEndian.Uint64(b[i:])-lo < span {
				return i
			}
		}
		return -1
	}
	for range 2000 {
		b := make([]byte, rng.IntN(200))
		switch rng.IntN(3) {
		case 0: // zeros
		case 1:
			for i := range b {
				b[i] = byte(rng.IntN(4)) // small values, many zeros
			}
		case 2:
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		}
		lo, span := uint64(rng.IntN(1000)), uint64(1+rng.IntN(300))
		if rng.IntN(3) == 0 && len(b) >= 8 {
			binary.LittleEndian.PutUint64(b[rng.IntN(len(b)-7):], lo+uint64(rng.IntN(int(span))))
		}
		from := rng.IntN(len(b) + 1)
		if got, want := nextIn(b, from, lo, span), naive(b, from, lo, span); got != want {
			t.Fatalf("nextIn(%x, %d, %d, %d) = %d, want %d", b, from, lo, span, got, want)
		}
	}
}
