package main

import (
	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// Shell completion comes from cobra's own "completion" command (bash, zsh,
// fish, PowerShell); these functions give it the names in the file, read
// with the same --file or SPOOL_FILE as the command being completed.

// completeTopics completes the first positional argument with topic names.
func (g *globals) completeTopics(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return g.topicNames(cmd, args, toComplete)
}

// completeGroups completes the first positional argument with group names.
func (g *globals) completeGroups(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return g.groupNames(cmd, args, toComplete)
}

// topicNames lists the file's topics, for a positional argument or a flag.
func (g *globals) topicNames(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return g.names(topicNames)
}

// groupNames lists the file's groups, for a positional argument or a flag.
func (g *globals) groupNames(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return g.names((*store.Store).Groups)
}

// names opens the file read-only and returns what list finds; on any error
// it offers nothing rather than file names, which would never be right.
func (g *globals) names(list func(*store.Store) ([]string, error)) ([]string, cobra.ShellCompDirective) {
	var names []string
	err := g.with(true, func(s *store.Store) error {
		var err error
		names, err = list(s)
		return err
	})
	if err != nil {
		names = nil
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
