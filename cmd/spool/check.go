package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spooldb/spool/internal/store"
)

// errDamaged makes the command exit 1 after its report.
var errDamaged = errors.New("the file is damaged")

func newCheck(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Verify every checksum in the file; exit 1 with a report on damage",
		Long: `check opens the file read-only (which verifies the meta pages, the checkpoint
and the journal), then reads every record batch and verifies its checksum and
that offsets run on without gaps.`,
		Example: "  spool -f events.spool check",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.with(true, func(s *store.Store) error {
				r, err := s.Check(cmd.Context(), nil)
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
