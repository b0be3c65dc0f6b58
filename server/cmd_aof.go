package server

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// BGREWRITEAOF and the aof_* fields of INFO persistence.
//
// Strata's durability is Pebble's write-ahead log (appendfsync keeps Redis's meaning for
// it); it never replays an AOF of its own. BGREWRITEAOF writes an interchange copy: the data
// set at the instant the command runs, as the multi-part AOF Redis 7.0 writes in
// dir/appenddirname (a .base.rdb with aof-use-rdb-preamble yes, the default, else a
// .base.aof of the rewrite's commands, and the manifest; persist.RewriteAOFDir), which a
// Redis 7 started with appendonly yes on that directory loads. It is written from a Pebble
// snapshot (engine.Snapshot): no fork, no copy of the data in memory, and writes go on while
// it runs. Each rewrite replaces the previous one's files, as Redis's does.
//
// appendonly yes does not keep an incr file current after the base: doing so would mean
// logging every write in Redis's propagated form (EXPIRE as PEXPIREAT, SPOP as SREM, scripts
// as their effects...) in the order of their commits, which Strata has no use for, since its
// log is Pebble's. So the manifest lists the base alone (as Redis's does when it rewrites with
// appendonly no), and a copy is as current as its last BGREWRITEAOF. The directive is kept
// for compatibility and for INFO's aof_enabled, with the size fields Redis adds then
// (aof_current_size and aof_base_size are the last base's size).
//
// Replies are Redis's: "Background append only file rewriting started"; "... already in
// progress" while one runs; inside MULTI/EXEC "... scheduled", and the cron starts it.
// There is no child process, so a running BGSAVE does not make a rewrite wait.
func registerAOFCommands(t *Table) {
	t.add(&Command{Name: "bgrewriteaof", Arity: 1, Flags: "admin noscript no_async_loading",
		Lock: LockNone, Handler: cmdBgrewriteaof,
		Group: "server", Since: "1.0.0", Summary: "Asynchronously rewrite the append-only file",
		Complexity: "O(1)"})
}

// aofRewriter is the state of AOF rewrites.
type aofRewriter struct {
	mu                  sync.Mutex
	running             bool
	scheduled           bool
	cancel              context.CancelFunc
	finished            chan struct{} // closed when the running rewrite ends
	start               time.Time
	lastSeconds         int64 // -1 before the first rewrite ends
	lastOK              bool
	lastTry             time.Time
	rewrites            int64
	consecutiveFailures int64
	baseSize            int64

	// testHold, when set (tests), runs in a rewrite after its snapshot is taken and before
	// anything is written.
	testHold func()
}

// aofRetryDelay spaces the cron's retries of a scheduled rewrite after a failure (Redis's
// aofRewriteLimited grows its delay from one minute).
const aofRetryDelay = time.Minute

func (a *aofRewriter) init() {
	a.lastSeconds, a.lastOK = -1, true
}

func cmdBgrewriteaof(x *Ctx) {
	a := &x.s.aofrw
	if x.denyBlocking { // inside EXEC (BGREWRITEAOF is noscript): the cron starts it
		a.mu.Lock()
		running := a.running
		if !running {
			a.scheduled = true
			a.consecutiveFailures = 0
		}
		a.mu.Unlock()
		if running {
			x.Error(engine.ErrAOFRewriteInProgress)
			return
		}
		x.Simple("Background append only file rewriting scheduled")
		return
	}
	if err := x.s.startAOFRewrite("BGREWRITEAOF"); err != nil {
		if !errors.Is(err, engine.ErrAOFRewriteInProgress) {
			x.s.log.Warn("cannot start an AOF rewrite", "err", err)
			err = engine.ErrAOFRewriteFailed
		}
		x.Error(err)
		return
	}
	x.Simple("Background append only file rewriting started")
}

// aofOptions are the rewrite's settings from the configuration.
func (s *Server) aofOptions() (dir string, o persist.AOFOptions) {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	o = persist.AOFOptions{RDBBase: s.cfg.AOFUseRDBPreamble, Filename: s.cfg.AppendFilename}
	o.Writer = rdb.WriterOptions{
		DisableCompression: !s.cfg.RDBCompression,
		DisableChecksum:    !s.cfg.RDBChecksum,
		RedisVer:           Version,
		AllowLoss:          true, // what Redis 7.0 has no room for (a consumer's active time)
	}
	if s.cfg.AOFTimestampEnabled {
		o.Timestamp = time.Now().Unix()
	}
	return filepath.Join(s.cfg.Dir, s.cfg.AppendDirname), o
}

// startAOFRewrite takes a snapshot now and writes it in the background.
func (s *Server) startAOFRewrite(why string) error {
	a := &s.aofrw
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return engine.ErrAOFRewriteInProgress
	}
	a.lastTry = time.Now()
	snap, err := s.eng.NewSnapshot()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.running, a.scheduled, a.cancel = true, false, cancel
	a.finished = make(chan struct{})
	a.start = time.Now()
	a.rewrites++
	hold := a.testHold
	a.mu.Unlock()
	dir, o := s.aofOptions()
	s.log.Info("Background append only file rewriting started", "dir", dir, "reason", why)
	go func() {
		if hold != nil {
			hold()
		}
		st, err := persist.RewriteAOFDir(ctx, snap, dir, o)
		snap.Close()
		s.aofRewriteDone(dir, st, err)
	}()
	return nil
}

// aofRewriteDone records how a rewrite ended.
func (s *Server) aofRewriteDone(dir string, st persist.AOFDirStats, err error) {
	a := &s.aofrw
	a.mu.Lock()
	defer a.mu.Unlock()
	elapsed := time.Since(a.start)
	a.lastSeconds = int64(elapsed.Seconds())
	if err == nil {
		a.lastOK, a.consecutiveFailures, a.baseSize = true, 0, st.Bytes
		s.log.Info("Background AOF rewrite finished successfully", "dir", dir, "base", st.Base,
			"keys", st.Keys, "bytes", st.Bytes, "removed", st.Removed, "elapsed", elapsed.Round(time.Millisecond))
	} else {
		a.lastOK = false
		a.consecutiveFailures++
		s.log.Warn("Background AOF rewrite failed", "dir", dir, "err", err)
	}
	a.running, a.cancel = false, nil
	close(a.finished)
}

// aofCron starts a scheduled rewrite, as Redis's serverCron does.
func (s *Server) aofCron(now time.Time) {
	a := &s.aofrw
	a.mu.Lock()
	due := a.scheduled && !a.running && (a.consecutiveFailures == 0 || now.Sub(a.lastTry) > aofRetryDelay)
	a.mu.Unlock()
	if !due {
		return
	}
	if err := s.startAOFRewrite("scheduled"); err != nil && !errors.Is(err, engine.ErrAOFRewriteInProgress) {
		a.mu.Lock()
		a.consecutiveFailures++
		a.mu.Unlock()
		s.log.Warn("cannot start the scheduled AOF rewrite", "err", err)
	}
}

// stopAOFRewrite cancels a running rewrite and waits for it (shutdown: Redis kills its child).
func (s *Server) stopAOFRewrite() {
	a := &s.aofrw
	a.mu.Lock()
	cancel, finished := a.cancel, a.finished
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-finished
	}
}

// infoAOF writes INFO persistence's aof_* fields.
func (s *Server) infoAOF(b *infoBuf) {
	s.cfgMu.RLock()
	enabled := s.cfg.AppendOnly
	s.cfgMu.RUnlock()
	a := &s.aofrw
	a.mu.Lock()
	defer a.mu.Unlock()
	b.add("aof_enabled", boolDigit(enabled))
	b.add("aof_rewrite_in_progress", boolDigit(a.running))
	b.add("aof_rewrite_scheduled", boolDigit(a.scheduled))
	b.int("aof_last_rewrite_time_sec", a.lastSeconds)
	current := int64(-1)
	if a.running {
		current = int64(time.Since(a.start).Seconds())
	}
	b.int("aof_current_rewrite_time_sec", current)
	if a.lastOK {
		b.add("aof_last_bgrewrite_status", "ok")
	} else {
		b.add("aof_last_bgrewrite_status", "err")
	}
	b.int("aof_rewrites", a.rewrites)
	b.int("aof_rewrites_consecutive_failures", a.consecutiveFailures)
	b.add("aof_last_write_status", "ok")
	b.zeros("aof_last_cow_size", "module_fork_in_progress", "module_fork_last_cow_size")
	if enabled {
		b.int("aof_current_size", a.baseSize)
		b.int("aof_base_size", a.baseSize)
		b.zeros("aof_pending_rewrite", "aof_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync")
	}
}

func boolDigit(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// aofRewriteFinished returns a channel closed when the running rewrite ends (at once when
// none runs).
func (s *Server) aofRewriteFinished() <-chan struct{} {
	a := &s.aofrw
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.running {
		c := make(chan struct{})
		close(c)
		return c
	}
	return a.finished
}
