package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// The physical limits of the machine, measured in the same run as the
// workloads: what no system on it can beat. A workload's figure as a
// fraction of its limit says how much of the machine it uses.
const (
	limitSeqWrite      = "limit-seqwrite"
	limitSyncGrowing   = "limit-append-sync-growing"
	limitSyncPrealloc  = "limit-append-sync-prealloc"
	limitMemCopy       = "limit-memcopy"
	limitAppendSize    = 128     // a small append: about one record in its batch
	limitWriteBlock    = 1 << 20 // sequential writes go in blocks of a MiB
	limitCopyBlock     = 64 << 20
	limitPreallocBytes = 64 << 20
)

// limit is one measurement of the machine.
type limit struct {
	name, about string
	// rate says which figure is the limit: records (syncs) per second, or
	// bytes per second.
	rate bool
	run  func(ctx context.Context, r *runner) (Figures, error)
}

func limits() []limit {
	return []limit{
		{limitSeqWrite, "sequential 1 MiB writes into a new file, then one data sync: bytes/s", false, seqWrite},
		{limitSyncGrowing, "128-byte appends, each followed by a data sync, growing the file: syncs/s", true,
			func(ctx context.Context, r *runner) (Figures, error) { return appendSync(ctx, r, false) }},
		{limitSyncPrealloc, "128-byte appends, each followed by a data sync, into preallocated space: syncs/s", true,
			func(ctx context.Context, r *runner) (Figures, error) { return appendSync(ctx, r, true) }},
		{limitMemCopy, "memory copy of 64 MiB blocks: bytes/s", false, memCopy},
	}
}

func (l limit) primary(f Figures) float64 {
	if l.rate {
		return f.RecordsPerSec
	}
	return f.BytesPerSec
}

// measureLimit runs l the run's number of times.
func (r *runner) measureLimit(ctx context.Context, l limit) Result {
	res := Result{System: "machine", Workload: l.name}
	var reps []Figures
	for range r.sz.reps {
		f, err := l.run(ctx, r)
		if err != nil {
			res.Skipped = "failed: " + oneLine(err)
			r.logf("%-30s %-9s %s", l.name, res.System, res.Skipped)
			return res
		}
		reps = append(reps, f)
		res.Reps = append(res.Reps, l.primary(f))
	}
	res.Figures = medianFigures(reps)
	res.Spread = spread(res.Reps)
	v := fmtBytes(res.BytesPerSec) + "/s"
	if l.rate {
		v = fmtCount(res.RecordsPerSec) + " syncs/s"
	}
	r.logf("%-30s %-9s %s  (%d reps, spread %.0f%%)", l.name, res.System, v, len(reps), 100*res.Spread)
	return res
}

// ofLimit is a workload's figures f as a fraction of limit's figures l.
func ofLimit(limit string, f, l Figures) float64 {
	switch limit {
	case limitSeqWrite, limitMemCopy:
		return f.BytesPerSec / l.BytesPerSec
	case limitSyncPrealloc, limitSyncGrowing:
		if f.RecordsPerSync == 0 {
			return 0
		}
		return f.RecordsPerSec / f.RecordsPerSync / l.RecordsPerSec
	}
	return 0
}

// scratch opens a new file for a limit in the run's directory; done closes
// and removes it.
func (r *runner) scratch(name string) (f vfs.File, done func(), err error) {
	path := filepath.Join(r.cfg.Dir, name)
	os.Remove(path)
	f, err = vfs.OS.Open(path, true)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close(); os.Remove(path) }, nil
}

// seqWriteBytes is how much the sequential write limit writes: enough that
// the final sync writes most of it to the disk, as the produce workloads do
// over their repetitions.
func (r *runner) seqWriteBytes() int64 {
	if r.cfg.Short {
		return 8 << 20
	}
	return 512 << 20
}

func seqWrite(ctx context.Context, r *runner) (Figures, error) {
	f, done, err := r.scratch("limit-seqwrite")
	if err != nil {
		return Figures{}, err
	}
	defer done()
	block := make([]byte, limitWriteBlock)
	for i := range block {
		block[i] = byte(i)
	}
	total := r.seqWriteBytes()
	start := time.Now()
	for off := int64(0); off < total; off += int64(len(block)) {
		if _, err := f.WriteAt(block, off); err != nil {
			return Figures{}, err
		}
		if ctx.Err() != nil {
			return Figures{}, ctx.Err()
		}
	}
	if err := f.Sync(); err != nil {
		return Figures{}, err
	}
	return Figures{BytesPerSec: float64(total) / time.Since(start).Seconds()}, nil
}

// appendSync appends small writes, each followed by a data sync, for the
// run's duration: what a commit of one small record costs at the least. Into
// a growing file, each sync also records the new size and blocks; into
// preallocated space, it also marks the blocks written.
func appendSync(ctx context.Context, r *runner, prealloc bool) (Figures, error) {
	f, done, err := r.scratch(fmt.Sprintf("limit-append-%v", prealloc))
	if err != nil {
		return Figures{}, err
	}
	defer done()
	if prealloc {
		if err := f.Allocate(0, limitPreallocBytes); err != nil {
			return Figures{}, err
		}
		if err := f.Sync(); err != nil {
			return Figures{}, err
		}
	}
	rec := make([]byte, limitAppendSize)
	start := time.Now()
	n := int64(0)
	for time.Since(start) < r.sz.duration && ctx.Err() == nil {
		off := n * limitAppendSize
		if prealloc && off+limitAppendSize > limitPreallocBytes {
			break
		}
		if _, err := f.WriteAt(rec, off); err != nil {
			return Figures{}, err
		}
		if err := f.Sync(); err != nil {
			return Figures{}, err
		}
		n++
	}
	var fig Figures
	fig.setThroughput(n, limitAppendSize, time.Since(start))
	return fig, ctx.Err()
}

// memCopy copies a 64 MiB block into another for the run's duration: the
// bound of any read that hands records over in memory.
func memCopy(ctx context.Context, r *runner) (Figures, error) {
	size := limitCopyBlock
	if r.cfg.Short {
		size = 4 << 20
	}
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in before the clock starts
	start := time.Now()
	n := int64(0)
	for time.Since(start) < r.sz.duration && ctx.Err() == nil {
		copy(dst, src)
		n++
	}
	return Figures{BytesPerSec: float64(n) * float64(size) / time.Since(start).Seconds()}, ctx.Err()
}
