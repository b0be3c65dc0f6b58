package main

import (
	"errors"
	"fmt"
	"os"

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
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE.rdb",
		Short: "Report what a Redis dump holds: sizes by type, biggest keys, key prefixes",
		Long: `Inspect reads an RDB file once, without any server, and reports per database, type
and encoding the keys, the keys with an expiry, the bytes they take in the file and the
memory Redis 7.0 would use for them (an estimate of MEMORY USAGE); the biggest keys by
size in the file, by element count and by estimated memory; and the key prefixes that
take the most. With --keys it prints every selected key and its value as JSON lines
instead. Empty collections, which Redis skips when it loads a dump, are skipped too
('strata check' reports them). Output goes to stdout; progress and warnings go to stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			src, err := tools.OpenRDB(args[0], &rdb.ReaderOptions{SkipEmptyKeys: true})
			if err != nil {
				return err
			}
			defer src.Close()
			progress := tools.Progress(tools.NoProgress{})
			if !noProgress {
				progress = tools.ProgressOn(os.Stderr, src.Size, "inspect")
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
