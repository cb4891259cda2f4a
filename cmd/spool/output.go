package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// tableOrJSON is the --format flag of commands that print a table for people
// or one JSON object for programs.
type tableOrJSON struct{ format string }

func (o *tableOrJSON) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "format", "o", "text", "text or json")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// check rejects a --format other than text or json before any work is done.
func (o *tableOrJSON) check() error {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("--format %q: want text or json", o.format)
	}
	return nil
}

// print writes v as JSON, or calls table.
func (o *tableOrJSON) print(out io.Writer, v any, table func(io.Writer) error) error {
	if o.format == "json" {
		return json.NewEncoder(out).Encode(v)
	}
	return table(out)
}
