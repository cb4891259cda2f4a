package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
		return jsonRecords{}, nil
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

type jsonRecords struct{}

// jsonRecord is the object --format json prints for each record.
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

// jsonBytes returns b as a JSON string: nil when null, base64 (and the
// encoding's name) when b is not UTF-8, which a JSON string cannot carry.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

func (jsonRecords) print(w *bufio.Writer, topic string, partition int32, r *format.BatchRecord) error {
	j := jsonRecord{Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Headers: make([]jsonHeader, len(r.Headers))}
	j.Key, j.KeyEncoding = jsonBytes(r.Key)
	j.Value, j.ValueEncoding = jsonBytes(r.Value)
	for i, h := range r.Headers {
		key, keyEncoding := jsonBytes(h.Key)
		if key == nil {
			key = new(string) // header keys are never null
		}
		j.Headers[i] = jsonHeader{Key: *key, KeyEncoding: keyEncoding}
		j.Headers[i].Value, j.Headers[i].ValueEncoding = jsonBytes(h.Value)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(j) // Encode ends the line
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
