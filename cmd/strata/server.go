package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server"
)

// shutdownTimeout bounds how long SIGTERM waits for the commands in flight before closing
// their connections; closing the data directory follows. conf/strata.service gives systemd a
// longer TimeoutStopSec.
const shutdownTimeout = 60 * time.Second

func serverCommand() *cobra.Command {
	var configPath, pprofAddr string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the server (embedded defaults: port 6379, data in ./data)",
		Long: `Run the server.

It logs to stderr (the journal under systemd) unless logfile is set, tells systemd when it is
ready (READY=1 once every listener accepts) and when it stops (STOPPING=1), and on SIGTERM or
SIGINT, as on SHUTDOWN, finishes the commands in flight, fsyncs the write-ahead log, closes
the data directory and exits with status 0.

--debug-pprof-addr HOST:PORT serves Go's profiler (net/http/pprof, under /debug/pprof/) on
that address, for diagnosis only: it is off by default, is not a configuration directive
(CONFIG cannot turn it on), and must stay on a loopback address, as it has no authentication.
Example: go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			table := conf.NewTable()
			cfg, err := conf.Load(table, configPath, os.Environ(), cmd.Flags())
			if err != nil {
				return err
			}
			return runServer(table, cfg, configPath, pprofAddr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file")
	f.StringVar(&pprofAddr, "debug-pprof-addr", "", "serve net/http/pprof on this address (diagnosis only; keep it on loopback)")
	// Flag names are directive names, so conf.Load finds them; only flags set on the command
	// line override the file and the environment.
	f.Int("port", 6379, "TCP port")
	f.StringSlice("bind", nil, "addresses to listen on (repeat or comma-separate)")
	f.String("dir", "./data", "data directory")
	f.String("appendfsync", "everysec", "always | everysec | no")
	f.String("requirepass", "", "password of the default user")
	f.String("maxmemory", "0", "hot tier budget (e.g. 1gb)")
	f.Int("databases", 16, "number of databases")
	f.String("loglevel", "notice", "debug | verbose | notice | warning | nothing")
	f.String("protected-mode", "yes", "yes | no")
	return cmd
}

func logLevel(name string) slog.Level {
	switch name {
	case "debug", "verbose":
		return slog.LevelDebug
	case "warning":
		return slog.LevelWarn
	case "nothing":
		return slog.LevelError + 4
	}
	return slog.LevelInfo
}

// newLogger logs as text to out. Under systemd with stderr connected to the journal
// (JOURNAL_STREAM set), the time is left out: the journal stamps every line itself.
func newLogger(out *os.File, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if out == os.Stderr && os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

func runServer(table *conf.Table, cfg *conf.Config, configPath, pprofAddr string) error {
	out := os.Stderr
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	log := newLogger(out, logLevel(cfg.LogLevel))
	log.Info("strata starting", "version", server.StrataVersion, "redis_version", server.Version,
		"pid", os.Getpid(), "config", configPath)
	if cfg.PIDFile != "" {
		if err := os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pidfile: %w", err)
		}
		defer os.Remove(cfg.PIDFile)
	}
	// Signals are caught from here on, so a SIGTERM during startup is a clean stop too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	setMemoryLimit(cfg, log)
	disableTHP(cfg, log)
	srv, err := server.New(server.Options{Config: cfg, ConfigPath: configPath, Table: table, Logger: log})
	if err != nil {
		return err
	}
	if pprofAddr != "" {
		stop, err := servePprof(pprofAddr, log)
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		defer stop()
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	// Readiness: every listener accepts from here on. A no-op outside systemd.
	status := "STATUS=Ready to accept connections on " + srv.Addr().String()
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady+"\n"+status); err != nil {
		log.Warn("systemd notification failed", "err", err)
	}
	select {
	case sig := <-sigs:
		log.Info("received signal, shutting down", "signal", sig.String())
	case <-srv.Stopping(): // SHUTDOWN
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping+"\nSTATUS=Shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}

// servePprof serves Go's profiler on addr until the returned stop is called.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug-pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	log.Warn("serving the Go profiler (net/http/pprof); keep this address private", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

// setMemoryLimit gives the Go runtime a soft memory limit that follows the configured budgets
// (hot tier, Pebble's block cache and memtables, plus room for connections and the runtime),
// so the collector works harder before the process outgrows them instead of letting the heap
// double. A GOMEMLIMIT in the environment wins.
func setMemoryLimit(cfg *conf.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	hot := cfg.MaxMemory
	if hot <= 0 {
		hot = engine.DefaultHotTier()
	}
	limit := hot + cfg.BlockCacheSize + 2*cfg.MemtableSize + 256<<20
	debug.SetMemoryLimit(limit)
	log.Info("memory limit set", "gomemlimit", limit)
}
