package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/format"
	"github.com/spooldb/spool/internal/store"
)

// errDamaged makes the command exit 1 after its report.
var errDamaged = errors.New("the file is damaged")

// errUnknownGroup is a group the file holds no offsets for.
var errUnknownGroup = errors.New("unknown group")

// hinted is an error with what to do about it, printed on the lines after it.
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() + "\n  " + h.hint }
func (h hinted) Unwrap() error { return h.err }

// explain adds the fix to an error whose cause the user can act on: a
// missing topic or group names the command that lists what there is.
func (g *globals) explain(err error) error {
	var h hinted
	switch {
	case errors.As(err, &h):
		return err
	case errors.Is(err, store.ErrUnknownTopic):
		return hinted{err, "see the topics with: " + g.command("topic list")}
	case errors.Is(err, errUnknownGroup):
		return hinted{err, "see the groups with: " + g.command("group list")}
	case errors.Is(err, store.ErrGroupNotEmpty):
		return hinted{err, "stop the group's consumers first, then run this again; see the members with: " + g.command("group describe GROUP")}
	case errors.Is(err, format.ErrNotSpool):
		return hinted{err, "--file must name a spool file, or a path where none exists yet"}
	case errors.Is(err, store.ErrCorrupt):
		return hinted{err, "the file's meta pages or journal are damaged, so it cannot be opened; restore it from a copy"}
	case errors.Is(err, store.ErrInvalidConfig):
		return hinted{err, "see the configuration names and values with: spool topic create --help"}
	}
	return err
}

// command spells a spool command line on the file the flags name, for
// hints; the file is quoted when a shell would split it.
func (g *globals) command(args string) string {
	if g.file == "" {
		return "spool " + args
	}
	return fmt.Sprintf("spool -f %s %s", shellQuote(g.file), args)
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// flagError names the help that lists a command's flags after a flag it
// does not know or a value it cannot parse.
func flagError(cmd *cobra.Command, err error) error {
	return hinted{err, fmt.Sprintf("see the flags with: %s --help", cmd.CommandPath())}
}

// argsNamed checks a command's positional arguments against the names in its
// usage, so that a missing one is named rather than counted.
func argsNamed(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return hinted{fmt.Errorf("missing %s", strings.Join(names[len(args):], " ")),
				fmt.Sprintf("usage: %s; see %s --help", cmd.UseLine(), cmd.CommandPath())}
		case len(args) > len(names):
			return hinted{fmt.Errorf("unexpected argument %q", args[len(names)]),
				fmt.Sprintf("usage: %s; see %s --help", cmd.UseLine(), cmd.CommandPath())}
		}
		return nil
	}
}
