package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/tools"
)

func importCommand() *cobra.Command {
	var (
		o          tools.ImportOptions
		mode       string
		memory     string
		noProgress bool
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "import (--dir DIR | --to HOST:PORT) FILE.rdb|FILE.aof|appendonlydir",
		Short: "Import a Redis dump or AOF into a Strata data directory or a running server",
		Long: `Import reads an RDB file (any Redis version 2.x to 7.4, or Valkey) and writes its keys:

  --dir DIR        offline, into the Strata data directory DIR (created when missing; it must not
                   be in use by a running server). A directory without keys takes the bulk path
                   (keys sorted on disk and ingested as sstables); one with keys the batch path,
                   where imported keys replace existing ones. --mode forces either.
  --to HOST:PORT   online, into a running Strata or Redis (or a unix socket path), with pipelined
                   RESTORE commands; --replace overwrites existing keys, otherwise they are errors.

As Redis does when it loads a dump, keys already expired and empty collections are skipped
(--keep-expired keeps the former). Module values and function libraries cannot be imported
and are counted. --db, --match and --type select keys. A progress bar is drawn on a terminal;
the summary is printed there too, or with --verbose.

An AOF (a file named *.aof or starting with a command, a manifest, or a Redis 7 appendonlydir)
is imported by running its commands in order, transactions as MULTI/EXEC, its RDB preamble
through the RDB path: on the running server given by --to, or with --dir on Strata started
on DIR inside this process (on a loopback port, for the length of the import). Commands the
server refuses are counted and reported; a truncated last command is dropped, as Redis drops
it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.Dir == "") == (o.Target.Addr == "") {
				return errors.New("give exactly one of --dir and --to")
			}
			o.Mode = tools.ImportMode(mode)
			n, err := tools.ParseByteSize(memory)
			if err != nil {
				return fmt.Errorf("--memory: %w", err)
			}
			o.MemoryLimit = int(n)
			if o.Target.Password == "" {
				o.Target.Password = os.Getenv("REDISCLI_AUTH")
			}
			if isAOF, err := tools.IsAOFPath(args[0]); err != nil {
				return err
			} else if isAOF {
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return importAOF(ctx, args[0], o, noProgress, verbose)
			}
			src, err := tools.OpenRDB(args[0], &rdb.ReaderOptions{SkipEmptyKeys: true})
			if err != nil {
				return err
			}
			defer src.Close()
			if !noProgress {
				o.Progress = tools.ProgressOn(os.Stderr, src.Size, "import")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var rep *tools.ImportReport
			if o.Dir != "" {
				rep, err = tools.ImportToDir(ctx, src, o)
			} else {
				rep, err = tools.ImportToServer(ctx, src, o)
			}
			if rep != nil && (verbose || term.IsTerminal(int(os.Stderr.Fd()))) {
				printImport(rep, src.Size)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "", "Strata data directory to import into (offline)")
	f.IntVar(&o.Databases, "databases", 16, "number of databases of a new data directory")
	f.StringVar(&mode, "mode", "auto", "offline path: auto, bulk (directory without keys) or batch")
	f.StringVar(&memory, "memory", "64mb", "bulk path: bytes of records sorted in memory at a time")
	f.StringVar(&o.Target.Addr, "to", "", "HOST:PORT (or unix socket path) of a running server to import into")
	f.StringVar(&o.Target.Username, "user", "", "username for AUTH (online)")
	f.StringVar(&o.Target.Password, "pass", "", "password for AUTH (online; default $REDISCLI_AUTH)")
	f.BoolVar(&o.Target.Replace, "replace", false, "overwrite keys that exist (online)")
	f.IntVar(&o.Target.Pipeline, "pipeline", 256, "commands in flight (online)")
	f.BoolVar(&o.KeepExpired, "keep-expired", false, "import keys whose expiry has passed")
	f.IntSliceVar(&o.Filter.DBs, "db", nil, "only this database (repeat or comma-separate for several)")
	f.StringVar(&o.Filter.Match, "match", "", "only keys matching this glob pattern (Redis syntax)")
	f.StringVar(&o.Filter.Type, "type", "", "only keys of this type: string, list, set, zset, hash, stream")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar, even on a terminal")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the summary even when stderr is not a terminal")
	return cmd
}

func printImport(r *tools.ImportReport, size int64) {
	fmt.Fprintf(os.Stderr, "imported %d keys (%s path) from %.1f MB in %s: %.1f MB/s\n",
		r.Keys, r.Path, float64(size)/(1<<20), r.Elapsed.Round(1e6), float64(size)/(1<<20)/max(r.Elapsed.Seconds(), 1e-9))
	fmt.Fprintf(os.Stderr, "skipped: %d expired, %d filtered out, %d empty, %d module values, %d function libraries\n",
		r.Expired, r.Filtered, r.Empty, r.Modules, r.Functions)
	if r.FieldTTLs > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d hash field TTLs dropped (Strata hashes have none)\n", r.FieldTTLs)
	}
	if r.Load.Runs > 0 || r.Load.Tables > 0 {
		fmt.Fprintf(os.Stderr, "bulk: %d records, %d sorted runs, %d sstables\n", r.Load.Records, r.Load.Runs, r.Load.Tables)
	}
	if r.Path == "restore" {
		fmt.Fprintf(os.Stderr, "online: %d commands, %d keys sent in batches, %d errors\n", r.Commands, r.Chunked, r.ErrCount)
		for _, e := range r.Errors {
			fmt.Fprintln(os.Stderr, "  error:", e)
		}
	}
}
