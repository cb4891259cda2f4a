package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

func newCheck(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Verify every checksum in the file; exit 1 with a report on damage",
		Long: `check opens the file read-only (which verifies the meta pages, the checkpoint
and the journal), then reads every record batch and verifies its checksum and
that offsets run on without gaps. Each problem is printed on a line that starts
with "damaged:", naming the topic, partition, extent and offset; the exit
status is 1 when there is any. A file whose journal or meta pages are damaged
does not open, and check exits 1 with that error.`,
		Example: `  spool -f events.spool check
  spool -f events.spool check || cp events.spool events.damaged`,
		Args: argsNamed(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				bar := newProgress(cmd)
				r, err := s.Check(cmd.Context(), func(done, total int64) {
					bar.show("checked %s of %s (%.0f%%)", humanBytes(done), humanBytes(total), percent(done, total))
				})
				bar.done()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				for _, p := range r.Problems {
					fmt.Fprintln(out, "damaged:", p)
				}
				fmt.Fprintf(out, "%d partitions, %d extents, %d batches, %d bytes checked, %d problems\n",
					r.Partitions, r.Extents, r.Batches, r.Bytes, len(r.Problems))
				if len(r.Problems) > 0 {
					return errDamaged
				}
				return nil
			})
		},
	}
}
