package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server"
)

func serverCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the server (embedded defaults: port 6379, data in ./data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			table := conf.NewTable()
			cfg, err := conf.Load(table, configPath, os.Environ(), cmd.Flags())
			if err != nil {
				return err
			}
			return runServer(table, cfg, configPath)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file")
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

func runServer(table *conf.Table, cfg *conf.Config, configPath string) error {
	out := os.Stderr
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)}))
	if cfg.PIDFile != "" {
		if err := os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pidfile: %w", err)
		}
		defer os.Remove(cfg.PIDFile)
	}
	srv, err := server.New(server.Options{Config: cfg, ConfigPath: configPath, Table: table, Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	// Readiness: the listeners accept from here on. A no-op outside systemd.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("systemd notification failed", "err", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		log.Info("received signal, shutting down", "signal", sig.String())
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	case <-srv.Done():
		daemon.SdNotify(false, daemon.SdNotifyStopping)
		return nil
	}
}
