package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// SAVE, BGSAVE [SCHEDULE], save points, DUMP and RESTORE (LASTSAVE, in cmd_introspect.go, reads
// what NoteSave records here).
//
// Strata's data lives in its data directory, not in a snapshot, so an RDB file is an export:
// for people who copy dump.rdb elsewhere, load it into a Redis, or back it up. It is written
// as Redis writes it (dir/dbfilename, RDB 10 that Redis 7.0 loads, rdbcompression and
// rdbchecksum honoured), from a Pebble snapshot (engine.Snapshot): consistent at one instant,
// without a fork, without a second copy of the data in memory (keys stream from the snapshot
// into the RDB writer and a buffered file, renamed into place when complete), and without
// stopping anyone: writes go on while a BGSAVE runs, and even SAVE only occupies its own
// client. What differs from Redis, on purpose:
//
//   - SAVE does not block the server; it answers when the file is on disk.
//   - A failed BGSAVE does not make writes fail (Redis's stop-writes-on-bgsave-error): the
//     data directory keeps every write whatever happened to the export.
//   - The changes counter (rdb_changes_since_last_save) counts changed keys per command, as the
//     engine reports them; Redis counts some commands per element (SADD of 3 new members: 3).
//   - There is no other child process (no fork, and AOF rewrites are not children), so BGSAVE
//     SCHEDULE starts at once unless a save runs, and it is "scheduled" only inside MULTI.
//   - FLUSHALL does not stop a running BGSAVE (Redis kills its child, then saves again when
//     save points are set): the dump holds the state at the BGSAVE's start.
//   - Save points are off by default (conf: save ""), as the data directory keeps every write;
//     SHUTDOWN and SIGTERM save only when asked (SHUTDOWN SAVE), see cmd_shutdown.go.
//   - RESTORE takes DUMP payloads of RDB versions 1 to 12 and Valkey's, where Redis 7.0 refuses
//     versions above 10; IDLETIME and FREQ are checked and ignored (the hot tier keeps its own
//     access record).
func registerPersistCommands(t *Table) {
	t.add(&Command{Name: "save", Arity: 1, Flags: "admin noscript no_async_loading no_multi",
		Lock: LockNone, Handler: cmdSave,
		Group: "server", Since: "1.0.0", Summary: "Synchronously save the dataset to disk",
		Complexity: "O(N) where N is the total number of keys in all databases"})
	t.add(&Command{Name: "bgsave", Arity: -1, Flags: "admin noscript no_async_loading",
		Lock: LockNone, Handler: cmdBgsave,
		Group: "server", Since: "1.0.0", Summary: "Asynchronously save the dataset to disk",
		Complexity: "O(1)"})
	t.add(&Command{Name: "dump", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
		Tips: "nondeterministic_output", Handler: cmdDump,
		Group: "generic", Since: "2.6.0", Summary: "Return a serialized version of the value stored at the specified key.",
		Complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."})
	t.add(&Command{Name: "restore", Arity: -4, Flags: "write denyoom", First: 1, Last: 1, Step: 1,
		ACL: "@keyspace @dangerous", Handler: cmdRestore,
		Group: "generic", Since: "2.6.0", Summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
		Complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."})
}

// persistence is the state of saves and of the drop-in load.
type persistence struct {
	dirty atomic.Int64 // changes since the last successful save

	mu          sync.Mutex
	saving      bool // a SAVE or BGSAVE runs
	background  bool // ... a BGSAVE
	scheduled   bool // BGSAVE SCHEDULE waits for the cron
	cancel      context.CancelFunc
	finished    chan struct{} // closed when the running save ends
	saveStart   time.Time
	keysTotal   int64
	keysDone    atomic.Int64
	lastTry     time.Time // last BGSAVE attempt
	lastOK      bool      // the last BGSAVE succeeded (rdb_last_bgsave_status)
	lastSeconds int64     // duration of the last BGSAVE, -1 before one
	saves       int64

	load loadState

	// testHold, when set (tests), runs in a background save after its snapshot is taken and
	// before anything is written, and in the drop-in load before it reads the dump.
	testHold func()
}

func (p *persistence) init() {
	p.lastOK, p.lastSeconds = true, -1
}

// chain adds the changes counter to the engine's hooks: every changed key counts one change,
// a flush or a swap one more.
func (p *persistence) chain(h *engine.Hooks) {
	prevTouched, prevFlushed, prevSwapped := h.Touched, h.Flushed, h.Swapped
	h.Touched = func(db int, key []byte) {
		if prevTouched != nil {
			prevTouched(db, key)
		}
		p.dirty.Add(1)
	}
	h.Flushed = func(db int) {
		if prevFlushed != nil {
			prevFlushed(db)
		}
		p.dirty.Add(1)
	}
	h.Swapped = func(a, b int) {
		if prevSwapped != nil {
			prevSwapped(a, b)
		}
		p.dirty.Add(1)
	}
}

// rdbPath is dir/dbfilename.
func (s *Server) rdbPath() string {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return filepath.Join(s.cfg.Dir, s.cfg.DBFilename)
}

func (s *Server) saveOptions() persist.SaveOptions {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return persist.SaveOptions{Writer: rdb.WriterOptions{
		DisableCompression: !s.cfg.RDBCompression,
		DisableChecksum:    !s.cfg.RDBChecksum,
		RedisVer:           Version,
		AllowLoss:          true, // what Redis 7.0 has no room for (a consumer's active time)
	}}
}

// startSave begins a save from a snapshot taken now. A background save runs on its own and
// startSave returns at once; a foreground one returns when the file is written.
func (s *Server) startSave(background bool, why string) error {
	p := &s.persist
	p.mu.Lock()
	if p.saving {
		p.mu.Unlock()
		return engine.ErrBgsaveInProgress
	}
	if background {
		p.lastTry = time.Now()
	}
	snap, err := s.eng.NewSnapshot()
	if err != nil {
		p.mu.Unlock()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.saving, p.background, p.cancel = true, background, cancel
	p.finished = make(chan struct{})
	p.saveStart = time.Now()
	p.keysTotal = 0
	for db := 0; db < snap.Databases(); db++ {
		n, _ := snap.KeyCounts(db)
		p.keysTotal += n
	}
	p.keysDone.Store(0)
	p.saves++
	dirtyAtStart := p.dirty.Load()
	hold := p.testHold
	p.mu.Unlock()

	path := s.rdbPath()
	o := s.saveOptions()
	o.Progress = func(keys, _ int64) { p.keysDone.Store(keys) }
	if background {
		s.log.Info("background saving started", "file", path, "reason", why)
	}
	run := func() error {
		if hold != nil && background {
			hold()
		}
		st, err := persist.SaveFile(ctx, snap, path, o)
		snap.Close()
		s.saveDone(background, dirtyAtStart, st, err, path)
		return err
	}
	if background {
		go run()
		return nil
	}
	return run()
}

// saveDone records how a save ended.
func (s *Server) saveDone(background bool, dirtyAtStart int64, st persist.SaveStats, err error, path string) {
	p := &s.persist
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.saveStart)
	if err == nil {
		p.dirty.Add(-dirtyAtStart)
		s.NoteSave(p.saveStart)
		p.lastOK = true
		mbps := float64(st.Bytes) / (1 << 20) / max(elapsed.Seconds(), 1e-6)
		s.log.Info("DB saved on disk", "file", path, "keys", st.Keys, "bytes", st.Bytes,
			"elapsed", elapsed.Round(time.Millisecond), "MB/s", fmt.Sprintf("%.1f", mbps), "background", background)
	} else {
		if background {
			p.lastOK = false
		}
		s.log.Error("saving the RDB file failed", "file", path, "err", err, "background", background)
	}
	if background {
		p.lastSeconds = int64(elapsed.Seconds())
	}
	p.saving, p.background, p.cancel = false, false, nil
	close(p.finished)
}

// stopSave cancels a running save and waits for it to end (shutdown, SHUTDOWN SAVE).
func (s *Server) stopSave() {
	p := &s.persist
	p.mu.Lock()
	cancel, finished := p.cancel, p.finished
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	s.log.Warn("a background save is running: stopping it")
	cancel()
	<-finished
}

// stopPersistence ends what runs in the background before the engine closes: a save, an AOF
// rewrite, a load.
func (s *Server) stopPersistence() {
	s.stopSave()
	s.stopAOFRewrite()
	s.stopLoad()
}

// saveSnapshotForShutdown is SHUTDOWN SAVE's snapshot: a running BGSAVE is stopped (as Redis
// kills its child) and a new save written in the foreground.
func (s *Server) saveSnapshotForShutdown() error {
	if s.persist.load.active.Load() {
		return errors.New("a dump is being loaded")
	}
	s.stopSave()
	return s.startSave(false, "shutdown")
}

// persistCron starts a scheduled BGSAVE or one due by a save point, as Redis's serverCron
// does; failed attempts are retried every bgsaveRetryDelay.
func (s *Server) persistCron(now time.Time) {
	p := &s.persist
	if p.load.active.Load() {
		return
	}
	s.cfgMu.RLock()
	points := conf.SavePoints(s.cfg.Save)
	s.cfgMu.RUnlock()
	p.mu.Lock()
	if p.saving {
		p.mu.Unlock()
		return
	}
	retryOK := p.lastOK || now.Sub(p.lastTry) > bgsaveRetryDelay
	why := ""
	if p.scheduled && retryOK {
		why = "BGSAVE SCHEDULE"
	}
	dirty, since := p.dirty.Load(), now.Unix()-s.lastSave.Load()
	for _, sp := range points {
		if why == "" && dirty >= sp.Changes && since > sp.Seconds && retryOK {
			why = fmt.Sprintf("%d changes in %d seconds", sp.Changes, sp.Seconds)
		}
	}
	p.mu.Unlock()
	if why == "" {
		return
	}
	if err := s.startSave(true, why); err == nil {
		p.mu.Lock()
		p.scheduled = false
		p.mu.Unlock()
	}
}

const bgsaveRetryDelay = 5 * time.Second

func cmdSave(x *Ctx) {
	if err := x.s.startSave(false, "SAVE"); err != nil {
		if errors.Is(err, engine.ErrBgsaveInProgress) {
			x.Error(err)
			return
		}
		x.Error(engine.ErrSaveFailed)
		return
	}
	x.OK()
}

func cmdBgsave(x *Ctx) {
	schedule := false
	if len(x.Args) > 1 {
		if len(x.Args) != 2 || !strings.EqualFold(x.Arg(1), "schedule") {
			x.Error(engine.ErrSyntax)
			return
		}
		schedule = true
	}
	p := &x.s.persist
	inExec := x.denyBlocking // set by EXEC (and scripts, but BGSAVE is noscript)
	p.mu.Lock()
	background := p.saving && p.background
	if !background && inExec {
		p.scheduled = true
	}
	p.mu.Unlock()
	switch {
	case background:
		x.Error(engine.ErrBgsaveInProgress)
	case inExec:
		x.Simple("Background saving scheduled")
	default:
		err := x.s.startSave(true, "BGSAVE")
		switch {
		case err == nil:
			x.Simple("Background saving started")
		case errors.Is(err, engine.ErrBgsaveInProgress) && schedule:
			// A SAVE runs (which Redis's clients cannot see happen): go after it.
			p.mu.Lock()
			p.scheduled = true
			p.mu.Unlock()
			x.Simple("Background saving scheduled")
		case errors.Is(err, engine.ErrBgsaveInProgress):
			x.Error(err)
		default:
			x.Error(engine.ErrSaveFailed)
		}
	}
}

func cmdDump(x *Ctx) {
	o := x.s.saveOptions()
	enc, err := rdb.NewDumpEncoder(&o.Writer)
	if err == nil {
		var payload []byte
		var ok bool
		payload, ok, err = persist.Dump(x.Txn, x.Args[1], enc, nil)
		if err == nil {
			if !ok {
				x.Null()
				return
			}
			x.Bulk(payload)
			return
		}
	}
	x.Error(err)
}

// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency],
// checked in Redis's order.
func cmdRestore(x *Ctx) {
	replace, absTTL := false, false
	idle, freq := int64(-1), int64(-1)
	args := x.Args
	for j := 4; j < len(args); j++ {
		more := len(args) - j - 1
		switch opt := strings.ToLower(x.Arg(j)); {
		case opt == "replace":
			replace = true
		case opt == "absttl":
			absTTL = true
		case opt == "idletime" && more >= 1 && freq == -1:
			n, ok := engine.ParseInt(args[j+1])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
			if n < 0 {
				x.Error(engine.ErrInvalidIdleTime)
				return
			}
			idle = n
			j++
		case opt == "freq" && more >= 1 && idle == -1:
			n, ok := engine.ParseInt(args[j+1])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
			if n < 0 || n > 255 {
				x.Error(engine.ErrInvalidFreq)
				return
			}
			freq = n
			j++
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	key, payload := args[1], args[3]
	t := x.Txn
	exists, err := t.Exists(key)
	if err != nil {
		x.Error(err)
		return
	}
	if exists && !replace {
		x.Error(engine.ErrBusyKey)
		return
	}
	ttl, ok := engine.ParseInt(args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	if ttl < 0 {
		x.Error(engine.ErrInvalidTTL)
		return
	}
	if _, err := rdb.CheckDumpPayload(payload); err != nil {
		x.Error(engine.ErrDumpPayload)
		return
	}
	expireAt := ttl
	if ttl != 0 && !absTTL {
		expireAt = t.Now() + ttl
	}
	if expireAt != 0 && expireAt <= t.Now() {
		// Already expired: the value is checked, the old key deleted, nothing created.
		if err := persist.CheckPayload(key, payload); err != nil {
			x.Error(engine.ErrBadDataFormat)
			return
		}
		if replace {
			deleted, err := t.Delete(key)
			if err != nil {
				x.Error(err)
				return
			}
			if deleted {
				x.Notify(conf.NotifyGeneric, "del", key)
			}
		}
		x.OK()
		return
	}
	if err := persist.Restore(t, key, payload, expireAt); err != nil {
		if errors.Is(err, persist.ErrBadPayload) {
			err = engine.ErrBadDataFormat
		}
		x.Error(err)
		return
	}
	if exists {
		x.NotifyNew(key) // replaced: Redis deletes the old key and adds the new one
	}
	x.Notify(conf.NotifyGeneric, "restore", key)
	x.OK()
}

// infoRDB writes INFO persistence's fields up to rdb_last_load_keys_loaded.
func (s *Server) infoRDB(b *infoBuf) {
	p := &s.persist
	if p.load.active.Load() {
		b.add("loading", "1")
	} else {
		b.add("loading", "0")
	}
	b.zeros("async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age")
	b.add("current_fork_perc", "0.00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.saving {
		b.int("current_save_keys_processed", p.keysDone.Load())
		b.int("current_save_keys_total", p.keysTotal)
	} else {
		b.zeros("current_save_keys_processed", "current_save_keys_total")
	}
	b.int("rdb_changes_since_last_save", max(p.dirty.Load(), 0))
	current := int64(-1)
	if p.saving && p.background {
		b.add("rdb_bgsave_in_progress", "1")
		current = int64(time.Since(p.saveStart).Seconds())
	} else {
		b.add("rdb_bgsave_in_progress", "0")
	}
	b.int("rdb_last_save_time", s.lastSave.Load())
	if p.lastOK {
		b.add("rdb_last_bgsave_status", "ok")
	} else {
		b.add("rdb_last_bgsave_status", "err")
	}
	b.int("rdb_last_bgsave_time_sec", p.lastSeconds)
	b.int("rdb_current_bgsave_time_sec", current)
	b.int("rdb_saves", p.saves)
	b.zeros("rdb_last_cow_size")
	b.int("rdb_last_load_keys_expired", p.load.expired.Load())
	b.int("rdb_last_load_keys_loaded", p.load.keys.Load())
}

// infoLoading writes the loading_* fields while a dump loads, as Redis does.
func (s *Server) infoLoading(b *infoBuf) {
	l := &s.persist.load
	if !l.active.Load() {
		return
	}
	loaded := l.loaded.Load()
	perc := 0.0
	remaining := int64(1)
	if l.total > 0 {
		perc = 100 * float64(loaded) / float64(l.total)
		remaining = l.total - loaded
	}
	eta := int64(1)
	if elapsed := int64(time.Since(l.start).Seconds()); elapsed > 0 {
		eta = elapsed * remaining / (loaded + 1)
	}
	b.int("loading_start_time", l.start.Unix())
	b.int("loading_total_bytes", l.total)
	b.int("loading_rdb_used_mem", l.usedMem.Load())
	b.int("loading_loaded_bytes", loaded)
	b.add("loading_loaded_perc", strconv.FormatFloat(perc, 'f', 2, 64))
	b.int("loading_eta_seconds", eta)
}
