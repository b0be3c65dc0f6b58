package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/stratadb/strata/tools"
)

func checkCommand() *cobra.Command {
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "check FILE.rdb",
		Short: "Verify an RDB file's structure and checksum, like redis-check-rdb",
		Long: `Check reads a whole RDB file, decodes every key and compares the CRC64 at the end. It
prints the RDB version, the aux fields, the keys per database and the checksum status; on
the first problem it prints its byte offset and the key being read and exits with status 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := tools.CheckOptions{Progress: tools.NoProgress{}}
			if st, err := os.Stat(args[0]); err == nil && !noProgress {
				opts.Progress = tools.ProgressOn(os.Stderr, st.Size(), "check")
			}
			rep := tools.Check(args[0], opts)
			if err := rep.Write(os.Stdout); err != nil {
				return err
			}
			if !rep.OK() {
				var pe *os.PathError
				if errors.As(rep.Err, &pe) {
					return rep.Err
				}
				return fmt.Errorf("%s is not a sound RDB file (problem at offset %d)", args[0], rep.ErrOffset)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar, even on a terminal")
	return cmd
}
