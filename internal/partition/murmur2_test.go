package partition

import (
	"bufio"
	"encoding/hex"
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var murmurSeed64 = flag.Uint64("murmur2.seed", 0, "seed of the random keys compared with franz-go; 0 picks one from the clock")

// TestMurmur2Published checks the vectors that Kafka and librdkafka publish
// with their own tests, each with its source. These pin the full 32 bits,
// sign included, which franz-go's public API cannot show (see
// TestForKeyMatchesFranzGo).
func TestMurmur2Published(t *testing.T) {
	for _, c := range []struct {
		key    string
		want   int32
		source string
	}{
		// Apache Kafka clients/src/test/java/org/apache/kafka/common/
		// utils/UtilsTest.java, testMurmur2.
		{"21", -973932308, "Kafka UtilsTest"},
		{"foobar", -790332482, "Kafka UtilsTest"},
		{"a-little-bit-long-string", -985981536, "Kafka UtilsTest"},
		{"a-little-bit-longer-string", -1486304829, "Kafka UtilsTest"},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, "Kafka UtilsTest"},
		{"abc", 479470107, "Kafka UtilsTest"},
		// librdkafka src/rdmurmur2.c, unittest_murmur2, whose table is
		// named java_murmur2_results; it covers every tail length.
		{"kafka", bits(0xd067cf64), "librdkafka"},
		{"giberish123456789", bits(0x8f552b0c), "librdkafka"},
		{"1234", bits(0x9fc97b14), "librdkafka"},
		{"234", bits(0xe7c009ca), "librdkafka"},
		{"34", bits(0x873930da), "librdkafka"},
		{"4", bits(0x5a4b5ca1), "librdkafka"},
		{"PreAmbleWillBeRemoved,ThePrePartThatIs", bits(0x78424f1c), "librdkafka"},
		{"reAmbleWillBeRemoved,ThePrePartThatIs", bits(0x4a62b377), "librdkafka"},
		{"eAmbleWillBeRemoved,ThePrePartThatIs", bits(0xe0e4e09e), "librdkafka"},
		{"AmbleWillBeRemoved,ThePrePartThatIs", bits(0x62b8b43f), "librdkafka"},
		{"", bits(0x106e08d9), "librdkafka"},
	} {
		if got := Murmur2([]byte(c.key)); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d (%s)", c.key, got, c.want, c.source)
		}
	}
	if got, want := Murmur2(nil), Murmur2([]byte{}); got != want {
		t.Errorf("Murmur2(nil) = %d, Murmur2(empty) = %d: Java hashes an empty array, nil must match it", got, want)
	}
}

// bits reads a hash written in hex, as librdkafka writes them, as the
// signed int Java returns.
func bits(h uint32) int32 { return int32(h) }

// knownRow is one line of testdata/murmur2.txt.
type knownRow struct {
	line    int
	text    string // the key as written, for messages
	key     []byte
	murmur2 int32
	parts   []int32 // one per count of the partitions line
}

// readKnown parses testdata/murmur2.txt, which murmur2_gen.js wrote from
// KafkaJS, an implementation independent of this package and of franz-go.
func readKnown(t *testing.T) (counts []int32, rows []knownRow) {
	t.Helper()
	f, err := os.Open("testdata/murmur2.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	atoi := func(line int, s string) int32 {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			t.Fatalf("murmur2.txt:%d: %v", line, err)
		}
		return int32(v)
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if fields[0] == "partitions" {
			for _, s := range fields[1:] {
				counts = append(counts, atoi(line, s))
			}
			continue
		}
		if counts == nil {
			t.Fatalf("murmur2.txt:%d: row before the partitions line", line)
		}
		if len(fields) != 2+len(counts) {
			t.Fatalf("murmur2.txt:%d: %d fields, want %d", line, len(fields), 2+len(counts))
		}
		r := knownRow{line: line, text: fields[0], murmur2: atoi(line, fields[1])}
		switch kind, val, _ := strings.Cut(fields[0], ":"); kind {
		case "text":
			r.key = []byte(val)
		case "hex":
			if r.key, err = hex.DecodeString(val); err != nil {
				t.Fatalf("murmur2.txt:%d: %v", line, err)
			}
		default:
			t.Fatalf("murmur2.txt:%d: key %q is neither text: nor hex:", line, fields[0])
		}
		for _, s := range fields[2:] {
			r.parts = append(r.parts, atoi(line, s))
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 100 {
		t.Fatalf("murmur2.txt has %d rows; the file is cut short", len(rows))
	}
	return counts, rows
}

// TestKnownAnswers checks every row of testdata/murmur2.txt against this
// package and against franz-go, so each answer is backed by two clients
// besides this one.
func TestKnownAnswers(t *testing.T) {
	counts, rows := readKnown(t)
	kafkaPart := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for _, r := range rows {
		if got := Murmur2(r.key); got != r.murmur2 {
			t.Errorf("murmur2.txt:%d: Murmur2(%s) = %d, want %d", r.line, r.text, got, r.murmur2)
		}
		for i, n := range counts {
			if got := ForKey(r.key, n); got != r.parts[i] {
				t.Errorf("murmur2.txt:%d: ForKey(%s, %d) = %d, want %d", r.line, r.text, n, got, r.parts[i])
			}
			if got := kafkaPart.Partition(&kgo.Record{Key: r.key}, int(n)); got != int(r.parts[i]) {
				t.Errorf("murmur2.txt:%d: franz-go puts %s in %d of %d, the file says %d", r.line, r.text, got, n, r.parts[i])
			}
		}
	}
}

// TestForKeyMatchesFranzGo compares ForKey with franz-go's default keyed
// partitioner on random keys of every tail length. franz-go keeps its
// murmur2 unexported, so the hash is compared through the partitioner with
// 1<<31 partitions, where the modulo returns the hash's low 31 bits whole;
// the sign bit is pinned by TestMurmur2Published and murmur2.txt.
func TestForKeyMatchesFranzGo(t *testing.T) {
	seed := *murmurSeed64
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random keys from seed %d (rerun with -murmur2.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	kafkaPart := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	counts := []int32{1, 2, 3, 5, 7, 12, 16, 32, 100, 1000, 1 << 20, 0x7fffffff}
	key := make([]byte, 64)
	const keys = 5000
	for i := range keys {
		k := key[:rng.IntN(len(key)+1)]
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		rec := &kgo.Record{Key: k}
		if strconv.IntSize == 64 {
			// 1<<31 fits an int only on 64-bit platforms; a variable
			// shift keeps the constant from failing to compile elsewhere.
			shift := 31
			full := 1 << shift
			if got, want := int(Murmur2(k)&0x7fffffff), kafkaPart.Partition(rec, full); got != want {
				t.Fatalf("key %x: Murmur2 low 31 bits %d, franz-go %d", k, got, want)
			}
		}
		for _, n := range append(counts, 1+rng.Int32N(1<<16)) {
			if got, want := ForKey(k, n), kafkaPart.Partition(rec, int(n)); int(got) != want {
				t.Fatalf("key %x (%d of %d): ForKey(_, %d) = %d, franz-go %d", k, i, keys, n, got, want)
			}
		}
	}
}

// TestDefaultMatchesFranzGoKeyed checks the keyed path of the Default
// partitioner, not only ForKey, against franz-go: a keyed record must never
// be caught by stickiness, an empty key included.
func TestDefaultMatchesFranzGoKeyed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ours := NewDefault(rand.NewPCG(3, 4))
	theirs := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	keys := [][]byte{{}, []byte("a"), []byte("21")}
	for range 1000 {
		k := make([]byte, rng.IntN(40))
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	for i, k := range keys {
		const n = 12
		if got, want := ours.Partition(Record{Key: k}, n), theirs.Partition(&kgo.Record{Key: k}, n); int(got) != want {
			t.Fatalf("key %x: Default put it in %d, franz-go in %d", k, got, want)
		}
		if i%7 == 0 {
			// Batches ending in between must not move keyed records.
			ours.OnBatchDone(ForKey(k, n))
		}
	}
}

// TestForKeyPanicsOnNoPartitions checks the documented panic.
func TestForKeyPanicsOnNoPartitions(t *testing.T) {
	for _, n := range []int32{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ForKey(_, %d) did not panic", n)
				}
			}()
			ForKey([]byte("k"), n)
		}()
	}
}
