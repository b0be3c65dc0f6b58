package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/stratadb/strata/tools"
)

func checkCommand() *cobra.Command {
	var (
		noProgress  bool
		fix         bool
		toTimestamp int64
	)
	cmd := &cobra.Command{
		Use:   "check FILE.rdb | FILE.aof | appendonlydir | MANIFEST",
		Short: "Verify an RDB file like redis-check-rdb, or an AOF like redis-check-aof",
		Long: `Check reads a whole RDB file, decodes every key and compares the CRC64 at the end. It
prints the RDB version, the aux fields, the keys per database and the checksum status; on
the first problem it prints its byte offset and the key being read and exits with status 1.

An AOF (a file named *.aof or starting with a command, a Redis 7 manifest or appendonlydir)
is checked as redis-check-aof checks it: every command of every file the manifest lists, an
RDB preamble as an RDB file; the first problem is printed with its file and byte offset, then
redis-check-aof's "AOF analyzed" line, and the status is 1. --fix truncates the last file at
the end of its last good command (a command cut short, a MULTI without EXEC), asking first
when stdin is a terminal; a problem in an earlier file cannot be fixed.
--truncate-to-timestamp T cuts the last file at its first "#TS:" annotation after the unix
time T, as redis-check-aof does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isAOF, err := tools.IsAOFPath(args[0]); err != nil {
				return err
			} else if isAOF {
				return checkAOF(args[0], fix, toTimestamp, noProgress)
			}
			if fix || toTimestamp != 0 {
				return errors.New("--fix and --truncate-to-timestamp apply to AOFs, not to RDB files")
			}
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
	cmd.Flags().BoolVar(&fix, "fix", false, "AOF: truncate the last file at the end of its last good command")
	cmd.Flags().Int64Var(&toTimestamp, "truncate-to-timestamp", 0, "AOF: truncate at the first #TS: annotation after this unix time")
	return cmd
}
