package main

import (
	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// newCompletion writes a shell's completion script, which cobra generates. It
// replaces cobra's default completion command, which has no examples and
// writes to the stdout it found when it was added rather than the command's.
func newCompletion() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Write the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Write a script that completes spool's commands and flags, and the names of
topics and groups in the file that -f or SPOOL_FILE names, for bash (which
needs the bash-completion package), zsh, fish or PowerShell.`,
		Example: `  source <(spool completion bash)                       # this bash session
  spool completion bash > /etc/bash_completion.d/spool  # every bash session
  spool completion zsh > "${fpath[1]}/_spool"            # zsh, with compinit
  spool completion fish > ~/.config/fish/completions/spool.fish`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(argsNamed("SHELL"), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return root.GenPowerShellCompletionWithDesc(out)
		},
	}
}

// The functions below give completion the names in the file, read with the
// same --file or SPOOL_FILE as the command being completed.

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
