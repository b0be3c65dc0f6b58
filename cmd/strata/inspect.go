package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/tools"
)

func inspectCommand() *cobra.Command {
	var (
		opts       tools.InspectOptions
		format     string
		asJSON     bool
		keys       bool
		minSize    string
		noProgress bool
		dir        string
		dirOpts    tools.DirSourceOptions
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE.rdb | --dir DIR",
		Short: "Report what a Redis dump or a Strata data directory holds: sizes by type, biggest keys, key prefixes",
		Long: `Inspect reads an RDB file once, without any server, and reports per database, type
and encoding the keys, the keys with an expiry, the bytes they take in the file and the
memory Redis 7.0 would use for them (an estimate of MEMORY USAGE); the biggest keys by
size in the file, by element count and by estimated memory; and the key prefixes that
take the most. With --keys it prints every selected key and its value as JSON lines
instead. Empty collections, which Redis skips when it loads a dump, are skipped too
('strata check' reports them). Output goes to stdout; progress and warnings go to stderr.

With --dir DIR instead of a file it reports on a Strata data directory, as if on the RDB
file 'strata export --dir DIR --rdb-version N' would write (N is --rdb-version, by default
12, which holds everything): the directory is streamed as an RDB, never stored, and the
sizes are bytes in that RDB. A directory in use by a running server is read from a
checkpoint the server makes on request, as 'strata export' does (see its help; --user and
--password, or REDISCLI_AUTH, when the server requires them).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (dir != "") {
				return errors.New("give an RDB file or --dir DIR (exactly one)")
			}
			if dir == "" && (cmd.Flags().Changed("rdb-version") || dirOpts.Access.Password != "" || dirOpts.Access.Username != "") {
				return errors.New("--rdb-version, --user and --password go with --dir")
			}
			if asJSON {
				if cmd.Flags().Changed("format") && format != tools.FormatJSON {
					return fmt.Errorf("--json and --format %s disagree", format)
				}
				format = tools.FormatJSON
			}
			switch format {
			case tools.FormatTable, tools.FormatJSON, tools.FormatCSV:
			default:
				return fmt.Errorf("unknown format %q (table, json or csv)", format)
			}
			if keys && cmd.Flags().Changed("format") && format != tools.FormatJSON {
				return errors.New("--keys prints JSON lines; it has no table or csv form")
			}
			n, err := tools.ParseByteSize(minSize)
			if err != nil {
				return fmt.Errorf("--min-size: %w", err)
			}
			opts.Filter.MinSize = n
			var (
				src  tools.EventSource
				size int64 = -1
			)
			if dir != "" {
				if dirOpts.Access.Password == "" {
					dirOpts.Access.Password = os.Getenv("REDISCLI_AUTH")
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				d, err := tools.OpenDir(ctx, dir, dirOpts)
				if err != nil {
					return err
				}
				// A failure of the export surfaces through the source's reads; Close only
				// cleans up (and removes the checkpoint).
				defer d.Close()
				src = d
			} else {
				f, err := tools.OpenRDB(args[0], &rdb.ReaderOptions{SkipEmptyKeys: true})
				if err != nil {
					return err
				}
				defer f.Close()
				src, size = f, f.Size
			}
			progress := tools.Progress(tools.NoProgress{})
			if !noProgress {
				progress = tools.ProgressOn(os.Stderr, size, "inspect")
			}
			if keys {
				return tools.DumpKeys(os.Stdout, src, tools.DumpOptions{Filter: opts.Filter, Progress: progress})
			}
			opts.Progress = progress
			rep, runErr := tools.Inspect(src, opts)
			if rep == nil {
				return runErr
			}
			for _, w := range rep.Warnings {
				fmt.Fprintln(os.Stderr, "warning:", w)
			}
			if err := tools.WriteReport(os.Stdout, rep, format); err != nil {
				return err
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "inspect this Strata data directory instead of an RDB file")
	f.IntVar(&dirOpts.Version, "rdb-version", rdb.MaxWriteVersion, "--dir: the RDB version whose sizes are reported (9 to 12)")
	f.StringVar(&dirOpts.Access.Username, "user", "", "--dir: username for AUTH when DIR's server is running")
	f.StringVar(&dirOpts.Access.Password, "password", "", "--dir: password for AUTH when DIR's server is running (default $REDISCLI_AUTH)")
	f.IntVar(&opts.Top, "top", 10, "how many biggest keys and prefixes to list")
	f.StringVar(&opts.PrefixSep, "prefix-sep", ":", "separator of key name segments")
	f.IntVar(&opts.PrefixDepth, "prefix-depth", 1, "leading segments that make a key's prefix (0: no prefix report)")
	f.IntVar(&opts.MaxPrefixes, "max-prefixes", 200000, "distinct prefixes counted before the rest are lumped together")
	f.IntSliceVar(&opts.Filter.DBs, "db", nil, "only this database (repeat or comma-separate for several)")
	f.StringVar(&opts.Filter.Match, "match", "", "only keys matching this glob pattern (Redis syntax)")
	f.StringVar(&opts.Filter.Type, "type", "", "only keys of this type: string, list, set, zset, hash, stream, module")
	f.StringVar(&minSize, "min-size", "0", "only keys taking at least this many bytes in the dump (e.g. 4096, 10kb, 1mb)")
	f.StringVar(&format, "format", tools.FormatTable, "report format: table, json or csv")
	f.BoolVar(&asJSON, "json", false, "same as --format json")
	f.BoolVar(&keys, "keys", false, "print every selected key and its value as JSON lines")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar, even on a terminal")
	return cmd
}
