// Command spool works with spool files: topics, producing, consuming,
// consumer groups, and a demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C ends the command cleanly (consume commits its group's
	// progress); once it has, a second one kills the process as usual.
	context.AfterFunc(ctx, stop)
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	file string
	// mayCreate lets a command create the file. Only topic create sets it:
	// every other command needs a topic in the file, and would leave an empty
	// file behind a mistyped path.
	mayCreate bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "spool",
		Short: "An event stream in one file: Kafka's topics, offsets and consumer groups, without a cluster",
		Long: `spool keeps topics, partitions, offsets and consumer groups in a single file,
the way SQLite keeps a database. Name the file with --file (or SPOOL_FILE);
topic create creates it. docs/CLI.md describes every command.`,
		Example: `  spool demo
  export SPOOL_FILE=events.spool
  spool topic create orders --partitions 3
  seq 1 1000 | spool produce orders
  spool consume orders --group billing --count 10
  spool group describe billing`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.file, "file", "f", os.Getenv("SPOOL_FILE"), "the spool file (default $SPOOL_FILE)")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newStats(g), newCompletion())
	root.AddCommand(newDemo(), newTopic(g), newProduce(g), newConsume(g), newGroup(g), newCheck(g))
	root.AddCommand(newBench())
	return root
}

// with opens the file the flags name, runs fn on it and closes it.
func (g *globals) with(readOnly bool, fn func(s *store.Store) error) error {
	s, err := g.open(readOnly)
	if err != nil {
		return g.explain(err)
	}
	if err := fn(s); err != nil {
		s.Close()
		return g.explain(err)
	}
	return s.Close()
}

// open opens the file the flags name.
func (g *globals) open(readOnly bool) (*store.Store, error) {
	if err := g.check(readOnly); err != nil {
		return nil, err
	}
	return store.Open(g.file, store.Options{ReadOnly: readOnly, NoCreate: readOnly || !g.mayCreate})
}

// check fails unless the flags name a file, or one the command may create.
func (g *globals) check(readOnly bool) error {
	if g.file == "" {
		return errors.New("no file: pass --file PATH or set SPOOL_FILE")
	}
	if !g.mayCreate || readOnly {
		if _, err := os.Stat(g.file); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no file %s: check --file or SPOOL_FILE; %s creates it", g.file, g.command("topic create TOPIC"))
		}
	}
	return nil
}
