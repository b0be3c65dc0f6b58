package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server"
	"github.com/stratadb/strata/tools"
)

// The AOF side of `strata import`, `strata export` and `strata check`, and the in-process
// server that `import --dir` of an AOF and `migrate --dir` run their commands on.

// localServer is Strata started on a data directory inside this process, listening on a
// loopback port only, for a tool that sends it commands (an AOF replay, a migration). The
// tools speak RESP to it like to any server, so the commands take the same dispatch as a
// client's, and package tools need not import the server. Save points and the drop-in load
// of dir/dbfilename are off: the tool is the only writer.
type localServer struct {
	srv *server.Server
}

func startLocalServer(dir string, databases int) (*localServer, tools.ServerTarget, error) {
	table := conf.NewTable()
	cfg := table.Default()
	cfg.Dir = dir
	cfg.Bind = []string{"127.0.0.1"}
	cfg.Port = 0
	cfg.Save = ""
	cfg.RDBLoadOnEmpty = false
	if databases > 0 {
		cfg.Databases = databases
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(server.Options{Config: cfg, Table: table, Logger: log})
	if err != nil {
		return nil, tools.ServerTarget{}, fmt.Errorf("%s: %w", dir, err)
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		return nil, tools.ServerTarget{}, err
	}
	return &localServer{srv: srv}, tools.ServerTarget{Addr: srv.Addr().String()}, nil
}

// stop closes the data directory (its write-ahead log fsynced).
func (l *localServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return l.srv.Shutdown(ctx)
}

// importAOF is `strata import` of an AOF: into a running server (o.Target), or into the data
// directory o.Dir through a local server.
func importAOF(ctx context.Context, path string, o tools.ImportOptions, noProgress, verbose bool) error {
	if o.Filter.DBs != nil || o.Filter.Match != "" || o.Filter.Type != "" || o.KeepExpired {
		return errors.New("--db, --match, --type and --keep-expired apply to RDB files, not to an AOF")
	}
	files, err := tools.AOFFiles(path)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	target := o.Target
	if o.Dir != "" {
		local, t, err := startLocalServer(o.Dir, o.Databases)
		if err != nil {
			return err
		}
		defer func() {
			if err := local.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "strata: closing", o.Dir+":", err)
			}
		}()
		t.Replace = o.Target.Replace
		target = t
	}
	ao := tools.AOFImportOptions{Target: target}
	if !noProgress {
		ao.Progress = tools.ProgressOn(os.Stderr, total, "import")
	}
	rep, err := tools.ImportAOF(ctx, path, ao)
	if rep != nil && (verbose || term.IsTerminal(int(os.Stderr.Fd()))) {
		printAOFImport(rep)
	}
	return err
}

func printAOFImport(r *tools.AOFImportReport) {
	fmt.Fprintf(os.Stderr, "imported %d commands (%d transactions) from %d files, %.1f MB in %s\n",
		r.Commands, r.Transactions, r.Files, float64(r.Bytes)/(1<<20), r.Elapsed.Round(time.Millisecond))
	if r.Preamble != nil {
		fmt.Fprintf(os.Stderr, "RDB preamble: %d keys (%d expired skipped, %d module values, %d function libraries)\n",
			r.Preamble.Keys, r.Preamble.Expired, r.Preamble.Modules, r.Preamble.Functions)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if r.Refused.Count > 0 {
		fmt.Fprintf(os.Stderr, "%d commands refused by the server:\n", r.Refused.Count)
		for _, e := range r.Refused.First {
			fmt.Fprintln(os.Stderr, "  error:", e)
		}
	}
}

// exportAOF is `strata export --format aof|aof-multipart`.
func exportAOF(ctx context.Context, dir, out string, o tools.AOFExportOptions, noProgress, verbose bool) error {
	if !noProgress {
		o.Progress = tools.ProgressOn(os.Stderr, -1, "export")
	}
	rep, err := tools.ExportAOF(ctx, dir, out, o)
	if err != nil {
		return err
	}
	if verbose || term.IsTerminal(int(os.Stderr.Fd())) {
		fmt.Fprintf(os.Stderr, "exported %d keys to %s: %.1f MB in %s\n", rep.Keys, out,
			float64(rep.Bytes)/(1<<20), rep.Elapsed.Round(time.Millisecond))
	}
	return nil
}

// checkAOF is `strata check` of an AOF. --fix asks before it truncates when stdin is a
// terminal, and asks nothing otherwise (the flag is the consent).
func checkAOF(path string, fix bool, toTimestamp int64, noProgress bool) error {
	o := tools.AOFCheckOptions{Fix: fix, TruncateToTimestamp: toTimestamp, Out: os.Stdout}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		in := bufio.NewReader(os.Stdin)
		o.Confirm = func(q string) bool {
			fmt.Fprint(os.Stdout, q)
			answer, err := in.ReadString('\n')
			return (err == nil || errors.Is(err, io.EOF)) && strings.HasPrefix(strings.ToLower(answer), "y")
		}
	}
	if !noProgress {
		var total int64
		if files, err := tools.AOFFiles(path); err == nil {
			for _, f := range files {
				total += f.Size
			}
		}
		o.Progress = tools.ProgressOn(os.Stderr, total, "check")
	}
	rep := tools.CheckAOF(path, o)
	if errors.Is(rep.Err, tools.ErrUnsound) {
		return fmt.Errorf("%s is not a sound AOF", path)
	}
	return rep.Err
}
