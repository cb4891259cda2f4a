package assign

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// tableCase is one case of a file in testdata (format in testdata/README).
type tableCase struct {
	name      string
	line      int
	assignors []string
	members   []Member
	topics    map[string]int32
	prev      Assignment
	want      Assignment
}

func TestTables(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no table files: %v", err)
	}
	for _, file := range files {
		for _, c := range readCases(t, file) {
			for _, name := range c.assignors {
				a, ok := ByName(name)
				if !ok {
					t.Fatalf("%s:%d: unknown assignor %q", file, c.line, name)
				}
				got := a.Assign(c.members, c.topics, c.prev)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s:%d %s (%s):\n got  %v\n want %v", file, c.line, c.name, name, got, c.want)
				}
			}
		}
	}
}

func readCases(t *testing.T, file string) []*tableCase {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*tableCase
	var c *tableCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] == "case" {
			c = &tableCase{name: strings.Join(fields[1:], " "), line: n, topics: map[string]int32{}, prev: Assignment{}, want: Assignment{}}
			cases = append(cases, c)
			continue
		}
		if c == nil || len(fields) < 2 {
			t.Fatalf("%s:%d: bad line %q", file, n, sc.Text())
		}
		args := fields[2:]
		switch fields[0] {
		case "assignor":
			c.assignors = fields[1:]
		case "topic":
			count, err := strconv.ParseInt(fields[2], 10, 32)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, n, err)
			}
			c.topics[fields[1]] = int32(count)
		case "member":
			m := Member{ID: fields[1]}
			if len(args) > 0 && strings.HasPrefix(args[0], "instance=") {
				m.InstanceID = strings.TrimPrefix(args[0], "instance=")
				args = args[1:]
			}
			m.Topics = args
			c.members = append(c.members, m)
		case "prev":
			c.prev[fields[1]] = parsePartitions(t, file, n, args)
		case "want":
			c.want[fields[1]] = parsePartitions(t, file, n, args)
		default:
			t.Fatalf("%s:%d: unknown keyword %q", file, n, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// parsePartitions parses topic:partition words; none gives an empty list.
func parsePartitions(t *testing.T, file string, line int, words []string) []TopicPartition {
	tps := []TopicPartition{}
	for _, w := range words {
		i := strings.LastIndexByte(w, ':')
		p, err := strconv.ParseInt(w[i+1:], 10, 32)
		if i < 0 || err != nil {
			t.Fatalf("%s:%d: bad partition %q", file, line, w)
		}
		tps = append(tps, TopicPartition{w[:i], int32(p)})
	}
	return tps
}
