package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// readChunk is how much one read of the input asks for.
const readChunk = 256 << 10

// lineSplitter calls line for each line of an input (without its line
// ending, "\n" or "\r\n"; a last line without one counts too), and idle
// whenever it has handled all the input that has arrived and would wait for
// more. A producer commits in idle, so that records typed at a terminal or
// written by a slow `tail -f` are committed at once, while a fast pipe fills
// batches: the longer a commit takes, the more input waits for the next.
type lineSplitter struct {
	line    func([]byte) error
	idle    func() error
	maxLine int               // a longer line is an error
	tooLong func(n int) error // the error for it
}

type chunk struct {
	buf []byte // the whole buffer, to hand back
	n   int    // the bytes read into it
	err error
}

// run reads r in a goroutine, so that it can tell when input has paused,
// and splits what arrives until r ends, a callback fails or ctx ends.
func (ls *lineSplitter) run(ctx context.Context, r io.Reader) error {
	const buffers = 3
	chunks := make(chan chunk, buffers)
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, readChunk)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := r.Read(buf)
			select {
			case chunks <- chunk{buf, n, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var partial []byte // a line that goes on in the next chunk
	for {
		var c chunk
		select {
		case c = <-chunks:
		default:
			if err := ls.idle(); err != nil {
				return err
			}
			select {
			case c = <-chunks:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var err error
		if partial, err = ls.split(partial, c.buf[:c.n]); err != nil {
			return err
		}
		free <- c.buf
		switch {
		case errors.Is(c.err, io.EOF):
			if len(partial) > 0 {
				return ls.line(trimCR(partial))
			}
			return nil
		case c.err != nil:
			return fmt.Errorf("reading standard input: %w", c.err)
		}
	}
}

// split hands every whole line of partial+data to line and returns the
// bytes after the last line ending, copied into partial's buffer.
func (ls *lineSplitter) split(partial, data []byte) ([]byte, error) {
	if len(partial) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return ls.keep(partial, data)
		}
		partial = append(partial, data[:i]...)
		if err := ls.line(trimCR(partial)); err != nil {
			return partial, err
		}
		partial, data = partial[:0], data[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return ls.keep(partial, data)
		}
		if err := ls.line(trimCR(data[:i])); err != nil {
			return partial, err
		}
		data = data[i+1:]
	}
}

// keep appends the start of a line to partial, unless it is already too
// long to be a record.
func (ls *lineSplitter) keep(partial, data []byte) ([]byte, error) {
	if n := len(partial) + len(data); n > ls.maxLine {
		return partial, ls.tooLong(n)
	}
	return append(partial, data...), nil
}

func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}
