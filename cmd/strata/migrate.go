package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stratadb/strata/tools"
)

func migrateCommand() *cobra.Command {
	var (
		o          tools.MigrateOptions
		dir        string
		databases  int
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --from HOST:PORT (--to HOST:PORT | --dir DIR) [--until-synced]",
		Short: "Copy a running Redis live, as a replica does, into Strata or another server",
		Long: `Migrate connects to the Redis at --from as a replica (PSYNC), loads its snapshot into the
target, then applies the replication stream as it comes, so that the target stays a live copy
of the source until the migration is stopped (SIGINT or SIGTERM stop it cleanly). The target
is a running server (--to: Strata, or any Redis), or the Strata data directory --dir, opened
by Strata inside this process (on a loopback port) for the length of the migration.

A target that already holds keys is refused unless --flush-target, which empties it: a
migration makes the target a copy of the source, and so does every full resynchronization.
A dropped link is resumed where it stopped (PSYNC continuation); when the source cannot
continue it, the snapshot is loaded again. Transactions stay atomic. --until-synced exits
once the target has caught up with the source after the snapshot (lag 0), which is the
moment to move clients over.

On a terminal a progress bar shows the snapshot, then a line shows the replication offset, the
lag in bytes (the source's master_repl_offset minus the offset applied) and in seconds, and
the commands applied; otherwise that line is logged every 10 seconds. Commands the target
refuses are counted and the first are printed at the end, with exit status 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.From.Addr == "" {
				return errors.New("--from is required")
			}
			if (dir == "") == (o.To.Addr == "") {
				return errors.New("give exactly one of --to and --dir")
			}
			if o.From.Password == "" {
				o.From.Password = os.Getenv("REDISCLI_AUTH")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if dir != "" {
				local, t, err := startLocalServer(dir, databases)
				if err != nil {
					return err
				}
				defer func() {
					if err := local.stop(); err != nil {
						fmt.Fprintln(os.Stderr, "strata: closing", dir+":", err)
					}
				}()
				t.Pipeline = o.To.Pipeline
				o.To = t
			}
			return runMigrate(ctx, o, noProgress)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From.Addr, "from", "", "HOST:PORT (or unix socket path) of the Redis to copy")
	f.StringVar(&o.From.Username, "user", "", "username for AUTH on the source")
	f.StringVar(&o.From.Password, "password", "", "password for AUTH on the source (default $REDISCLI_AUTH)")
	f.StringVar(&o.To.Addr, "to", "", "HOST:PORT (or unix socket path) of the target server")
	f.StringVar(&o.To.Username, "to-user", "", "username for AUTH on the target")
	f.StringVar(&o.To.Password, "to-password", "", "password for AUTH on the target")
	f.StringVar(&dir, "dir", "", "Strata data directory to migrate into (opened in this process)")
	f.IntVar(&databases, "databases", 16, "--dir: number of databases of a new data directory")
	f.BoolVar(&o.FlushTarget, "flush-target", false, "empty a target that holds keys (FLUSHALL) instead of refusing it")
	f.BoolVar(&o.UntilSynced, "until-synced", false, "exit once the target has caught up with the source")
	f.IntVar(&o.To.Pipeline, "pipeline", 256, "commands in flight to the target")
	f.DurationVar(&o.From.Timeout, "repl-timeout", 60*time.Second, "drop the link after this long without a byte from the source")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar or status line, even on a terminal")
	return cmd
}

// statusPrinter shows a migration's status: redrawn in place on a terminal, logged every 10
// seconds otherwise.
type statusPrinter struct {
	mu       sync.Mutex
	terminal bool
	quiet    bool
	shown    bool
	lastLog  time.Time
}

func (p *statusPrinter) show(st tools.MigrateStatus) {
	if p.quiet || st.Phase != tools.PhaseStreaming {
		return
	}
	line := statusLine(st)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		fmt.Fprint(os.Stderr, "\r\033[K"+line)
		p.shown = true
		return
	}
	if time.Since(p.lastLog) >= 10*time.Second {
		p.lastLog = time.Now()
		fmt.Fprintln(os.Stderr, line)
	}
}

// clear ends the status line so that what follows starts on a clean line.
func (p *statusPrinter) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(os.Stderr, "\r\033[K")
		p.shown = false
	}
}

func statusLine(st tools.MigrateStatus) string {
	lag := "lag unknown"
	if st.LagBytes >= 0 {
		lag = fmt.Sprintf("lag %d bytes, %.0fs", st.LagBytes, st.LagSeconds)
	}
	s := fmt.Sprintf("migrate: offset %d, %s, %d commands applied", st.Offset, lag, st.Commands)
	if st.Refused > 0 {
		s += fmt.Sprintf(", %d refused", st.Refused)
	}
	if st.Synced {
		s += " (in sync)"
	}
	return s
}

func runMigrate(ctx context.Context, o tools.MigrateOptions, noProgress bool) error {
	p := &statusPrinter{terminal: term.IsTerminal(int(os.Stderr.Fd())), quiet: noProgress}
	o.Status = p.show
	o.Logger = slog.New(slog.NewTextHandler(&clearingWriter{p: p}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if !noProgress {
		o.SnapshotProgress = func(total int64) tools.Progress {
			return tools.ProgressOn(os.Stderr, total, "snapshot")
		}
	}
	rep, err := tools.Migrate(ctx, o)
	p.clear()
	if rep != nil {
		fmt.Fprintf(os.Stderr, "migration stopped after %s: %s; %d full and %d partial resynchronizations, %d reconnections\n",
			rep.Elapsed.Round(time.Millisecond), statusLine(rep.MigrateStatus), rep.FullSyncs, rep.PartialSyncs, rep.Reconnects)
		for _, e := range rep.RefusedFirst {
			fmt.Fprintln(os.Stderr, "  refused:", e)
		}
		if err == nil && rep.Refused > 0 {
			err = fmt.Errorf("the target refused %d commands", rep.Refused)
		}
	}
	return err
}

// clearingWriter writes log lines to stderr after clearing the status line.
type clearingWriter struct{ p *statusPrinter }

func (w *clearingWriter) Write(b []byte) (int, error) {
	w.p.clear()
	return os.Stderr.Write(b)
}
