package main

import (
	"context"

	"github.com/spf13/cobra"
)

// cmdContext is the command's context, which Ctrl-C cancels.
func cmdContext(cmd *cobra.Command) context.Context {
	if cmd == nil || cmd.Context() == nil {
		return context.Background()
	}
	return cmd.Context()
}
