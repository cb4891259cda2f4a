package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spooldb/spool/internal/format"
)

// printRecord prints r as --format spec does.
func printRecord(t *testing.T, spec string, r *format.BatchRecord) string {
	t.Helper()
	p, err := newRecordPrinter(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if err := p.print(w, "orders", 2, r); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return out.String()
}

// jsonRecord is the schema of --format json, for reading it back.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	KeyEncoding   string  `json:"key_encoding,omitempty"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

func TestJSONRecord(t *testing.T) {
	r := &format.BatchRecord{Offset: 7, Timestamp: 1700000000000, Key: []byte("k<1>"), Value: []byte{0xff, 0x00, 0x01},
		Headers: []format.RecordHeader{{Key: []byte("trace"), Value: []byte("abc")}, {Key: []byte("bin"), Value: []byte{0xc3}}, {Key: []byte("null")}}}
	out := printRecord(t, "json", r)
	want := `{"topic":"orders","partition":2,"offset":7,"timestamp":1700000000000,"key":"k<1>","value":"/wAB","value_encoding":"base64",` +
		`"headers":[{"key":"trace","value":"abc"},{"key":"bin","value":"ww==","value_encoding":"base64"},{"key":"null","value":null}]}` + "\n"
	if out != want {
		t.Fatalf("json:\n%s\nwant\n%s", out, want)
	}
	out = printRecord(t, "json", &format.BatchRecord{Value: []byte("v")})
	var j jsonRecord
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.Key != nil || *j.Value != "v" || j.Headers == nil {
		t.Fatalf("a record without key or headers: %s", out)
	}
	// Every byte a JSON string must escape, and UTF-8 beyond ASCII, read
	// back as they were written.
	var all []byte
	for c := range 0x80 {
		all = append(all, byte(c))
	}
	all = append(all, "é€😀\u2028"...)
	out = printRecord(t, "json", &format.BatchRecord{Key: all, Value: []byte{}})
	if err := json.Unmarshal([]byte(out), &j); err != nil || *j.Key != string(all) || *j.Value != "" || j.KeyEncoding != "" {
		t.Fatalf("escaping: %s: %v", out, err)
	}
}

func TestTemplateRecord(t *testing.T) {
	r := &format.BatchRecord{Offset: 3, Timestamp: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), Key: []byte("alice"),
		Value: []byte("42"), Headers: []format.RecordHeader{{Key: []byte("source"), Value: []byte("cli")}}}
	spec := `{{.Topic}}/{{.Partition}}@{{.Offset}} {{.Timestamp.UTC.Format "2006-01-02"}} {{.Key}}={{.Value}} {{.Header "source"}}{{range .Headers}} {{.Key}}{{end}} {{.KeyNull}}`
	if got, want := printRecord(t, spec, r), "orders/2@3 2024-05-01 alice=42 cli source false\n"; got != want {
		t.Fatalf("template: %q, want %q", got, want)
	}
	if got := printRecord(t, "text", r); got != "42\n" {
		t.Fatalf("text: %q", got)
	}
	for _, bad := range []string{"yaml", "{{.Nope", "{{.Nope}}"} {
		p, err := newRecordPrinter(bad)
		if err == nil {
			err = p.print(bufio.NewWriter(&bytes.Buffer{}), "t", 0, r)
		}
		if err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("--format %q: %v", bad, err)
		}
	}
}

// TestProgressOnlyOnTerminal draws on a terminal and writes nothing when
// stderr is piped.
func TestProgressOnlyOnTerminal(t *testing.T) {
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	for _, terminal := range []bool{false, true} {
		isTerminal = func(io.Writer) bool { return terminal }
		f := filepath.Join(t.TempDir(), "p.spool")
		if _, err := run(t, "", "-f", f, "topic", "create", "t"); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runCapture(t, strings.Repeat("line\n", 5000), "-f", f, "produce", "t")
		if err != nil {
			t.Fatal(err)
		}
		if drawn := strings.Contains(stderr, "\rproduced "); drawn != terminal {
			t.Errorf("terminal %v: stderr %q", terminal, stderr)
		}
		if !strings.HasSuffix(stderr, "produced 5000 records to t\n") {
			t.Errorf("terminal %v: the last line of stderr is not the summary: %q", terminal, stderr)
		}
	}
}
