package store

// Durability tests: power loss and kill -9 simulated on vfs.Mem at random
// points of a concurrent workload, real processes killed with SIGKILL, and
// unit tests of checkpoints, retention and damaged files.
//
// Every randomised test logs its seed; replay one with -seed=N or
// SPOOL_SEED=N. Run the long versions with -soak or SPOOL_SOAK=1.

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

var (
	soakFlag = flag.Bool("soak", false, "run the long crash and multi-process soaks (or SPOOL_SOAK=1)")
	seedFlag = flag.Uint64("seed", 0, "seed for the randomised crash tests (or SPOOL_SEED=N); 0 picks one")
)

func soak() bool { return *soakFlag || os.Getenv("SPOOL_SOAK") == "1" }

// rounds returns normal, or long under -soak.
func rounds(normal, long int) int {
	if soak() {
		return long
	}
	return normal
}

// testSeed returns the seed to use and logs it.
func testSeed(t testing.TB) uint64 {
	seed := *seedFlag
	if v := os.Getenv("SPOOL_SEED"); seed == 0 && v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SPOOL_SEED=%q: %v", v, err)
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test -run '^%s$' -seed=%d ./internal/store/)", seed, t.Name(), seed)
	return seed
}

// countingHandler discards log records but counts the warnings, which is how
// recovery reports that it cut the journal.
// The last warning is kept, to explain a failure.
type countingHandler struct {
	warnings *atomic.Int64
	last     *atomic.Pointer[string]
}

func newCountingHandler() countingHandler {
	return countingHandler{new(atomic.Int64), new(atomic.Pointer[string])}
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warnings.Add(1)
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += " " + a.String()
			return true
		})
		h.last.Store(&msg)
	}
	return nil
}

// lastWarning returns the last warning logged, if any.
func (h countingHandler) lastWarning() string {
	if p := h.last.Load(); p != nil {
		return *p
	}
	return ""
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// valuesBatch builds one batch holding vals, all with timestamp ts (Unix ms).
func valuesBatch(ts int64, vals []string) []byte {
	var bb format.BatchBuilder
	bb.Reset(ts)
	for _, v := range vals {
		bb.Append(ts, nil, []byte(v))
	}
	return bb.Build(nil)
}

// logRec is one record read back.
type logRec struct {
	off int64
	val string
}

// readLog reads a partition's whole log, from its log start to its high
// watermark, and checks its shape: the batches are valid and contiguous, the
// first holds the log start, the last ends at the high watermark, and every
// record carries the offset its position gives it. A concurrent retention or
// DeleteRecords that moves the log start under the read makes it start over.
func readLog(s *Store, topic string, part int32) (recs []logRec, logStart, hwm int64, err error) {
	for attempt := 0; ; attempt++ {
		recs, logStart, hwm, err = readLogOnce(s, topic, part)
		if err == nil || !errors.Is(err, ErrOffsetOutOfRange) || attempt == 100 {
			return recs, logStart, hwm, err
		}
	}
}

func readLogOnce(s *Store, topic string, part int32) ([]logRec, int64, int64, error) {
	logStart, hwm, err := s.Offsets(topic, part)
	if err != nil {
		return nil, 0, 0, err
	}
	if logStart > hwm {
		return nil, 0, 0, fmt.Errorf("%s/%d: log start %d past the high watermark %d", topic, part, logStart, hwm)
	}
	var recs []logRec
	next := int64(-1) // the base offset the next batch must have
	for from := logStart; from < hwm; from = next {
		f, err := s.Read(topic, part, from, 256<<10, nil)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%s/%d: read at %d: %w", topic, part, from, err)
		}
		if len(f.Batches) == 0 {
			return nil, 0, 0, fmt.Errorf("%s/%d: no batches at %d, below the high watermark %d", topic, part, from, hwm)
		}
		for b := f.Batches; len(b) > 0; {
			one, rest, err := format.NextBatch(b)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("%s/%d: batch at %d: %v", topic, part, from, err)
			}
			h, err := format.ValidateBatch(one)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("%s/%d: batch at %d: %v", topic, part, from, err)
			}
			switch {
			case next < 0 && (h.BaseOffset > from || h.LastOffset() < from):
				return nil, 0, 0, fmt.Errorf("%s/%d: read at the log start %d returned a batch of [%d, %d]", topic, part, from, h.BaseOffset, h.LastOffset())
			case next >= 0 && h.BaseOffset != next:
				return nil, 0, 0, fmt.Errorf("%s/%d: batch at %d follows one that ended before %d: offsets not contiguous", topic, part, h.BaseOffset, next)
			case h.LastOffset() >= hwm:
				return nil, 0, 0, fmt.Errorf("%s/%d: batch [%d, %d] runs past the high watermark %d", topic, part, h.BaseOffset, h.LastOffset(), hwm)
			}
			it, err := format.NewRecordIter(one)
			if err != nil {
				return nil, 0, 0, err
			}
			var r format.BatchRecord
			want := h.BaseOffset
			for it.Next(&r) {
				if r.Offset != want {
					return nil, 0, 0, fmt.Errorf("%s/%d: record at %d in a batch, want %d", topic, part, r.Offset, want)
				}
				if r.Offset >= logStart {
					recs = append(recs, logRec{off: r.Offset, val: string(r.Value)})
				}
				want++
			}
			if it.Err() != nil || want != h.LastOffset()+1 {
				return nil, 0, 0, fmt.Errorf("%s/%d: batch at %d: records end at %d, want %d: %v", topic, part, h.BaseOffset, want, h.LastOffset()+1, it.Err())
			}
			next = h.LastOffset() + 1
			b = rest
		}
		if f.HighWatermark < hwm {
			return nil, 0, 0, fmt.Errorf("%s/%d: high watermark went back from %d to %d", topic, part, hwm, f.HighWatermark)
		}
	}
	return recs, logStart, hwm, nil
}

// ---------------------------------------------------------------------------
// Power loss and kill -9 on vfs.Mem.

// The workload of the crash rounds. Each worker is one goroutine committing
// one thing at a time, so its commits reach the journal in the order it made
// them, and what a crash leaves of them is a prefix. Every commit gets the
// next number of its worker's sequence, and every record says whose commit
// and which part of it it is.
//
//   - txn: appends to one or two partitions of a and b and the group offset
//     of g<worker> on a/0 set to the commit's number, in one Txn (a and b
//     have no retention; the test deletes their older records between
//     rounds, once it knows their offsets);
//   - rapp: an append to r, whose retention.bytes is small, so that its extents
//     are freed and reused all the time.
//
// Between them, a worker creates, fills and deletes its topic tmp<worker>,
// alters r's retention and calls DeleteRecords on r.
const (
	pcWorkers = 3
	pcGroupOf = "g%d"
)

type pcTP struct {
	topic string
	part  int32
}

var pcTxnPartitions = []pcTP{{"a", 0}, {"a", 1}, {"b", 0}, {"b", 1}, {"b", 2}}

// pcAppend is one Append of a commit.
type pcAppend struct {
	tp   pcTP
	n    int
	base int64 // the first offset; -1 until known
}

type pcCommit struct {
	seq     int
	appends []pcAppend
	offset  bool // the commit also sets g<worker>'s offset on a/0 to seq
	dur     Durability
}

// pcID names a record: worker, commit, append and record within it.
type pcID struct{ w, seq, j, i int }

func (id pcID) value(rng *rand.Rand) string {
	return fmt.Sprintf("w%d.s%d.j%d.i%d.%s", id.w, id.seq, id.j, id.i, strings.Repeat("x", rng.IntN(200)))
}

func parseID(v string) (pcID, bool) {
	var id pcID
	f := strings.SplitN(v, ".", 5)
	return id, len(f) == 5 && parseTagged(f, "wsji", &id.w, &id.seq, &id.j, &id.i)
}

// parseTagged parses fields[k] as the letter tags[k] followed by a number
// into *into[k].
func parseTagged(fields []string, tags string, into ...*int) bool {
	for k, p := range into {
		if len(fields[k]) < 2 || fields[k][0] != tags[k] {
			return false
		}
		n, err := strconv.Atoi(fields[k][1:])
		if err != nil {
			return false
		}
		*p = n
	}
	return true
}

type pcWorker struct {
	id  int
	rng *rand.Rand

	// Owned by the worker goroutine while it runs, by the test after.
	commits []*pcCommit // submitted and not lost, by seq
	bySeq   map[int]*pcCommit
	lost    map[int]bool // submitted, then lost in a crash
	nextSeq int
	durable int // every commit up to it survived a recovery
	lastTxn int // the last of them that committed an offset
	tmp     bool

	// Under pcModel.mu: acknowledgements, snapshotted at the crash.
	lastAcked, lastSyncAcked int
	tmpAcked, tmpInflight    bool

	// As of the crash.
	crashAcked, crashSyncAcked int
	crashTmp, crashTmpInflight bool
}

type pcModel struct {
	t       *testing.T
	clean   bool
	mu      sync.Mutex
	workers []*pcWorker
	acks    chan struct{}
}

func newPCModel(t *testing.T, clean bool) *pcModel {
	m := &pcModel{t: t, clean: clean}
	for w := range pcWorkers {
		m.workers = append(m.workers, &pcWorker{id: w, bySeq: map[int]*pcCommit{}, lost: map[int]bool{}, nextSeq: 1})
	}
	return m
}

func (m *pcModel) setup(s *Store) {
	t := m.t
	t.Helper()
	keep := []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}
	for _, c := range []struct {
		name string
		n    int
	}{{"a", 2}, {"b", 3}, {"r", 2}} {
		if err := s.CreateTopic(ctx, c.name, c.n, keep); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AlterTopic(ctx, "r", []format.ConfigEntry{{Name: ConfigRetentionBytes, Value: "4096"}}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Topic("r")
	if err != nil || info.Config.RetentionBytes != 4096 || info.Config.RetentionMs != -1 {
		t.Fatalf("r after AlterTopic: %+v, %v", info.Config, err)
	}
}

func (m *pcModel) durability(rng *rand.Rand) Durability {
	switch n := rng.IntN(100); {
	case n < 70:
		return DurabilitySync
	case n < 85:
		return DurabilityInterval
	default:
		return DurabilityNone
	}
}

// run runs worker w's workload on s until stop is closed.
func (m *pcModel) run(w *pcWorker, s *Store, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := m.step(w, s); err != nil {
			m.t.Errorf("worker %d: %v", w.id, err)
			return
		}
	}
}

func (m *pcModel) step(w *pcWorker, s *Store) error {
	rng := w.rng
	now := time.Now().UnixMilli()
	switch n := rng.IntN(100); {
	case n < 3:
		return m.tmpOp(w, s)
	case n < 4:
		v := []string{"2048", "4096", "16384"}[rng.IntN(3)]
		return s.AlterTopic(ctx, "r", []format.ConfigEntry{{Name: ConfigRetentionBytes, Value: v}})
	case n < 6:
		p := int32(rng.IntN(2))
		ls, hwm, err := s.Offsets("r", p)
		if err != nil {
			return err
		}
		if hwm > ls {
			to := ls + rng.Int64N(hwm-ls+1)
			got, err := s.DeleteRecords(ctx, "r", p, to)
			if err != nil || got < to { // retention may have moved it further
				return fmt.Errorf("DeleteRecords(r/%d, %d) = %d, %v", p, to, got, err)
			}
		}
		return nil
	}
	c := &pcCommit{seq: w.nextSeq, dur: m.durability(rng)}
	w.nextSeq++
	txn := &Txn{Durability: c.dur}
	if rng.IntN(100) < 30 {
		c.appends = []pcAppend{{tp: pcTP{"r", int32(rng.IntN(2))}, n: 1 + rng.IntN(3), base: -1}}
	} else {
		c.offset = true
		for _, k := range rng.Perm(len(pcTxnPartitions))[:1+rng.IntN(2)] {
			c.appends = append(c.appends, pcAppend{tp: pcTxnPartitions[k], n: 1 + rng.IntN(4), base: -1})
		}
		txn.Offsets = []Offset{{Group: fmt.Sprintf(pcGroupOf, w.id), Topic: "a", Partition: 0, Offset: int64(c.seq), Metadata: strconv.Itoa(c.seq)}}
	}
	for j, a := range c.appends {
		vals := make([]string, a.n)
		for i := range vals {
			vals[i] = pcID{w.id, c.seq, j, i}.value(rng)
		}
		txn.Appends = append(txn.Appends, Append{Topic: a.tp.topic, Partition: a.tp.part, Batches: valuesBatch(now, vals)})
	}
	w.commits = append(w.commits, c)
	w.bySeq[c.seq] = c
	res, err := s.Commit(ctx, txn)
	if err != nil {
		return fmt.Errorf("commit %d: %v", c.seq, err)
	}
	for j := range c.appends {
		if got := res[j].LastOffset - res[j].BaseOffset + 1; got != int64(c.appends[j].n) {
			return fmt.Errorf("commit %d append %d: result %+v for %d records", c.seq, j, res[j], c.appends[j].n)
		}
		c.appends[j].base = res[j].BaseOffset
	}
	m.mu.Lock()
	w.lastAcked = c.seq
	if c.dur == DurabilitySync {
		w.lastSyncAcked = c.seq
	}
	m.mu.Unlock()
	select {
	case m.acks <- struct{}{}:
	default:
	}
	return nil
}

// tmpOp creates the worker's topic, appends to it or deletes it.
func (m *pcModel) tmpOp(w *pcWorker, s *Store) error {
	name := fmt.Sprintf("tmp%d", w.id)
	if w.tmp && w.rng.IntN(3) > 0 {
		_, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: name, Batches: valuesBatch(time.Now().UnixMilli(), []string{"tmp", strings.Repeat("t", w.rng.IntN(2000))})}}})
		return err
	}
	m.mu.Lock()
	w.tmpInflight = true
	m.mu.Unlock()
	var err error
	if w.tmp {
		err = s.DeleteTopic(ctx, name)
	} else {
		err = s.CreateTopic(ctx, name, 1+w.rng.IntN(2), nil)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	w.tmp = !w.tmp
	m.mu.Lock()
	w.tmpAcked, w.tmpInflight = w.tmp, false
	m.mu.Unlock()
	return nil
}

// crashed records what was acknowledged when the crash was taken; the caller
// holds m.mu across the crash and this call.
func (m *pcModel) crashed() {
	for _, w := range m.workers {
		w.crashAcked, w.crashSyncAcked = w.lastAcked, w.lastSyncAcked
		w.crashTmp, w.crashTmpInflight = w.tmpAcked, w.tmpInflight
	}
}

// verify checks the store reopened after the crash against the model, and
// brings the model in line with what survived.
func (m *pcModel) verify(s *Store) error {
	type loc struct {
		tp  pcTP
		off int64
	}
	found := map[pcID]loc{}
	hwms := map[pcTP]int64{}
	starts := map[pcTP]int64{}
	for _, tp := range append(slices.Clone(pcTxnPartitions), pcTP{"r", 0}, pcTP{"r", 1}) {
		recs, ls, hwm, err := readLog(s, tp.topic, tp.part)
		if err != nil {
			return err
		}
		hwms[tp], starts[tp] = hwm, ls
		for _, r := range recs {
			id, ok := parseID(r.val)
			if !ok || id.w < 0 || id.w >= len(m.workers) {
				return fmt.Errorf("%s/%d at %d: a record that was never written: %.40q", tp.topic, tp.part, r.off, r.val)
			}
			if prev, dup := found[id]; dup {
				return fmt.Errorf("record %+v at %s/%d:%d and again at %s/%d:%d", id, prev.tp.topic, prev.tp.part, prev.off, tp.topic, tp.part, r.off)
			}
			found[id] = loc{tp, r.off}
			w := m.workers[id.w]
			c := w.bySeq[id.seq]
			switch {
			case c == nil && w.lost[id.seq]:
				return fmt.Errorf("record %+v at %s/%d:%d belongs to a commit lost in an earlier crash", id, tp.topic, tp.part, r.off)
			case c == nil:
				return fmt.Errorf("record %+v at %s/%d:%d belongs to no commit submitted", id, tp.topic, tp.part, r.off)
			case id.j >= len(c.appends) || id.i >= c.appends[id.j].n || c.appends[id.j].tp != tp:
				return fmt.Errorf("record %+v found at %s/%d:%d does not belong there", id, tp.topic, tp.part, r.off)
			}
		}
	}
	for _, w := range m.workers {
		// k is the last commit of w that survived: the prefix up to it did.
		k := w.durable
		for id := range found {
			if id.w == w.id {
				k = max(k, id.seq)
			}
		}
		// A commit whose offsets are known survived if its partition's log
		// reaches them: the log is a prefix of the journal, so no later
		// commit can have taken them.
		for _, c := range w.commits {
			for _, a := range c.appends {
				if a.base >= 0 && hwms[a.tp] > a.base {
					k = max(k, c.seq)
				}
			}
		}
		g, hasG, err := s.CommittedOffset(fmt.Sprintf(pcGroupOf, w.id), "a", 0)
		if err != nil {
			return err
		}
		if hasG {
			// The commit may be forgotten, its records deleted, if it is
			// the last durable one.
			c := w.bySeq[int(g.Offset)]
			if (c == nil || !c.offset) && int(g.Offset) != w.lastTxn || g.Metadata != strconv.Itoa(int(g.Offset)) {
				return fmt.Errorf("worker %d: group offset %+v was never committed", w.id, g)
			}
			k = max(k, int(g.Offset))
		}
		required := w.crashSyncAcked
		if m.clean {
			required = w.crashAcked
		}
		if k < required {
			var b strings.Builder
			for _, c := range w.commits {
				if c.seq > k-3 {
					fmt.Fprintf(&b, "\n  commit %d %v offset %v:", c.seq, c.dur, c.offset)
					for _, a := range c.appends {
						fmt.Fprintf(&b, " %s/%d@%d+%d (log [%d, %d))", a.tp.topic, a.tp.part, a.base, a.n, starts[a.tp], hwms[a.tp])
					}
				}
			}
			return fmt.Errorf("worker %d: commits up to %d survived, but %d was acknowledged (clean %v):%s", w.id, k, required, m.clean, b.String())
		}
		lastTxn := w.lastTxn
		for _, c := range w.commits {
			if c.seq > k {
				if c.offset && hasG && int(g.Offset) == c.seq {
					return fmt.Errorf("worker %d: group offset of lost commit %d survived", w.id, c.seq)
				}
				continue
			}
			if c.offset {
				lastTxn = max(lastTxn, c.seq)
			}
			for j := range c.appends {
				a := &c.appends[j]
				if a.base >= 0 && hwms[a.tp] < a.base+int64(a.n) {
					return fmt.Errorf("worker %d commit %d append %d: offsets [%d, %d) are past %s/%d's high watermark %d, but commit %d survived",
						w.id, c.seq, j, a.base, a.base+int64(a.n), a.tp.topic, a.tp.part, hwms[a.tp], k)
				}
				base := a.base
				for i := range a.n {
					l, ok := found[pcID{w.id, c.seq, j, i}]
					if !ok {
						if base >= 0 && base+int64(i) < starts[a.tp] || base < 0 && a.tp.topic == "r" && starts[a.tp] > 0 {
							// Deleted by retention or DeleteRecords. Only r
							// moves its log start while commits whose
							// offsets are not known may be in it.
							continue
						}
						return fmt.Errorf("worker %d commit %d (of %d surviving, %d acknowledged) append %d record %d is missing from %s/%d (base %d, log [%d, %d))",
							w.id, c.seq, k, w.crashAcked, j, i, a.tp.topic, a.tp.part, base, starts[a.tp], hwms[a.tp])
					}
					if base < 0 {
						base = l.off - int64(i)
					}
					if l.off != base+int64(i) {
						return fmt.Errorf("worker %d commit %d append %d record %d at offset %d, want %d", w.id, c.seq, j, i, l.off, base+int64(i))
					}
				}
				a.base = base
			}
		}
		switch {
		case lastTxn == 0 && hasG:
			return fmt.Errorf("worker %d: group offset %d without a surviving commit", w.id, g.Offset)
		case lastTxn != 0 && (!hasG || int(g.Offset) != lastTxn):
			return fmt.Errorf("worker %d: group offset %+v (present %v), want %d: the offsets of a commit are not atomic with its appends", w.id, g, hasG, lastTxn)
		}
		// The model now holds what survived, durable from here on.
		kept := w.commits[:0]
		for _, c := range w.commits {
			if c.seq <= k {
				kept = append(kept, c)
			} else {
				w.lost[c.seq] = true
				delete(w.bySeq, c.seq)
			}
		}
		w.commits = kept
		w.durable, w.lastTxn = k, lastTxn
		w.lastAcked, w.lastSyncAcked = k, k

		name := fmt.Sprintf("tmp%d", w.id)
		info, err := s.Topic(name)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrUnknownTopic) {
			return err
		}
		if exists != w.crashTmp && !(w.crashTmpInflight && exists == !w.crashTmp) {
			return fmt.Errorf("worker %d: topic %s exists %v; acknowledged %v, in flight %v", w.id, name, exists, w.crashTmp, w.crashTmpInflight)
		}
		for p := range info.Partitions {
			if _, _, _, err := readLog(s, name, int32(p)); err != nil {
				return err
			}
		}
		w.tmp, w.tmpAcked, w.tmpInflight = exists, exists, false
	}
	return nil
}

// trim deletes the older records of a and b, whose offsets are all known by
// now, so that the logs to check stay short and their extents are freed and
// reused, and forgets the commits wholly deleted.
func (m *pcModel) trim(s *Store, rng *rand.Rand) error {
	starts := map[pcTP]int64{}
	for _, tp := range append(slices.Clone(pcTxnPartitions), pcTP{"r", 0}, pcTP{"r", 1}) {
		ls, hwm, err := s.Offsets(tp.topic, tp.part)
		if err != nil {
			return err
		}
		if to := hwm - rng.Int64N(200); to > ls && tp.topic != "r" {
			if ls, err = s.DeleteRecords(ctx, tp.topic, tp.part, to); err != nil {
				return err
			}
		}
		starts[tp] = ls
	}
	for _, w := range m.workers {
		w.commits = slices.DeleteFunc(w.commits, func(c *pcCommit) bool {
			for _, a := range c.appends {
				if a.base < 0 || a.base+int64(a.n) > starts[a.tp] {
					return false
				}
			}
			delete(w.bySeq, c.seq)
			return true
		})
	}
	return nil
}

// checkExtents checks the extent map of the store's state: every extent is
// free, waiting to be, or in use by exactly one owner of its kind (a
// partition's segment, the journal, the checkpoint), and lies in the file.
func checkExtents(s *Store) error {
	size, err := s.f.Size()
	if err != nil {
		return err
	}
	// catchMu first: the writer holds it through a group or a checkpoint,
	// whose extents are taken from the free list before the operation
	// that puts them in use is applied (a checkpoint's, at its end).
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.st
	owner := make([]string, len(st.extents))
	claim := func(e uint32, who string, kind format.ExtentKind) error {
		switch {
		case e >= uint32(len(st.extents)):
			return fmt.Errorf("%s holds extent %d of %d", who, e, len(st.extents))
		case owner[e] != "":
			return fmt.Errorf("extent %d belongs to %s and to %s", e, owner[e], who)
		case kind != format.KindFree && st.extents[e].kind != kind:
			return fmt.Errorf("extent %d of %s is a %s extent", e, who, st.extents[e].kind)
		case kind == format.KindFree && st.extents[e].kind != format.KindFree:
			return fmt.Errorf("extent %d is %s and in use as %s", e, who, st.extents[e].kind)
		}
		owner[e] = who
		return nil
	}
	for _, t := range st.topics {
		for _, p := range t.partitions {
			for _, sg := range p.segments {
				if err := claim(sg.extent, fmt.Sprintf("%s/%d", t.name, p.index), format.KindData); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range st.journal {
		if err := claim(e, "the journal", format.KindJournal); err != nil {
			return err
		}
	}
	for _, e := range st.ckpt {
		if err := claim(e, "the checkpoint", format.KindCheckpoint); err != nil {
			return err
		}
	}
	for _, e := range st.free {
		if err := claim(e, "free", format.KindFree); err != nil {
			return err
		}
	}
	for _, p := range st.pending {
		if err := claim(p.extent, "freed", format.KindFree); err != nil {
			return err
		}
	}
	for e, who := range owner {
		if who == "" {
			return fmt.Errorf("extent %d (%s) is neither free nor in use", e, st.extents[e].kind)
		}
	}
	if end := format.ExtentOffset(uint32(len(st.extents)), s.extentSize); end > size+int64(s.extentSize) {
		return fmt.Errorf("%d extents end at %d, the file at %d", len(st.extents), end, size)
	}
	return nil
}

// runMemCrashRounds runs the workload on vfs.Mem, crashes it at a random
// point of each round and checks what the reopened store holds. With clean,
// the crash is a kill -9 (everything written survives); without, a power
// loss (what was synced survives, the rest in part or torn).
func runMemCrashRounds(t *testing.T, clean bool, procs, n int) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	logh := newCountingHandler()
	logger := slog.New(logh)
	fs := vfs.NewMem()
	opts := func() Options {
		return Options{FS: fs, ExtentSize: format.MinExtentSize, Logger: logger,
			CheckpointBytes: int64(2<<10 + rng.IntN(14<<10)),
			RetentionCheck:  time.Duration(1+rng.IntN(5)) * time.Millisecond,
			SyncInterval:    time.Duration(1+rng.IntN(5)) * time.Millisecond}
	}
	// The first store opens the file alone and recovers it; the others
	// are other processes with it open.
	open := func(round int) []*Store {
		var ss []*Store
		for range procs {
			s, err := Open("f", opts())
			if err != nil {
				t.Fatalf("round %d: open after the crash: %v", round, err)
			}
			ss = append(ss, s)
		}
		return ss
	}
	closeAll := func(ss []*Store) error {
		var errs []error
		for _, s := range ss {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	stores := open(-1)
	m := newPCModel(t, clean)
	m.setup(stores[0])
	for round := range n {
		m.acks = make(chan struct{}, 1<<16)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range m.workers {
			w.rng = rand.New(rand.NewPCG(seed, uint64(round*pcWorkers+w.id+2)))
			wg.Go(func() { m.run(w, stores[w.id%procs], stop) })
		}
		// Crash after a random number of acknowledgements, and then a little
		// later still, so that the crash lands anywhere in a commit.
		target := 1 + rng.IntN(60)
		timeout := time.After(30 * time.Second)
		for range target {
			select {
			case <-m.acks:
			case <-timeout:
				t.Fatalf("round %d: no progress", round)
			}
		}
		for range rng.IntN(500) {
			runtime.Gosched()
		}
		m.mu.Lock()
		var c *vfs.MemFS
		if clean {
			c = fs.CrashClean()
		} else {
			c = fs.Crash(rng)
		}
		m.crashed()
		m.mu.Unlock()
		close(stop)
		wg.Wait()
		closeAll(stores) // on the old FS, which the crash no longer concerns
		if t.Failed() {
			t.FailNow()
		}
		fs = c
		stores = open(round)
		// Read through a process that recovered the file, or one that
		// loaded it after.
		s := stores[round%procs]
		if err := m.verify(s); err != nil {
			closeAll(stores)
			t.Fatalf("round %d: %v\nlast recovery warning: %s", round, err, logh.lastWarning())
		}
		if err := checkExtents(s); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := m.trim(s, rng); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	// A clean close and reopen keeps everything.
	if err := closeAll(stores); err != nil {
		t.Fatal(err)
	}
	s, err := Open("f", opts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, w := range m.workers {
		w.crashAcked, w.crashSyncAcked = w.durable, w.durable
	}
	if err := m.verify(s); err != nil {
		t.Fatalf("after a clean close: %v", err)
	}
	commits := 0
	for _, w := range m.workers {
		commits += w.nextSeq - 1
	}
	size, _ := s.f.Size()
	t.Logf("%d rounds, %d processes, %d commits submitted, recovery cut the journal %d times, file %d KiB", n, procs, commits, logh.warnings.Load(), size>>10)
}

// TestCrashPowerLoss crashes a busy store on vfs.Mem as a power failure would
// (synced writes survive, unsynced ones in any subset, torn at sector
// boundaries) and checks after each recovery that every commit acknowledged
// with DurabilitySync survived at its offsets, that nothing else did but a
// prefix of each worker's commits, that a Txn's appends and offset commit
// survived together or not at all, and that every log is contiguous.
func TestCrashPowerLoss(t *testing.T) {
	runMemCrashRounds(t, false, 1, rounds(200, 5000))
}

// TestCrashKill is TestCrashPowerLoss with the crash of a killed process:
// every commit acknowledged in any durability mode survives.
func TestCrashKill(t *testing.T) {
	runMemCrashRounds(t, true, 1, rounds(100, 2000))
}

// TestCrashPowerLossProcesses is TestCrashPowerLoss with the workers in two
// processes (two Stores on one vfs.MemFS, each with its own locks), which
// take turns at the writer lock, follow each other's commits and both run
// retention and checkpoints.
func TestCrashPowerLossProcesses(t *testing.T) {
	runMemCrashRounds(t, false, 2, rounds(100, 3000))
}

// TestCrashKillProcesses is TestCrashKill with two processes.
func TestCrashKillProcesses(t *testing.T) {
	runMemCrashRounds(t, true, 2, rounds(50, 1000))
}

// errInjected is the failure vfs.MemFS.FailAfter injects.
var errInjected = errors.New("injected I/O error")

// TestCrashReusedExtent is the crash that the first power-loss runs found: a
// commit X appends to extent E and, in the same unclaimed window, a commit F
// frees E and is synced, so that E may be reused. A commit Y reuses E and
// writes its batches over X's, then the process dies before Y's journal
// record is written. Recovery must keep X and F, acknowledged and durable,
// although X's bytes are gone: F made them unreachable.
//
// It kills the writer at every write of Y in turn (vfs.MemFS.FailAfter, then
// CrashClean), and also loses whatever a power failure may lose then.
func TestCrashReusedExtent(t *testing.T) {
	for n := 0; ; n++ {
		fs := vfs.NewMem()
		opts := memOpts(fs)
		opts.RetentionCheck = time.Hour
		opts.CheckpointBytes = 1 << 30
		opts.Logger = slog.New(slog.DiscardHandler)
		s, err := Open("f", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"r", "q"} {
			if err := s.CreateTopic(ctx, name, 1, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Commit(ctx, &Txn{Durability: DurabilityNone, Appends: []Append{{Topic: "r", Batches: batch("x", 1)}}}); err != nil {
			t.Fatal(err)
		}
		if ls, err := s.DeleteRecords(ctx, "r", 0, -1); err != nil || ls != 1 {
			t.Fatalf("DeleteRecords: %d, %v", ls, err)
		}
		if info, _ := s.Topic("r"); info.Partitions[0].Extents != 0 {
			t.Fatalf("r holds %d extents after DeleteRecords", info.Partitions[0].Extents)
		}
		fs.FailAfter(n, errInjected)
		_, yerr := s.Commit(ctx, &Txn{Durability: DurabilityNone, Appends: []Append{{Topic: "q", Batches: batch("y", 3)}}})
		fs.FailAfter(0, nil)
		s.Close()
		t.Logf("fail after %d writes: commit of Y: %v", n, yerr)
		for _, c := range []*vfs.MemFS{fs.CrashClean(), fs.Crash(rand.New(rand.NewPCG(uint64(n), 7)))} {
			opts.FS = c
			s, err := Open("f", opts)
			if err != nil {
				t.Fatalf("fail after %d writes: open: %v", n, err)
			}
			ls, hwm, err := s.Offsets("r", 0)
			if err != nil || ls != 1 || hwm != 1 {
				t.Errorf("fail after %d writes: r's log [%d, %d), %v; want [1, 1): the durable DeleteRecords was lost", n, ls, hwm, err)
			}
			recs, _, hwm, err := readLog(s, "q", 0)
			if err != nil {
				t.Errorf("fail after %d writes: %v", n, err)
			}
			if yerr == nil && (hwm != 3 || len(recs) != 3) {
				t.Errorf("fail after %d writes: q's high watermark %d, want 3", n, hwm)
			}
			s.Close()
		}
		if yerr == nil {
			return // Y committed with no failure: every write was tried
		}
	}
}

// kvAck is one commit a killed child acknowledged.
type kvAck struct {
	topic      string
	part       int32
	base, last int64
	hash       uint64
	g, seq     int
	offset     bool
}

func parseAck(line string) (kvAck, error) {
	var a kvAck
	_, err := fmt.Sscanf(line, "ack %s %d %d %d %x %d %d %t", &a.topic, &a.part, &a.base, &a.last, &a.hash, &a.g, &a.seq, &a.offset)
	return a, err
}

// kvPrefix is the part of a partition's log a round verified: it must stay.
type kvPrefix struct {
	n    int64 // offsets [0, n)
	hash uint64
}

func hashLog(recs []logRec, upto int64) uint64 {
	var vals []string
	for _, r := range recs {
		if r.off < upto {
			vals = append(vals, r.val)
		}
	}
	return hashVals(vals)
}

// TestCrashKill9 runs a writer in a child process, kills it with SIGKILL at
// a random point (after a random number of acknowledged commits, or while it
// opens and recovers the file), and checks that the file holds every commit
// the child acknowledged, at its offsets, with its contents, once, in order,
// with contiguous offsets, and nothing the child did not submit; then goes on
// with the same file. Rounds vary the checkpoint interval (down to 4 KiB) and
// the verifying open (read-only, leaving recovery's repairs to the next
// child, or writable); topic kr has a small retention.bytes.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	path := filepath.Join(t.TempDir(), "kill.spool")
	prefix := map[int32]kvPrefix{}
	krEnd := int64(0) // kr's high watermark as last verified
	n := rounds(20, 500)
	totalAcks := 0
	for round := range n {
		ckpt := []int{0, 4 << 10, 16 << 10}[rng.IntN(3)]
		c := startChild(t, "killwriter", "SPOOL_CHILD_PATH="+path, fmt.Sprint("SPOOL_CHILD_ROUND=", round),
			fmt.Sprint("SPOOL_CHILD_SEED=", rng.Uint32()), fmt.Sprint("SPOOL_CHILD_CKPT=", ckpt),
			fmt.Sprint("SPOOL_CHILD_GOROUTINES=", 1+rng.IntN(4)))
		var acks []kvAck
		read := func(line string) {
			switch {
			case strings.HasPrefix(line, "ack "):
				a, err := parseAck(line)
				if err != nil {
					t.Fatalf("round %d: %q: %v", round, line, err)
				}
				acks = append(acks, a)
			case strings.HasPrefix(line, "error "):
				t.Fatalf("round %d: child: %s", round, line)
			}
		}
		target := -1
		if rng.IntN(8) == 0 || round == 0 && rng.IntN(2) == 0 {
			// Kill it while it opens (and perhaps recovers, or creates)
			// the file.
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		} else {
			c.expect("ready", time.Minute)
			target = rng.IntN(400)
			for len(acks) < target {
				line, ok := c.next(time.Minute)
				if !ok {
					t.Fatalf("round %d: child stopped after %d acks: %s", round, len(acks), c.stderr())
				}
				read(line)
			}
		}
		c.kill()
		for line := range c.lines {
			read(line)
		}
		c.wait()
		totalAcks += len(acks)

		readOnly := rng.IntN(2) == 0
		opts := Options{ReadOnly: readOnly, NoCreate: true, Logger: slog.New(slog.DiscardHandler)}
		if round == 0 && len(acks) == 0 {
			// Killed while it created the file, the child may have left no
			// file, an empty one, or one of zeros: a writable open makes it
			// a spool file, which the next child finds.
			opts.ReadOnly, opts.NoCreate = false, false
		}
		s, err := Open(path, opts)
		if err != nil {
			t.Fatalf("round %d (read-only %v, %d acks): open: %v", round, opts.ReadOnly, len(acks), err)
		}
		_, errK := s.Topic("k")
		_, errKR := s.Topic("kr")
		if (errors.Is(errK, ErrUnknownTopic) || errors.Is(errKR, ErrUnknownTopic)) && len(acks) == 0 {
			// Killed before it created its topics (or between the two):
			// nothing to verify.
			if err := s.Close(); err != nil {
				t.Fatalf("round %d: close: %v", round, err)
			}
			continue
		}
		if err := verifyKill(s, round, acks, prefix, &krEnd); err != nil {
			s.Close()
			t.Fatalf("round %d (checkpoint bytes %d, kill after %d acks, read-only %v): %v", round, ckpt, target, readOnly, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds, %d commits acknowledged and found, file %d KiB", n, totalAcks, fi.Size()>>10)
}

func verifyKill(s *Store, round int, acks []kvAck, prefix map[int32]kvPrefix, krEnd *int64) error {
	type tp struct {
		topic string
		part  int32
	}
	type loc struct {
		tp  tp
		off int64
	}
	logs := map[tp][]logRec{}
	starts := map[tp]int64{}
	found := map[kvID]loc{}
	lastSeq := map[int]int{} // this round's goroutines: the highest commit found or acknowledged
	lastAck := map[int]int{} // the highest acknowledged
	lastOff := map[int]int{} // the highest acknowledged with an offset commit
	seqs := map[int][]bool{} // which of this round's commits are there
	for _, a := range acks {
		lastAck[a.g] = max(lastAck[a.g], a.seq)
		if a.offset {
			lastOff[a.g] = max(lastOff[a.g], a.seq)
		}
	}
	for _, x := range []tp{{"k", 0}, {"k", 1}, {"k", 2}, {"kr", 0}} {
		recs, ls, hwm, err := readLog(s, x.topic, x.part)
		if err != nil {
			return err
		}
		logs[x], starts[x] = recs, ls
		order := map[[2]int]kvID{} // the last record of each round and goroutine
		for _, r := range recs {
			id, ok := parseKV(r.val)
			switch {
			case !ok || id.round > round:
				return fmt.Errorf("%s/%d at %d: a record never written: %.40q", x.topic, x.part, r.off, r.val)
			case id.round < round && x.topic == "k" && r.off >= prefix[x.part].n:
				return fmt.Errorf("%s/%d at %d: record %v of an earlier round past the %d records then", x.topic, x.part, r.off, id, prefix[x.part].n)
			case id.round < round && x.topic == "kr" && r.off >= *krEnd:
				return fmt.Errorf("%s/%d at %d: record %v of an earlier round past the %d records then", x.topic, x.part, r.off, id, *krEnd)
			}
			if l, dup := found[id]; dup {
				return fmt.Errorf("record %v at %s/%d:%d and %s/%d:%d", id, l.tp.topic, l.tp.part, l.off, x.topic, x.part, r.off)
			}
			found[id] = loc{x, r.off}
			k := [2]int{id.round, id.g}
			if prev, ok := order[k]; ok && (id.seq < prev.seq || id.seq == prev.seq && id.i != prev.i+1) {
				return fmt.Errorf("%s/%d at %d: %v after %v: out of order", x.topic, x.part, r.off, id, prev)
			}
			order[k] = id
			if id.round == round {
				lastSeq[id.g] = max(lastSeq[id.g], id.seq)
				for len(seqs[id.g]) <= id.seq {
					seqs[id.g] = append(seqs[id.g], false)
				}
				seqs[id.g][id.seq] = true
			}
		}
		if x.topic == "k" {
			if p := prefix[x.part]; p.n > 0 && (p.n > hwm || hashLog(recs, p.n) != p.hash) {
				return fmt.Errorf("k/%d: the first %d records changed since the last round (now %d)", x.part, p.n, hwm)
			}
		} else {
			*krEnd = hwm
		}
	}
	for _, a := range acks {
		x := tp{a.topic, a.part}
		recs, ls := logs[x], starts[x]
		for len(seqs[a.g]) <= a.seq {
			seqs[a.g] = append(seqs[a.g], false)
		}
		seqs[a.g][a.seq] = true
		lastSeq[a.g] = max(lastSeq[a.g], a.seq)
		if a.last < ls {
			continue // deleted by retention
		}
		var vals []string
		for off := a.base; off <= a.last; off++ {
			id := kvID{round, a.g, a.seq, int(off - a.base)}
			l, ok := found[id]
			switch {
			case !ok && off >= ls:
				return fmt.Errorf("acknowledged commit %+v: record %v missing (log of %s/%d starts at %d)", a, id, a.topic, a.part, ls)
			case ok && l != (loc{x, off}):
				return fmt.Errorf("acknowledged commit %+v: record %v at %s/%d:%d", a, id, l.tp.topic, l.tp.part, l.off)
			case ok:
				vals = append(vals, recs[off-ls].val)
			}
		}
		if a.base >= ls && hashVals(vals) != a.hash {
			return fmt.Errorf("acknowledged commit %+v: the records differ", a)
		}
	}
	for g, last := range lastSeq {
		// One goroutine commits one thing at a time: what survived is its
		// acknowledged commits and perhaps the one it was making.
		if last > lastAck[g]+1 {
			return fmt.Errorf("goroutine %d: commit %d survived, only %d were acknowledged", g, last, lastAck[g])
		}
		for seq := 1; seq <= last; seq++ {
			if !seqs[g][seq] && seq <= lastAck[g] {
				return fmt.Errorf("goroutine %d: commit %d is missing", g, seq)
			}
		}
	}
	for g := range lastSeq {
		c, ok, err := s.CommittedOffset(fmt.Sprintf("c%dg%d", round, g), "k", 0)
		if err != nil {
			return err
		}
		switch {
		case lastOff[g] > 0 && (!ok || int(c.Offset) < lastOff[g]):
			return fmt.Errorf("goroutine %d: committed offset %d (present %v), %d was acknowledged", g, c.Offset, ok, lastOff[g])
		case ok && int(c.Offset) > lastAck[g]+1:
			return fmt.Errorf("goroutine %d: committed offset %d was never committed", g, c.Offset)
		case ok && int(c.Offset) > lastSeq[g]:
			return fmt.Errorf("goroutine %d: committed offset %d survived without its records", g, c.Offset)
		}
	}
	for p := range int32(3) {
		recs := logs[tp{"k", p}]
		prefix[p] = kvPrefix{n: int64(len(recs)), hash: hashLog(recs, int64(len(recs)))}
	}
	return checkExtents(s)
}

// ---------------------------------------------------------------------------
// Unit tests of checkpoints, retention, deletion and damaged files.

// storeSnapshot describes everything a store holds that a reader can see: topics
// with their configurations and partitions' offsets and idempotent producers,
// every record, and every group's offsets.
func storeSnapshot(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	topics, err := s.Topics()
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range topics {
		fmt.Fprintf(&b, "topic %s id %d created %d config %+v overrides %v\n", ti.Name, ti.ID, ti.Created, ti.Config, ti.Overrides)
		for _, p := range ti.Partitions {
			fmt.Fprintf(&b, "  partition %+v\n", p)
			ps, err := s.Producers(ti.Name, p.Partition)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  producers %+v\n", ps)
			recs, _, _, err := readLog(s, ti.Name, p.Partition)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				fmt.Fprintf(&b, "    %d %s\n", r.off, r.val)
			}
		}
	}
	groups, err := s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		offs, err := s.GroupOffsets(g)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "group %s %+v\n", g, offs)
	}
	return b.String()
}

// TestCheckpointReopen builds a state with every kind of operation (but
// ProducerExpire, see TestProducerExpiration), then
// checks that it reads back identical after reopening from the journal alone
// (a kill -9, so no checkpoint at close), from a checkpoint taken while
// running, and from the checkpoint Close takes.
func TestCheckpointReopen(t *testing.T) {
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.RetentionCheck = time.Hour
	opts.CheckpointBytes = 1 << 30
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTopic(ctx, "plain", 3, nil))
	must(s.CreateTopic(ctx, "conf", 2, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}, {Name: ConfigMaxMessageBytes, Value: "30000"}}))
	must(s.AlterTopic(ctx, "conf", []format.ConfigEntry{{Name: ConfigRetentionBytes, Value: "100000"}, {Name: ConfigTimestampType, Value: "LogAppendTime"}}))
	must(s.CreateTopic(ctx, "gone", 1, nil))
	now := time.Now().UnixMilli()
	// Idempotent producers: one per partition of plain, and two, one
	// of them in a second epoch, across the partitions of gone and conf.
	var pids []ProducerID
	for range 3 {
		id, err := s.InitProducer(ctx)
		must(err)
		pids = append(pids, id)
	}
	seqs := map[ProducerID]map[string]int32{}
	for i := range 300 {
		for _, tp := range []struct {
			topic string
			part  int32
		}{{"plain", int32(i % 3)}, {"conf", int32(i % 2)}, {"gone", 0}} {
			vals := []string{fmt.Sprintf("%s-%d-%s", tp.topic, i, strings.Repeat("v", 1000+i%700*2))}
			b := valuesBatch(now, vals)
			if i%4 != 3 {
				id := pids[(i+int(tp.part))%3]
				if i >= 200 && id == pids[2] {
					id.Epoch = 1
				}
				if seqs[id] == nil {
					seqs[id] = map[string]int32{}
				}
				where := fmt.Sprint(tp.topic, tp.part)
				var bb format.BatchBuilder
				bb.Reset(now)
				bb.SetProducer(id.ID, id.Epoch, seqs[id][where])
				bb.Append(now, nil, []byte(vals[0]))
				b = bb.Build(nil)
				seqs[id][where]++
			}
			txn := &Txn{Appends: []Append{{Topic: tp.topic, Partition: tp.part, Batches: b}}}
			if i%7 == 0 {
				txn.Offsets = []Offset{{Group: fmt.Sprint("g", i%3), Topic: tp.topic, Partition: tp.part, Offset: int64(i), LeaderEpoch: int32(i), Metadata: fmt.Sprint("m", i)}}
			}
			if _, err := s.Commit(ctx, txn); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A log start inside an extent, a partition emptied, a topic and a
	// group deleted.
	if _, err := s.DeleteRecords(ctx, "plain", 0, 57); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRecords(ctx, "plain", 1, -1); err != nil {
		t.Fatal(err)
	}
	must(s.DeleteTopic(ctx, "gone"))
	must(s.DeleteGroup(ctx, "g1"))
	info, err := s.Topic("plain")
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Partitions[1]; p.Extents != 0 || p.LogStartOffset != p.HighWatermark || p.HighWatermark != 100 {
		t.Fatalf("plain/1 after DeleteRecords(-1): %+v", p)
	}
	if p := info.Partitions[0]; p.LogStartOffset != 57 || p.Extents < 2 {
		t.Fatalf("plain/0 after DeleteRecords(57): %+v", p)
	}
	want := storeSnapshot(t, s)
	reopen := func(what string, fs vfs.FS) *Store {
		t.Helper()
		o := opts
		o.FS = fs
		s, err := Open("f", o)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := storeSnapshot(t, s); got != want {
			t.Fatalf("%s: the state differs:\n%s", what, crashLineDiff(want, got))
		}
		return s
	}
	if s.meta.CheckpointExtent != format.NoExtent {
		t.Fatalf("checkpointed already, at %d", s.meta.CheckpointLSN)
	}
	// A kill -9 now leaves a journal and no checkpoint.
	fsA, fsB := fs.CrashClean(), fs.CrashClean()
	s.Close()
	s = reopen("replay of the journal", fsA)
	if s.meta.CheckpointExtent != format.NoExtent {
		t.Fatalf("checkpointed at open, at %d", s.meta.CheckpointLSN)
	}
	s.Close()

	// A checkpoint while running: every commit checkpoints.
	opts.CheckpointBytes = 1
	s = reopen("replay of the journal", fsB)
	if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "plain", Partition: 2, Batches: valuesBatch(now, []string{"after"})}},
		Offsets: []Offset{{Group: "g2", Topic: "conf", Partition: 1, Offset: 1}}}); err != nil {
		t.Fatal(err)
	}
	if s.meta.CheckpointExtent == format.NoExtent {
		t.Fatal("no checkpoint")
	}
	want = storeSnapshot(t, s)
	fsC, fsD := fsB.CrashClean(), fsB.CrashClean()
	s.Close()
	opts.CheckpointBytes = 1 << 30
	reopen("checkpoint", fsC).Close()

	// A checkpoint and journal after it.
	s = reopen("checkpoint", fsD)
	if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "plain", Partition: 2, Batches: valuesBatch(now, []string{"after 2"})}},
		Offsets: []Offset{{Group: "g2", Topic: "conf", Partition: 1, Offset: 2}}}); err != nil {
		t.Fatal(err)
	}
	want = storeSnapshot(t, s)
	reopen("checkpoint and journal", fsD.CrashClean()).Close()

	must(s.Close())
	s = reopen("checkpoint at close", fsD)
	defer s.Close()
	// Only the commit follows the record that announced the checkpoint
	// (its batch carried in it: it was synchronous).
	if s.ckptLen > 192 {
		t.Errorf("%d bytes of journal to replay after a clean close", s.ckptLen)
	}
}

// crashLineDiff shows the first lines where a and b differ.
func crashLineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(equal)"
}

// crashWaitFor polls cond, which reads the store, until it holds or 20 seconds
// pass: retention runs on its own ticker.
func crashWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRetentionBytes produces steadily into a topic with a small
// retention.bytes on a real file: retention frees the oldest extents, they
// are reused, and the file stops growing.
func TestRetentionBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.spool")
	s, err := Open(path, Options{ExtentSize: format.MinExtentSize, RetentionCheck: time.Millisecond, CheckpointBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const payload = format.MinExtentSize - format.ExtentHeaderSize
	if err := s.CreateTopic(ctx, "r", 2, []format.ConfigEntry{{Name: ConfigRetentionBytes, Value: fmt.Sprint(2 * payload)}}); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("r", 4000)
	var sizes []int64
	n := rounds(60, 600)
	for round := range n {
		// About one extent per partition per round.
		for i := range 32 {
			p := int32(i % 2)
			if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "r", Partition: p, Batches: valuesBatch(time.Now().UnixMilli(), []string{fmt.Sprint(round, "-", i, value)})}}}); err != nil {
				t.Fatal(err)
			}
		}
		// Retention keeps the extents that hold the last retention.bytes
		// and the one being written: at most 4 of them.
		crashWaitFor(t, "retention", func() bool {
			info, err := s.Topic("r")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range info.Partitions {
				if p.Extents > 4 || p.Bytes > 4*payload {
					return false
				}
			}
			return true
		})
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fi.Size())
	}
	info, _ := s.Topic("r")
	for _, p := range info.Partitions {
		if p.LogStartOffset == 0 {
			t.Errorf("r/%d: log start still 0: %+v", p.Partition, p)
		}
		recs, _, _, err := readLog(s, "r", p.Partition)
		if err != nil || len(recs) == 0 || recs[len(recs)-1].off != p.HighWatermark-1 {
			t.Errorf("r/%d: reading the retained log: %d records, %v", p.Partition, len(recs), err)
		}
	}
	// The rounds wrote about two extents of records each. The file holds
	// the extents retention keeps (8), the journal's and the checkpoints'
	// (about 3), and those freed but waiting for the next sync to become
	// reusable: it stops growing after the first rounds.
	const limit = format.ExtentsStart + 16*format.MinExtentSize
	if last := sizes[len(sizes)-1]; last > limit {
		t.Errorf("after %d rounds the file holds %d KiB, more than %d KiB", n, last>>10, limit>>10)
	}
	t.Logf("file size by round (KiB): %v ... %v", crashKiBs(sizes[:10]), crashKiBs(sizes[len(sizes)-5:]))
}

func crashKiBs(sizes []int64) []int64 {
	out := make([]int64, len(sizes))
	for i, s := range sizes {
		out[i] = s >> 10
	}
	return out
}

// TestRetentionTime expires extents by their newest timestamp, on a clock the
// test sets.
func TestRetentionTime(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.RetentionCheck = time.Millisecond
	opts.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTopic(ctx, "t", 1, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "60000"}}); err != nil {
		t.Fatal(err)
	}
	produce := func(tag string, n int) {
		for i := range n {
			if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: valuesBatch(clock.Load(), []string{tag + strings.Repeat("x", 8000) + fmt.Sprint(i)})}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	extents := func() PartitionInfo {
		info, err := s.Topic("t")
		if err != nil {
			t.Fatal(err)
		}
		return info.Partitions[0]
	}
	produce("old", 24) // three extents
	oldEnd := extents().HighWatermark
	clock.Add(30_000)
	produce("new", 24)
	if p := extents(); p.Extents < 6 || p.LogStartOffset != 0 {
		t.Fatalf("before expiry: %+v", p)
	}
	s.mu.RLock()
	peak := len(s.st.extents)
	s.mu.RUnlock()
	// The old records are 70s old, the new ones 40s: only extents holding
	// old records alone expire.
	clock.Add(40_000)
	crashWaitFor(t, "the old extents to expire", func() bool { return extents().LogStartOffset > 0 })
	p := extents()
	if p.LogStartOffset > oldEnd || p.LogStartOffset < oldEnd-8 || p.HighWatermark != 48 {
		t.Fatalf("after the old records expired: %+v, old records end at %d", p, oldEnd)
	}
	recs, _, _, err := readLog(s, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[oldEnd-p.LogStartOffset:] {
		if !strings.HasPrefix(r.val, "new") {
			t.Fatalf("at %d: %.10q", r.off, r.val)
		}
	}
	// Then everything: the log is empty at its high watermark, and new
	// records go on from there.
	clock.Add(60_000)
	crashWaitFor(t, "everything to expire", func() bool { p := extents(); return p.Extents == 0 })
	if p := extents(); p.LogStartOffset != 48 || p.HighWatermark != 48 {
		t.Fatalf("after everything expired: %+v", p)
	}
	if _, err := s.Read("t", 0, 10, 1<<20, nil); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read of an expired offset: %v", err)
	}
	produce("again", 1)
	if p := extents(); p.LogStartOffset != 48 || p.HighWatermark != 49 || p.Extents != 1 {
		t.Fatalf("after a new record: %+v", p)
	}
	// The freed extents were reused, not added to.
	s.mu.RLock()
	n := len(s.st.extents)
	s.mu.RUnlock()
	if n > peak {
		t.Errorf("the file has %d extents, %d before the expiry", n, peak)
	}
}

// TestDeleteRecords moves a log start and frees the extents wholly before it.
func TestDeleteRecords(t *testing.T) {
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.RetentionCheck = time.Hour
	s := openTopic(t, "f", opts, 1)
	for i := range 40 {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: valuesBatch(time.Now().UnixMilli(), []string{fmt.Sprint(i, strings.Repeat("d", 8000))})}}}); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := s.Topic("t")
	before := info.Partitions[0]
	if before.Extents < 5 {
		t.Fatalf("%+v", before)
	}
	if _, err := s.DeleteRecords(ctx, "t", 0, 41); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords past the high watermark: %v", err)
	}
	ls, err := s.DeleteRecords(ctx, "t", 0, 20)
	if err != nil || ls != 20 {
		t.Fatalf("DeleteRecords(20) = %d, %v", ls, err)
	}
	info, _ = s.Topic("t")
	after := info.Partitions[0]
	// Extents hold 7 records each: 0-6, 7-13, 14-20, ...; the first two go.
	if after.LogStartOffset != 20 || after.Extents != before.Extents-2 || after.HighWatermark != 40 {
		t.Fatalf("after DeleteRecords(20): %+v, before %+v", after, before)
	}
	if _, err := s.Read("t", 0, 19, 1<<20, nil); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read before the log start: %v", err)
	}
	if ls, err := s.DeleteRecords(ctx, "t", 0, 5); err != nil || ls != 20 {
		t.Fatalf("DeleteRecords back to 5 = %d, %v; the log start never moves back", ls, err)
	}
	recs, _, _, err := readLog(s, "t", 0)
	if err != nil || len(recs) != 20 || !strings.HasPrefix(recs[0].val, "20d") {
		t.Fatalf("after DeleteRecords: %d records, %v", len(recs), err)
	}
	if ls, err := s.DeleteRecords(ctx, "t", 0, -1); err != nil || ls != 40 {
		t.Fatalf("DeleteRecords(-1) = %d, %v", ls, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open("f", opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, _ = s.Topic("t")
	if p := info.Partitions[0]; p.LogStartOffset != 40 || p.HighWatermark != 40 || p.Extents != 0 {
		t.Fatalf("after reopening: %+v", p)
	}
}

// TestDeleteTopicFreesExtents deletes a topic that fills extents and checks
// that another topic the same size reuses them.
func TestDeleteTopicFreesExtents(t *testing.T) {
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.RetentionCheck = time.Hour
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill := func(name string) {
		if err := s.CreateTopic(ctx, name, 2, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			if _, err := s.Commit(ctx, &Txn{
				Appends: []Append{{Topic: name, Partition: int32(i % 2), Batches: valuesBatch(time.Now().UnixMilli(), []string{strings.Repeat("f", 8000)})}},
				Offsets: []Offset{{Group: "g", Topic: name, Partition: int32(i % 2), Offset: int64(i)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("a")
	info, _ := s.Topic("a")
	if info.Partitions[0].Extents < 4 {
		t.Fatalf("%+v", info.Partitions)
	}
	extents := len(s.st.extents)
	size, _ := s.f.Size()
	if err := s.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Topic("a"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("Topic after DeleteTopic: %v", err)
	}
	if offs, _ := s.GroupOffsets("g"); len(offs) != 0 {
		t.Fatalf("offsets of the deleted topic remain: %+v", offs)
	}
	if err := s.DeleteTopic(ctx, "a"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second DeleteTopic: %v", err)
	}
	fill("b")
	if n, size2 := len(s.st.extents), crashMust(s.f.Size()); n > extents+1 || size2 > size+int64(s.extentSize) {
		t.Errorf("after deleting a and filling b as much: %d extents (%d before), %d bytes (%d before)", n, extents, size2, size)
	}
	// The same name again is a new, empty topic.
	if err := s.CreateTopic(ctx, "a", 1, nil); err != nil {
		t.Fatal(err)
	}
	if ls, hwm, err := s.Offsets("a", 0); err != nil || ls != 0 || hwm != 0 {
		t.Fatalf("new a: [%d, %d) %v", ls, hwm, err)
	}
}

func crashMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// crashFileBytes returns the contents of path on fs.
func crashFileBytes(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, crashMust(f.Size()))
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

// crashMemFile returns a MemFS holding b at path.
func crashMemFile(t testing.TB, path string, b []byte) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	f, err := fs.Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 {
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	f.Sync()
	f.Close()
	return fs
}

// crashSmallFile returns the bytes of a closed spool file holding some records
// in several extents, a checkpoint and journal after it.
func crashSmallFile(t testing.TB) []byte {
	t.Helper()
	fs := vfs.NewMem()
	opts := memOpts(fs)
	opts.CheckpointBytes = 8 << 10
	opts.RetentionCheck = time.Hour
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", 2, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Partition: int32(i % 2), Batches: valuesBatch(time.Now().UnixMilli(), []string{fmt.Sprint(i, strings.Repeat("s", 3000))})}},
			Offsets: []Offset{{Group: "g", Topic: "t", Offset: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	return crashFileBytes(t, fs.CrashClean(), "f") // not closed: a journal to replay
}

// TestOpenFutureVersion opens a file whose meta pages carry a later format
// version: format.ErrVersion.
func TestOpenFutureVersion(t *testing.T) {
	b := crashSmallFile(t)
	for _, page := range []int{0, format.PageSize} {
		m := b[page : page+format.MetaSize]
		if string(m[:8]) != format.Magic {
			continue // the meta page not yet written
		}
		binary.LittleEndian.PutUint32(m[8:], format.Version+1)
		binary.LittleEndian.PutUint32(m[124:], format.Checksum(m[:124]))
	}
	for _, ro := range []bool{false, true} {
		_, err := Open("f", Options{FS: crashMemFile(t, "f", b), ReadOnly: ro})
		if !errors.Is(err, format.ErrVersion) {
			t.Errorf("read-only %v: open of a version %d file: %v, want format.ErrVersion", ro, format.Version+1, err)
		}
	}
}

// TestOpenNotSpool opens files that are not spool files: format.ErrNotSpool,
// and the file is left as it was. (A file of zeros holds no data: it is what
// a process killed while creating a file leaves, and TestOpenUnfinishedCreate
// checks that it is created again.)
func TestOpenNotSpool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 3*format.ExtentsStart)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := []byte(strings.Repeat("this is not a spool file\n", 2000))
	for name, b := range map[string][]byte{"random": random, "text": text, "short": []byte("SPOOL")} {
		for _, ro := range []bool{false, true} {
			fs := crashMemFile(t, "f", b)
			_, err := Open("f", Options{FS: fs, ReadOnly: ro})
			if !errors.Is(err, format.ErrNotSpool) {
				t.Errorf("%s (read-only %v): %v, want format.ErrNotSpool", name, ro, err)
			}
			if got := crashFileBytes(t, fs, "f"); string(got) != string(b) {
				t.Errorf("%s (read-only %v): the file was changed", name, ro)
			}
		}
	}
	if _, err := Open("f", Options{FS: crashMemFile(t, "f", nil), ReadOnly: true}); !errors.Is(err, format.ErrNotSpool) {
		t.Errorf("empty file, read-only: %v, want format.ErrNotSpool", err)
	}
}

// TestOpenTruncated cuts a spool file at many points, the interesting ones
// and random ones, and opens what is left: an error or a store that reads
// and writes, never a panic.
func TestOpenTruncated(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	b := crashSmallFile(t)
	cuts := []int{0, 1, format.MetaSize - 1, format.MetaSize, format.PageSize, format.PageSize + format.MetaSize,
		format.SharedPageOffset, format.ExtentsStart - 1, format.ExtentsStart, format.ExtentsStart + format.ExtentHeaderSize}
	for e := int64(1); format.ExtentOffset(uint32(e), format.MinExtentSize) < int64(len(b)); e++ {
		off := int(format.ExtentOffset(uint32(e), format.MinExtentSize))
		cuts = append(cuts, off-1, off, off+format.ExtentHeaderSize, off+format.ExtentHeaderSize+100)
	}
	for range rounds(40, 2000) {
		cuts = append(cuts, rng.IntN(len(b)))
	}
	opened := 0
	for _, cut := range cuts {
		if cut > len(b) {
			continue
		}
		for _, ro := range []bool{true, false} {
			s, err := Open("f", Options{FS: crashMemFile(t, "f", b[:cut]), ReadOnly: ro, Logger: slog.New(slog.DiscardHandler), RetentionCheck: time.Hour})
			if err != nil {
				continue
			}
			opened++
			for p := range int32(2) {
				readLog(s, "t", p) // may fail, must not panic
			}
			s.GroupOffsets("g")
			if !ro {
				// What opened must take new commits and keep them.
				_, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: "t", Batches: batch("after", 2)}}})
				if err == nil {
					_, hwm, _ := s.Offsets("t", 0)
					if err := s.Close(); err != nil {
						t.Fatalf("cut at %d: close: %v", cut, err)
					}
					if s, err = Open("f", Options{FS: s.opts.FS, Logger: slog.New(slog.DiscardHandler)}); err != nil {
						t.Fatalf("cut at %d: reopen after a commit: %v", cut, err)
					}
					if _, hwm2, _ := s.Offsets("t", 0); hwm2 != hwm {
						t.Fatalf("cut at %d: high watermark %d after reopening, %d before", cut, hwm2, hwm)
					}
				}
			}
			s.Close()
		}
	}
	t.Logf("%d cuts of a %d KiB file, %d opens succeeded", len(cuts), len(b)>>10, opened)
}
