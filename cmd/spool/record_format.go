package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/spooldb/spool/internal/format"
)

// recordFormatHelp documents --format for consume's help.
const recordFormatHelp = `--format says how each record is printed:

  text (the default)  the value, then a newline
  json                one JSON object a line:
                      {"topic":"orders","partition":0,"offset":7,"timestamp":1700000000000,
                       "key":"k1","value":"...","headers":[{"key":"h","value":"v"}]}
                      timestamp is in Unix milliseconds; a null key or value is null;
                      a key or value that is not UTF-8 is in base64, and then a field
                      "key_encoding" or "value_encoding" says "base64" (headers alike)
  a Go template       executed for each record, then a newline; it sees the fields
                      .Topic .Partition .Offset .Timestamp (a time.Time) .Key .Value
                      (strings of the bytes as they are, empty when null), .KeyNull
                      .ValueNull, .Headers (a list of .Key and .Value), and the method
                      .Header "name" (the first header of that name's value)`

// recordPrinter prints one record in the format --format names.
type recordPrinter interface {
	print(w *bufio.Writer, topic string, partition int32, r *format.BatchRecord) error
}

func newRecordPrinter(spec string) (recordPrinter, error) {
	switch spec {
	case "", "text":
		return textRecords{}, nil
	case "json":
		return &jsonRecords{}, nil
	}
	if !strings.Contains(spec, "{{") {
		return nil, fmt.Errorf("--format %q: want text, json or a Go template such as '{{.Key}}: {{.Value}}'", spec)
	}
	t, err := template.New("--format").Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return templateRecords{t}, nil
}

type textRecords struct{}

func (textRecords) print(w *bufio.Writer, _ string, _ int32, r *format.BatchRecord) error {
	w.Write(r.Value)
	return w.WriteByte('\n')
}

// jsonRecords prints one JSON object a line. It writes the JSON itself:
// encoding/json made consume ten times slower than --format text.
type jsonRecords struct{ buf []byte }

func (j *jsonRecords) print(w *bufio.Writer, topic string, partition int32, r *format.BatchRecord) error {
	b := append(j.buf[:0], `{"topic":`...)
	b = appendJSONString(b, topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, r.Timestamp, 10)
	b = appendJSONBytes(append(b, ','), "key", r.Key)
	b = appendJSONBytes(append(b, ','), "value", r.Value)
	b = append(b, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		key := h.Key
		if key == nil {
			key = []byte{} // a header key is never null
		}
		b = appendJSONBytes(append(b, '{'), "key", key)
		b = appendJSONBytes(append(b, ','), "value", h.Value)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	j.buf = b
	_, err := w.Write(b)
	return err
}

// appendJSONBytes appends the member name with v: null when v is nil, a
// string when v is UTF-8, and otherwise base64 and a member name_encoding
// saying so, since a JSON string cannot carry other bytes.
func appendJSONBytes(b []byte, name string, v []byte) []byte {
	b = append(append(append(b, '"'), name...), '"', ':')
	switch {
	case v == nil:
		return append(b, "null"...)
	case utf8.Valid(v):
		return appendJSONString(b, v)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(append(append(b, `","`...), name...), `_encoding":"base64"`...)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

type templateRecords struct{ t *template.Template }

// templateRecord is what a --format template sees for each record.
type templateRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       string
	Value     string
	KeyNull   bool
	ValueNull bool
	Headers   []templateHeader
}

type templateHeader struct {
	Key   string
	Value string
}

// Header returns the value of the first header named name, or "".
func (r templateRecord) Header(name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return h.Value
		}
	}
	return ""
}

func (p templateRecords) print(w *bufio.Writer, topic string, partition int32, r *format.BatchRecord) error {
	tr := templateRecord{Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: time.UnixMilli(r.Timestamp),
		Key: string(r.Key), Value: string(r.Value), KeyNull: r.Key == nil, ValueNull: r.Value == nil}
	for _, h := range r.Headers {
		tr.Headers = append(tr.Headers, templateHeader{string(h.Key), string(h.Value)})
	}
	if err := p.t.Execute(w, tr); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	return w.WriteByte('\n')
}
