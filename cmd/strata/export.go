package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stratadb/strata/tools"
)

func exportCommand() *cobra.Command {
	var (
		dir        string
		o          tools.ExportOptions
		format     string
		aofOpts    tools.AOFExportOptions
		noProgress bool
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "export --dir DIR [--format rdb|aof|aof-multipart] OUT",
		Short: "Export a Strata data directory as an RDB file or an AOF that Redis loads",
		Long: `Export writes every key of the data directory DIR (all databases, TTLs included; keys
already expired are left out) to OUT.rdb, by default as RDB 10, which Redis 7.0 loads
(--rdb-version 9 for Redis 5 and 6, 11 for 7.2, 12 for 7.4). The file is written next to
OUT.rdb and renamed into place when complete.

DIR may be in use by a running server: the tool then finds the server's address in
DIR/strata-server.addr, asks it for a checkpoint (the CHECKPOINT command: a consistent copy of
one instant, made of hard links in DIR/checkpoints/, which costs little disk while it lasts),
exports that and removes it. The server keeps serving, writes included; the export holds what
was committed before the checkpoint. CHECKPOINT is an admin command: with requirepass or ACL
users give --password (and --user), or set REDISCLI_AUTH. A directory locked by another
process (strata import) is refused.

--db, --match and --type select keys. A progress bar is drawn on a terminal; the summary is
printed there too, or with --verbose.

--format aof writes OUT as a single-file AOF, --format aof-multipart OUT as a Redis 7
appendonlydir (base file and manifest; an AOF already there is replaced as BGREWRITEAOF
replaces it): the commands Redis's BGREWRITEAOF writes for the same data (SET, RPUSH, SADD,
ZADD, HMSET, XADD and the stream's groups, PEXPIREAT...), or, with --rdb-preamble, the data as
an RDB (aof-use-rdb-preamble yes). A Redis 7 started with --appendonly yes and
--appenddirname (or --appendfilename) naming OUT loads it. The default format is aof when OUT
ends in .aof, rdb otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--dir is required")
			}
			if o.Access.Password == "" {
				o.Access.Password = os.Getenv("REDISCLI_AUTH")
			}
			aofOpts.Access = o.Access
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if format == "" && strings.HasSuffix(args[0], ".aof") {
				format = "aof"
			}
			switch format {
			case "", "rdb":
			case "aof", "aof-multipart":
				aofOpts.MultiPart, aofOpts.Filter = format == "aof-multipart", o.Filter
				return exportAOF(ctx, dir, args[0], aofOpts, noProgress, verbose)
			default:
				return fmt.Errorf("unknown --format %q (rdb, aof or aof-multipart)", format)
			}
			if !noProgress {
				o.Progress = tools.ProgressOn(os.Stderr, -1, "export")
			}
			rep, err := tools.ExportDir(ctx, dir, args[0], o)
			if err != nil {
				return err
			}
			if verbose || term.IsTerminal(int(os.Stderr.Fd())) {
				fmt.Fprintf(os.Stderr, "exported %d keys to %s: %.1f MB in %s, %.1f MB/s\n", rep.Keys, args[0],
					float64(rep.Bytes)/(1<<20), rep.Elapsed.Round(1e6), rep.MBps())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "Strata data directory to export")
	f.StringVar(&format, "format", "", "rdb, aof (one file) or aof-multipart (an appendonlydir)")
	f.BoolVar(&aofOpts.RDBBase, "rdb-preamble", false, "AOF formats: write the data as an RDB (aof-use-rdb-preamble yes)")
	f.StringVar(&aofOpts.Filename, "appendfilename", "appendonly.aof", "aof-multipart: the appendfilename its files are named after")
	f.IntVar(&o.Version, "rdb-version", 10, "RDB version to write: 9 (Redis 5, 6), 10 (7.0), 11 (7.2), 12 (7.4)")
	f.BoolVar(&o.NoCompression, "no-compression", false, "do not LZF-compress strings (rdbcompression no)")
	f.BoolVar(&o.NoChecksum, "no-checksum", false, "write no CRC64 (rdbchecksum no)")
	f.IntSliceVar(&o.Filter.DBs, "db", nil, "only this database (repeat or comma-separate for several)")
	f.StringVar(&o.Filter.Match, "match", "", "only keys matching this glob pattern (Redis syntax)")
	f.StringVar(&o.Filter.Type, "type", "", "only keys of this type: string, list, set, zset, hash, stream")
	f.StringVar(&o.Access.Username, "user", "", "username for AUTH when DIR's server is running (CHECKPOINT needs @admin)")
	f.StringVar(&o.Access.Password, "password", "", "password for AUTH when DIR's server is running (default $REDISCLI_AUTH)")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar, even on a terminal")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the summary even when stderr is not a terminal")
	return cmd
}
