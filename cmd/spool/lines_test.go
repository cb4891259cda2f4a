package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll runs a lineSplitter over r and returns the lines and the number
// of idle calls.
func splitAll(t *testing.T, r io.Reader, maxLine int) ([]string, int, error) {
	t.Helper()
	var lines []string
	idles := 0
	ls := lineSplitter{
		line:    func(b []byte) error { lines = append(lines, string(b)); return nil },
		idle:    func() error { idles++; return nil },
		maxLine: maxLine,
		tooLong: func(n int) error { return errors.New("too long") },
	}
	err := ls.run(context.Background(), r)
	return lines, idles, err
}

func TestLineSplitter(t *testing.T) {
	in := "a\r\nbb\n\nlast without newline"
	want := []string{"a", "bb", "", "last without newline"}
	// One byte a read puts every line across chunk boundaries.
	for name, r := range map[string]io.Reader{"whole": strings.NewReader(in), "byte by byte": iotest.OneByteReader(strings.NewReader(in))} {
		lines, _, err := splitAll(t, r, 100)
		if err != nil || strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %q, %v; want %q", name, lines, err, want)
		}
	}
	if lines, _, err := splitAll(t, strings.NewReader(""), 100); err != nil || len(lines) != 0 {
		t.Errorf("empty input: %q, %v", lines, err)
	}
}

func TestLineSplitterLimits(t *testing.T) {
	long := strings.Repeat("x", 2*readChunk) + "\n"
	if _, _, err := splitAll(t, strings.NewReader(long), readChunk); err == nil {
		t.Error("a line longer than maxLine passed")
	}
	lines, _, err := splitAll(t, iotest.HalfReader(strings.NewReader(long)), 3*readChunk)
	if err != nil || len(lines) != 1 || len(lines[0]) != 2*readChunk {
		t.Errorf("a long line across reads: %d lines, %v", len(lines), err)
	}
	failing := io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(errors.New("disk gone")))
	if _, _, err := splitAll(t, failing, 100); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("a read error: %v", err)
	}
}

// TestLineSplitterIdle: with input that pauses (a pipe written line by
// line), the splitter reports idle before it waits, so that what arrived
// is committed.
func TestLineSplitterIdle(t *testing.T) {
	r, w := io.Pipe()
	lines := make(chan string)
	idle := make(chan struct{})
	ls := lineSplitter{
		line:    func(b []byte) error { lines <- string(b); return nil },
		idle:    func() error { idle <- struct{}{}; return nil },
		maxLine: 100,
	}
	done := make(chan error, 1)
	go func() { done <- ls.run(context.Background(), r) }()
	<-idle // nothing has arrived yet
	go w.Write([]byte("one\n"))
	if got := <-lines; got != "one" {
		t.Fatalf("line %q", got)
	}
	<-idle // the input paused after "one": commit it
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
