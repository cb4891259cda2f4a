package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/vfs"
)

// The damage tests build one small spool file, damage copies of its bytes,
// and open them: Open must fail with an error wrapping a sentinel, or succeed
// with a state whose every record is one originally written, at its original
// offset, and that holds every commit acknowledged with DurabilitySync
// (damage may cut only what a power loss could have lost). Reads may fail;
// nothing may panic or hang.

// damageImage is a spool file as bytes, with what was written to it.
type damageImage struct {
	closed []byte // the file after Close
	open   []byte // the file as it was before Close, as after a kill -9
	// interesting are the non-zero byte ranges of each image, where damage
	// can matter; most of a spool file is the unused rest of its extents.
	interesting [2][][2]int64

	partitions map[string]int            // topic name → partition count
	records    map[recordKey]string      // every record value by its offset
	committed  map[committedKey][]Offset // every offset committed
	// What was acknowledged with DurabilitySync, which a damaged file must
	// still hold if it opens: each partition's end, and the index in
	// committed of each group's last offset.
	syncedEnd       map[partitionKey2]int64
	syncedCommitted map[committedKey]int
}

type recordKey struct {
	topic     string
	partition int32
	offset    int64
}

type committedKey struct {
	group, topic string
	partition    int32
}

type partitionKey2 struct {
	topic     string
	partition int32
}

var (
	damageOnce sync.Once
	damageImg  *damageImage
	damageErr  error
)

// quietLogger drops the warnings recovery logs for every damaged file.
var quietLogger = slog.New(slog.DiscardHandler)

// damageBase builds the image once per test binary.
func damageBase(tb testing.TB) *damageImage {
	tb.Helper()
	damageOnce.Do(func() { damageImg, damageErr = buildDamageImage() })
	if damageErr != nil {
		tb.Fatalf("building the file to damage: %v", damageErr)
	}
	return damageImg
}

// buildDamageImage writes two topics (three partitions, three extents of
// data in two of them; b's batches from an idempotent producer, so that the
// journal and the checkpoints hold producer state), offset commits of two
// groups, and enough journal for
// two checkpoints and, in the open image, more than the reader's first chunk
// of journal to replay after the last one. The last commits are not synced,
// so that recovery checks their data.
func buildDamageImage() (*damageImage, error) {
	fs := vfs.NewMem()
	s, err := Open("f", Options{FS: fs, ExtentSize: format.MinExtentSize, CheckpointBytes: 5000, Logger: quietLogger,
		RetentionCheck: time.Hour})
	if err != nil {
		return nil, err
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	img := &damageImage{partitions: map[string]int{"a": 2, "b": 1}, records: map[recordKey]string{},
		committed: map[committedKey][]Offset{}, syncedEnd: map[partitionKey2]int64{}, syncedCommitted: map[committedKey]int{}}
	if err := s.CreateTopic(ctx, "a", 2, nil); err != nil {
		return nil, err
	}
	if err := s.CreateTopic(ctx, "b", 1, []format.ConfigEntry{{Name: ConfigRetentionMs, Value: "-1"}}); err != nil {
		return nil, err
	}
	pid, err := s.InitProducer(ctx)
	if err != nil {
		return nil, err
	}
	var seq int32
	const commits = 250
	for i := range commits {
		txn := &Txn{}
		type part struct {
			topic     string
			partition int32
			values    []string
		}
		var parts []part
		add := func(topic string, partition int32, n, size int) {
			values := make([]string, n)
			for j := range values {
				v := fmt.Sprintf("%s/%d c%d r%d ", topic, partition, i, j)
				values[j] = v + strings.Repeat(string(rune('a'+(i+j)%26)), max(0, size-len(v)))
			}
			var bb format.BatchBuilder
			bb.Reset(1000 + int64(i))
			if topic == "b" {
				bb.SetProducer(pid.ID, pid.Epoch, seq)
				seq += int32(n)
			}
			for j, v := range values {
				bb.Append(1000+int64(i*100+j), nil, []byte(v))
			}
			txn.Appends = append(txn.Appends, Append{Topic: topic, Partition: partition, Batches: bb.Build(nil)})
			parts = append(parts, part{topic, partition, values})
		}
		add("a", int32(i%2), 4+i%5, 200)
		if i%3 == 0 {
			add("b", 0, 1+i%3, 30)
		}
		if i%4 == 1 {
			o := Offset{Group: "g" + strconv.Itoa(i%8/4), Topic: "a", Partition: int32(i % 2), Offset: int64(i), Metadata: "m" + strconv.Itoa(i)}
			txn.Offsets = append(txn.Offsets, o)
		}
		if i >= commits-3 {
			txn.Durability = DurabilityNone
		}
		groupOffsets, err := damageGroup(s, i)
		if err != nil {
			return nil, err
		}
		for _, o := range groupOffsets {
			k := committedKey{o.Group, o.Topic, o.Partition}
			img.committed[k] = append(img.committed[k], o)
			img.syncedCommitted[k] = len(img.committed[k]) - 1
		}
		res, err := s.Commit(ctx, txn)
		if err != nil {
			return nil, fmt.Errorf("commit %d: %w", i, err)
		}
		synced := txn.Durability != DurabilityNone
		for k, p := range parts {
			if res[k].LastOffset-res[k].BaseOffset+1 != int64(len(p.values)) {
				return nil, fmt.Errorf("commit %d landed at %+v for %d records", i, res[k], len(p.values))
			}
			for j, v := range p.values {
				img.records[recordKey{p.topic, p.partition, res[k].BaseOffset + int64(j)}] = v
			}
			if synced {
				img.syncedEnd[partitionKey2{p.topic, p.partition}] = res[k].LastOffset + 1
			}
		}
		for _, o := range txn.Offsets {
			k := committedKey{o.Group, o.Topic, o.Partition}
			img.committed[k] = append(img.committed[k], o)
			if synced {
				img.syncedCommitted[k] = len(img.committed[k]) - 1
			}
		}
	}
	if img.open, err = fileBytes(fs, "f"); err != nil {
		return nil, err
	}
	err = s.Close()
	s = nil
	if err != nil {
		return nil, err
	}
	if img.closed, err = fileBytes(fs, "f"); err != nil {
		return nil, err
	}
	img.interesting[0] = nonZeroRanges(img.closed)
	img.interesting[1] = nonZeroRanges(img.open)
	return img, nil
}

// damageGroup puts group membership into the image: at commit 100 a member
// joins group "gm", which gives it a/0; at commit 150 it commits an offset
// with acknowledged ranges there, and releases it. It returns the offsets
// it committed, synchronously.
func damageGroup(s *Store, i int) ([]Offset, error) {
	var change GroupChange
	switch i {
	case 100:
		change = GroupChange{Join: &GroupMember{ID: "gm-1", InstanceID: "static", Assignor: "range", Topics: []string{"a"}},
			Assign: map[string][]TopicPartition{"gm-1": {{"a", 0}, {"a", 1}}}}
	case 101:
		change = GroupChange{Own: []Own{{TopicPartition{"a", 0}, "gm-1"}}}
	case 150:
		change = GroupChange{Offsets: []Offset{{Group: "gm", Topic: "a", Partition: 0, Offset: 40,
			Acked: []OffsetRange{{Start: 42, End: 45}, {Start: 50, End: 51}}, Member: "gm-1"}},
			Own: []Own{{TopicPartition{"a", 0}, ""}}}
	default:
		return nil, nil
	}
	_, err := s.UpdateGroup(ctx, "gm", DurabilitySync, func(*GroupState) (GroupChange, error) { return change, nil })
	return change.Offsets, err
}

// fileBytes reads the whole of a MemFS file.
func fileBytes(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// nonZeroRanges returns the ranges of b holding non-zero bytes, merging
// ranges less than 64 bytes apart.
func nonZeroRanges(b []byte) [][2]int64 {
	var out [][2]int64
	for i := 0; i < len(b); i++ {
		if b[i] == 0 {
			continue
		}
		j := i
		for zeros := 0; j < len(b) && zeros < 64; j++ {
			if b[j] == 0 {
				zeros++
			} else {
				zeros = 0
			}
		}
		out = append(out, [2]int64{int64(i), int64(j)})
		i = j
	}
	return out
}

// damage describes what is done to a copy of an image.
type damage struct {
	open     bool  // damage the image taken before Close
	readOnly bool  // open the damaged file read-only
	truncate int64 // the length the file is cut to, or -1
	flips    []flip
}

type flip struct {
	off int64
	xor byte
}

func (d damage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "open image %v, read-only %v, truncate %d, flips", d.open, d.readOnly, d.truncate)
	for _, f := range d.flips {
		fmt.Fprintf(&b, " %d^%02x", f.off, f.xor)
	}
	return b.String()
}

// parseDamage reads a damage from fuzz input: a flags byte, a truncation
// length, then offset and xor pairs. Offsets select a byte in the image's
// non-zero ranges unless the flags ask for raw file offsets.
func parseDamage(img *damageImage, in []byte) damage {
	d := damage{truncate: -1}
	if len(in) == 0 {
		return d
	}
	flags := in[0]
	in = in[1:]
	d.open, d.readOnly = flags&1 != 0, flags&2 != 0
	size := int64(len(img.image(d.open)))
	if flags&4 != 0 && len(in) >= 4 {
		d.truncate = int64(binary.LittleEndian.Uint32(in)) % (size + 1)
		in = in[4:]
	} else if flags&4 != 0 {
		d.truncate = size / 2
	}
	for len(in) >= 5 {
		v := int64(binary.LittleEndian.Uint32(in))
		var off int64
		if flags&8 != 0 {
			off = v % size
		} else {
			off = img.interestingOffset(d.open, v)
		}
		d.flips = append(d.flips, flip{off, in[4]})
		in = in[5:]
	}
	return d
}

// image returns the image taken before or after Close.
func (img *damageImage) image(open bool) []byte {
	if open {
		return img.open
	}
	return img.closed
}

// interestingOffset maps v to a byte in the non-zero ranges of an image.
func (img *damageImage) interestingOffset(open bool, v int64) int64 {
	ranges := img.interesting[0]
	if open {
		ranges = img.interesting[1]
	}
	var total int64
	for _, r := range ranges {
		total += r[1] - r[0]
	}
	v %= total
	for _, r := range ranges {
		if v < r[1]-r[0] {
			return r[0] + v
		}
		v -= r[1] - r[0]
	}
	panic("unreachable")
}

// apply returns a damaged copy of the image.
func (d damage) apply(img *damageImage) []byte {
	b := append([]byte(nil), img.image(d.open)...)
	for _, f := range d.flips {
		b[f.off] ^= f.xor
	}
	if d.truncate >= 0 {
		b = b[:d.truncate]
	}
	return b
}

// sentinels are the errors a failure on a damaged file may wrap.
var sentinels = []error{
	ErrCorrupt, ErrOffsetOutOfRange, ErrUnknownTopic, ErrUnknownPartition, ErrFailed, ErrClosed, ErrReadOnly,
	format.ErrNotSpool, format.ErrVersion, format.ErrMetaCorrupt, format.ErrExtentHeader, format.ErrChainEnd,
	format.ErrOpCorrupt, format.ErrBatchCorrupt, format.ErrShortBatch, format.ErrBatchMagic, format.ErrBatchCRC,
}

// tryDamage opens a damaged copy of the image and checks what it holds. It
// reports a panic or a hang as an error too.
func tryDamage(img *damageImage, d damage) error {
	done := make(chan struct{})
	var err error
	var panicked any
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		err = runDamage(img, d)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%v: opening and reading did not finish in 30s", d)
	}
	if panicked != nil {
		return fmt.Errorf("%v: panic: %v", d, panicked)
	}
	if err != nil {
		return fmt.Errorf("%v: %w", d, err)
	}
	return nil
}

// runDamage does the work of tryDamage.
func runDamage(img *damageImage, d damage) error {
	fs := vfs.NewMem()
	f, err := fs.Open("f", true)
	if err != nil {
		return err
	}
	if b := d.apply(img); len(b) > 0 {
		if _, err := f.WriteAt(b, 0); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	opts := Options{FS: fs, NoCreate: true, ReadOnly: d.readOnly, Logger: quietLogger, RetentionCheck: time.Hour}
	s, err := Open("f", opts)
	if err != nil {
		return sentinelErr("open", err)
	}
	// An empty file is a new one: nothing of the old is left to lose.
	acked := d.truncate != 0
	records := img.records
	if err := checkStore(s, img, records); err != nil {
		s.Close()
		return err
	}
	if err := checkSynced(s, img, acked); err != nil {
		s.Close()
		return err
	}
	if d.readOnly {
		return s.Close()
	}
	// A file recovery accepted takes a commit, and opens again with it.
	records = appendAfterDamage(s, records)
	if err := s.Close(); err != nil {
		return sentinelErr("close", err)
	}
	s, err = Open("f", opts)
	if err != nil {
		return fmt.Errorf("reopening after recovery and a commit: %w", err)
	}
	defer s.Close()
	if err := checkStore(s, img, records); err != nil {
		return err
	}
	return checkSynced(s, img, acked)
}

// checkSynced checks, if acked, that s holds everything acknowledged with
// DurabilitySync: the topics, each partition at least to its synced end,
// and each group's offset, the last synced or a later one. (A batch in it
// may fail its checksum, which readers see: damage, not loss.)
func checkSynced(s *Store, img *damageImage, acked bool) error {
	if !acked {
		return nil
	}
	for k, end := range img.syncedEnd {
		if _, hwm, err := s.Offsets(k.topic, k.partition); err != nil || hwm < end {
			return fmt.Errorf("silent loss: %s/%d ends at %d (%v), but records to %d were acknowledged with DurabilitySync", k.topic, k.partition, hwm, err, end)
		}
	}
	for k, i := range img.syncedCommitted {
		c, ok, err := s.CommittedOffset(k.group, k.topic, k.partition)
		if err != nil || !ok {
			return fmt.Errorf("silent loss: group %s has no offset for %s/%d (%v), but %d was acknowledged with DurabilitySync", k.group, k.topic, k.partition, err, img.committed[k][i].Offset)
		}
		found := false
		for _, o := range img.committed[k][i:] {
			found = found || o.Offset == c.Offset && o.Metadata == c.Metadata
		}
		if !found {
			return fmt.Errorf("silent loss: group %s has offset %d for %s/%d, older than %d, acknowledged with DurabilitySync", k.group, c.Offset, k.topic, k.partition, img.committed[k][i].Offset)
		}
	}
	return nil
}

func sentinelErr(what string, err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return nil
		}
	}
	return fmt.Errorf("%s: error wraps no sentinel: %w", what, err)
}

// appendAfterDamage commits one record to the first partition it can, and
// returns records with it added. A commit may fail, with a sentinel error.
func appendAfterDamage(s *Store, records map[recordKey]string) map[recordKey]string {
	for _, tp := range []partitionKey2{{"a", 0}, {"a", 1}, {"b", 0}} {
		res, err := s.Commit(ctx, &Txn{Appends: []Append{{Topic: tp.topic, Partition: tp.partition, Batches: batch("after damage", 1)}}})
		if err != nil {
			continue
		}
		out := make(map[recordKey]string, len(records)+1)
		for k, v := range records {
			if k.topic != tp.topic || k.partition != tp.partition || k.offset < res[0].BaseOffset {
				out[k] = v
			}
		}
		out[recordKey{tp.topic, tp.partition, res[0].BaseOffset}] = "after damage-0"
		return out
	}
	return records
}

// checkStore checks that every topic, record and committed offset s holds is
// one written to the original file.
func checkStore(s *Store, img *damageImage, records map[recordKey]string) error {
	topics, err := s.Topics()
	if err != nil {
		return sentinelErr("topics", err)
	}
	for _, t := range topics {
		if n, ok := img.partitions[t.Name]; !ok || n != len(t.Partitions) {
			return fmt.Errorf("topic %q with %d partitions was never created", t.Name, len(t.Partitions))
		}
	}
	for topic, n := range img.partitions {
		for p := range int32(n) {
			if err := checkPartition(s, topic, p, records); err != nil {
				return err
			}
		}
	}
	groups, err := s.Groups()
	if err != nil {
		return sentinelErr("groups", err)
	}
	for _, g := range groups {
		offsets, err := s.GroupOffsets(g)
		if err != nil {
			return sentinelErr("group offsets", err)
		}
		for _, c := range offsets {
			found := false
			for _, o := range img.committed[committedKey{g, c.Topic, c.Partition}] {
				found = found || o.Offset == c.Offset && o.Metadata == c.Metadata
			}
			if !found {
				return fmt.Errorf("group %s has offset %d (%q) for %s/%d, never committed", g, c.Offset, c.Metadata, c.Topic, c.Partition)
			}
		}
	}
	return nil
}

// checkPartition reads a partition from its log start and checks every
// record of every batch whose CRC holds. A batch whose CRC fails ends the
// check: a Kafka consumer rejects it, as Read leaves the CRC to the reader.
func checkPartition(s *Store, topic string, p int32, records map[recordKey]string) error {
	logStart, hwm, err := s.Offsets(topic, p)
	if err != nil {
		return sentinelErr("offsets", err)
	}
	var end int64
	for k := range records {
		if k.topic == topic && k.partition == p {
			end = max(end, k.offset+1)
		}
	}
	if logStart < 0 || logStart > hwm || hwm > end {
		return fmt.Errorf("%s/%d has offsets [%d, %d), of [0, %d) written", topic, p, logStart, hwm, end)
	}
	for from := logStart; from < hwm; {
		f, err := s.Read(topic, p, from, 1<<20, nil)
		if err != nil {
			return sentinelErr(fmt.Sprintf("read %s/%d at %d", topic, p, from), err)
		}
		if len(f.Batches) == 0 {
			return fmt.Errorf("read %s/%d at %d, below the high watermark %d, returned nothing and no error", topic, p, from, hwm)
		}
		next := from
		for b := f.Batches; len(b) > 0; {
			one, rest, err := format.NextBatch(b)
			if err != nil {
				return fmt.Errorf("read %s/%d at %d returned a partial batch: %v", topic, p, from, err)
			}
			b = rest
			h, err := format.ValidateBatch(one)
			if err != nil {
				return nil
			}
			if h.Compression() != format.CompressionNone {
				return fmt.Errorf("%s/%d: a compressed batch at %d was never written", topic, p, h.BaseOffset)
			}
			it, err := format.NewRecordIter(one)
			if err != nil {
				return fmt.Errorf("%s/%d: batch at %d validates but does not iterate: %v", topic, p, h.BaseOffset, err)
			}
			var r format.BatchRecord
			for it.Next(&r) {
				want, ok := records[recordKey{topic, p, r.Offset}]
				if !ok || want != string(r.Value) {
					return fmt.Errorf("%s/%d: read %q at offset %d, where %q was written (read from %d)", topic, p, r.Value, r.Offset, want, from)
				}
			}
			if it.Err() != nil {
				return fmt.Errorf("%s/%d: batch at %d validates but fails to iterate: %v", topic, p, h.BaseOffset, it.Err())
			}
			next = max(next, h.LastOffset()+1)
		}
		if next <= from {
			return fmt.Errorf("read %s/%d at %d returned only batches before it", topic, p, from)
		}
		from = next
	}
	return nil
}

// FuzzOpenDamaged opens damaged copies of a spool file; see parseDamage for
// how the input describes the damage.
func FuzzOpenDamaged(f *testing.F) {
	img := damageBase(f)
	le := binary.LittleEndian
	seed := func(flags byte, truncate uint32, flips ...uint32) []byte {
		b := []byte{flags}
		if flags&4 != 0 {
			b = le.AppendUint32(b, truncate)
		}
		for i, off := range flips {
			b = le.AppendUint32(b, off)
			b = append(b, byte(1<<(i%8)))
		}
		return b
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2})
	for _, flags := range []byte{0, 1, 2, 3} {
		f.Add(seed(flags, 0, 5))
		f.Add(seed(flags, 0, 4096+100))
		f.Add(seed(flags|8, 0, format.ExtentsStart+10))
		f.Add(seed(flags|8, 0, format.ExtentsStart+format.MinExtentSize+200, format.ExtentsStart+2*format.MinExtentSize+70))
		f.Add(seed(flags|4, 0))
		f.Add(seed(flags|4, uint32(len(img.image(flags&1 != 0))-format.MinExtentSize/2)))
		f.Add(seed(flags|4, format.ExtentsStart+3*format.MinExtentSize+1000, 300, 7000, 90000))
		// The first, a middle and the last journal record: body, length
		// and checksum.
		recs := journalRecords(f, img.image(flags&1 != 0))
		for _, r := range []journalRec{recs[0], recs[len(recs)/2], recs[len(recs)-1]} {
			for _, at := range []int64{format.RecordFrameSize + 20, 1, 5} {
				f.Add(seed(flags|8, 0, uint32(r.off+at)))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := tryDamage(img, parseDamage(img, in)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOpenDamaged opens thousands of randomly damaged copies of a spool file.
// SPOOL_DAMAGE_SEED repeats a run; SPOOL_DAMAGE_N sets how many copies.
func TestOpenDamaged(t *testing.T) {
	img := damageBase(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SPOOL_DAMAGE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SPOOL_DAMAGE_SEED: %v", err)
		}
		seed = v
	}
	n := 2000
	if testing.Short() {
		n = 300
	}
	if s := os.Getenv("SPOOL_DAMAGE_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SPOOL_DAMAGE_N: %v", err)
		}
		n = v
	}
	// Undamaged, both images open with everything written.
	for _, open := range []bool{false, true} {
		if err := checkComplete(img, open); err != nil {
			t.Fatalf("undamaged image (open %v): %v", open, err)
		}
	}
	t.Logf("seed %d (SPOOL_DAMAGE_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range n {
		if err := tryDamage(img, randomDamage(rng, img)); err != nil {
			t.Fatalf("seed %d, damage %d: %v", seed, i, err)
		}
	}
}

// checkComplete opens an undamaged image read-only and checks that every
// partition ends where it ended when written, and every group has its last
// committed offset.
func checkComplete(img *damageImage, open bool) error {
	fs := vfs.NewMem()
	f, err := fs.Open("f", true)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(img.image(open), 0); err != nil {
		return err
	}
	f.Close()
	s, err := Open("f", Options{FS: fs, ReadOnly: true, Logger: quietLogger})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := checkStore(s, img, img.records); err != nil {
		return err
	}
	ends := map[partitionKey2]int64{}
	for k := range img.records {
		ends[partitionKey2{k.topic, k.partition}] = max(ends[partitionKey2{k.topic, k.partition}], k.offset+1)
	}
	for k, end := range ends {
		if _, hwm, err := s.Offsets(k.topic, k.partition); err != nil || hwm != end {
			return fmt.Errorf("%s/%d ends at %d (%v), want %d", k.topic, k.partition, hwm, err, end)
		}
	}
	for k, offsets := range img.committed {
		c, ok, err := s.CommittedOffset(k.group, k.topic, k.partition)
		if last := offsets[len(offsets)-1]; err != nil || !ok || c.Offset != last.Offset {
			return fmt.Errorf("group %s has %d (%v, %v) for %s/%d, want %d", k.group, c.Offset, ok, err, k.topic, k.partition, last.Offset)
		}
	}
	return nil
}

// randomDamage draws one to four flips, mostly in the non-zero parts of the
// file, and sometimes a truncation.
func randomDamage(rng *rand.Rand, img *damageImage) damage {
	d := damage{open: rng.IntN(2) == 0, readOnly: rng.IntN(4) == 0, truncate: -1}
	size := int64(len(img.image(d.open)))
	if rng.IntN(8) == 0 {
		d.truncate = rng.Int64N(size)
	}
	for range 1 + rng.IntN(4) {
		var off int64
		if rng.IntN(10) == 0 {
			off = rng.Int64N(size)
		} else {
			off = img.interestingOffset(d.open, rng.Int64N(1<<40))
		}
		xor := byte(1 << rng.IntN(8))
		if rng.IntN(4) == 0 {
			xor = byte(rng.IntN(255) + 1)
		}
		d.flips = append(d.flips, flip{off, xor})
	}
	return d
}

// TestReopenRecordAtChunkEdge reopens, as after a crash, a file whose journal
// has a record starting less than a frame's length before the end of the
// first chunk the chain reader reads: the reader must read on rather than
// take the cut frame for the end of the chain, which would lose every commit
// after it.
func TestReopenRecordAtChunkEdge(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, ExtentSize: format.MinExtentSize, Logger: quietLogger, RetentionCheck: time.Hour}
	s, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	pos := func() int {
		s.catchMu.Lock()
		defer s.catchMu.Unlock()
		return int(s.jpos.pos)
	}
	commits := 0
	commit := func(metadata string) {
		t.Helper()
		o := Offset{Group: "g", Topic: "t", Offset: int64(commits), Metadata: metadata}
		if _, err := s.Commit(ctx, &Txn{Offsets: []Offset{o}}); err != nil {
			t.Fatal(err)
		}
		commits++
	}
	for pos() < firstChunk-200 {
		commit("")
	}
	// The size of the next record, by the length of its metadata.
	size := func(n int) int {
		op := format.OffsetCommit{Group: "g", Offset: int64(commits), Metadata: strings.Repeat("m", n), Time: time.Now().UnixNano()}
		return format.RecordSize(len(format.AppendOp(nil, op)))
	}
	for n := 0; ; n++ {
		if n > 300 {
			t.Fatalf("no metadata length brings the journal from %d to just before %d", pos(), firstChunk)
		}
		if end := pos() + size(n); end > firstChunk-format.RecordFrameSize && end < firstChunk {
			commit(strings.Repeat("m", n))
			break
		}
	}
	if p := pos(); p <= firstChunk-format.RecordFrameSize || p >= firstChunk {
		t.Fatalf("the next record starts at %d, not within a frame of %d", p, firstChunk)
	}
	for range 3 {
		commit("after the edge")
	}
	img, err := fileBytes(fs, "f")
	if err != nil {
		t.Fatal(err)
	}
	fs2 := vfs.NewMem()
	f, err := fs2.Open("f", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(img, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	opts.FS = fs2
	s2, err := Open("f", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c, ok, err := s2.CommittedOffset("g", "t", 0)
	if err != nil || !ok || c.Offset != int64(commits-1) {
		t.Fatalf("after reopening, the last committed offset is %d (%v, %v), want %d", c.Offset, ok, err, commits-1)
	}
}
