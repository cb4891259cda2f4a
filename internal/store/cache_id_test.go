package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/vfs"
)

// TestRecoveryTrustsThePageCache opens a file whose writer died while the
// machine lived on: recovery does not read back what its unsynced records
// point at, because the page cache holds whatever the writer wrote. Damage
// that no process could have made shows it: the same bytes in a copy of the
// file, whose cache ID differs, are checked and the damaged commit is cut.
func TestRecoveryTrustsThePageCache(t *testing.T) {
	fs := vfs.NewMem()
	opts := journalOpts(fs)
	s := openWithTopics(t, opts, 1, "t")
	now := time.Now().UnixMilli()
	for i := range 10 {
		txn := &Txn{Appends: []Append{{Topic: "t", Batches: valuesBatch(now, []string{fmt.Sprintf("commit %d", i)})}}, Durability: DurabilityNone}
		if _, err := s.Commit(ctx, txn); err != nil {
			t.Fatal(err)
		}
	}
	killed := fs.CrashClean()
	f, err := killed.Open("f", false)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := f.Size()
	img := make([]byte, size)
	if err := readFull(f, img, 0); err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(img, []byte("commit 9"))
	if at < 0 {
		t.Fatal("the last commit's value is not in the file")
	}
	img[at] = 'X'
	if _, err := f.WriteAt(img[at:at+1], int64(at)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for _, c := range []struct {
		what string
		fs   vfs.FS
		want int64
	}{
		{"the file, after its writer was killed", killed, 10},
		{"a copy of it", crashMemFile(t, "f", img), 9},
	} {
		o := opts
		o.FS = c.fs
		s2, err := Open("f", o)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		_, hwm, err := s2.Offsets("t", 0)
		s2.Close()
		if err != nil || hwm != c.want {
			t.Errorf("%s: t/0 ends at %d (%v), want %d", c.what, hwm, err, c.want)
		}
	}
}
