package server

import (
	"context"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
)

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], parsed as Redis 7.0 parses it.
//
// What the options mean in Strata. Strata's data does not depend on a snapshot: every
// acknowledged write is in Pebble's write-ahead log, and a clean shutdown fsyncs that log and
// closes Pebble, so the next start finds everything. Hence:
//
//   - SHUTDOWN and SHUTDOWN NOSAVE (and SIGTERM, SIGINT) never write an RDB file. Redis writes
//     one when save points are configured; Strata does not, because its data directory is
//     already the persistence and a snapshot of a data set larger than memory at every stop
//     would make stopping slow.
//   - SHUTDOWN SAVE asks for an RDB snapshot (dir/dbfilename) before stopping, for people who
//     copy dump.rdb elsewhere. saveSnapshotForShutdown (cmd_persist.go) writes it; as in Redis,
//     a failed save aborts the shutdown with "ERR Errors trying to SHUTDOWN. Check logs."
//     unless FORCE is given.
//   - NOW skips waiting for replicas in Redis; Strata has none, so it changes nothing.
//   - FORCE ignores a failed snapshot and stops anyway.
//   - ABORT cancels a pending shutdown. A Strata shutdown is never pending (nothing to wait
//     for), so ABORT always answers "ERR No shutdown in progress." as Redis does when idle.
//
// On success there is no reply: the connection closes and the server exits, as in Redis.
func registerShutdownCommands(t *Table) {
	t.add(&Command{Name: "shutdown", Arity: -1, Flags: "admin noscript loading stale no_multi allow_busy",
		Lock: LockNone, Handler: cmdShutdown,
		Group: "server", Since: "1.0.0",
		Summary:    "Synchronously save the dataset to disk and then shut down the server",
		Complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"})
}

// shutdownOptions are SHUTDOWN's modifiers other than ABORT.
type shutdownOptions struct {
	noSave, save, now, force bool
}

// shutdownTimeout bounds how long a SHUTDOWN waits for the commands in flight.
const shutdownTimeout = 60 * time.Second

func cmdShutdown(x *Ctx) {
	var o shutdownOptions
	abort := false
	for _, a := range x.Args[1:] {
		switch strings.ToLower(string(a)) {
		case "nosave":
			o.noSave = true
		case "save":
			o.save = true
		case "now":
			o.now = true
		case "force":
			o.force = true
		case "abort":
			abort = true
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if abort && o != (shutdownOptions{}) || o.save && o.noSave {
		x.Error(engine.ErrSyntax)
		return
	}
	if abort {
		x.Error(engine.ErrNoShutdownInProgress)
		return
	}
	if err := x.s.scripts.busyError(); err != nil && !o.noSave {
		// A busy script: only SHUTDOWN NOSAVE may stop the server (it interrupts the script).
		x.Error(err)
		return
	}
	log := x.s.log.With("client", x.addr, "save", o.save, "nosave", o.noSave, "now", o.now, "force", o.force)
	log.Info("shutdown requested by a client")
	if o.save {
		if err := x.s.saveSnapshotForShutdown(); err != nil {
			if !o.force {
				log.Error("SHUTDOWN SAVE: the snapshot failed, not shutting down "+
					"(SHUTDOWN FORCE stops anyway; the data directory keeps every write either way)", "err", err)
				x.Error(engine.ErrShutdownFailed)
				return
			}
			log.Warn("SHUTDOWN SAVE FORCE: the snapshot failed, shutting down anyway", "err", err)
		}
	}
	// No reply: this connection closes after the burst, and Shutdown (which waits for this
	// burst and every other one in flight) runs once the handler has returned.
	x.closing = true
	x.s.closing.Store(true)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		x.s.Shutdown(ctx)
	}()
}
