package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// Shapes of command that more than one command group shares.

// commandGroup is a command that only holds subcommands (topic, group). It
// runs so that a subcommand it does not know is an error rather than a help
// page and exit status 0, which is what cobra does for a command without Run.
func commandGroup(use, short, example string, subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:                        use,
		Short:                      short,
		Example:                    example,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
			}
			return hinted{errors.New(msg), fmt.Sprintf("see the commands with: %s --help", cmd.CommandPath())}
		},
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// newNameList is a command that prints the names list returns, one a line:
// topic list and group list.
func newNameList(g *globals, short, example string, list func(*store.Store) ([]string, error)) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   short,
		Example: example,
		Args:    argsNamed(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				names, err := list(s)
				for _, name := range names {
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
				return err
			})
		},
	}
}
