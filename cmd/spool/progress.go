package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progressEvery is how often a progress line is redrawn.
const progressEvery = 200 * time.Millisecond

// progress shows how far a long operation got, on one line of stderr that it
// redraws. It shows nothing unless stderr is a terminal, so that scripts and
// logs that capture stderr get only the final message.
type progress struct {
	w     io.Writer // nil: quiet
	last  time.Time
	width int // of the line last drawn, to blank what a shorter one leaves
}

// isTerminal reports whether w is a terminal; a variable for tests.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgress(cmd *cobra.Command) *progress {
	if w := cmd.ErrOrStderr(); isTerminal(w) {
		return &progress{w: w}
	}
	return &progress{}
}

// show draws the line, at most every progressEvery.
func (p *progress) show(format string, args ...any) {
	if p.w == nil || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf(format, args...)
	// Spaces rather than an erase-line escape: old Windows consoles print
	// escapes as they are.
	pad := max(p.width-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

// done blanks the line, so that what is printed next starts clean.
func (p *progress) done() {
	if p.w != nil && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

// percent is done as a share of total, for progress lines.
func percent(done, total int64) float64 {
	if total <= 0 {
		return 100
	}
	return 100 * float64(done) / float64(total)
}
