package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// The drop-in start: pointed at the directory of a Redis (dir holding dump.rdb) with an empty
// data directory, Strata loads the dump on its first start, so that replacing redis-server
// with Strata needs nothing more. rdb-load-on-empty (default yes) turns it off.
//
// The server listens at once; until the load ends, commands not flagged "loading" are refused
// with Redis's "-LOADING Redis is loading the dataset in memory" (so no write can mix with the
// dump), and INFO persistence shows loading:1 and the loading_* progress fields, as in Redis.
// Progress (keys, bytes, rate) goes to the log every loadLogEvery. The load takes the bulk
// path (sorted sstables ingested in one step, see engine/ingest.go).
//
// A marker file (loadMarker, holding the dump's path) exists while a load runs: if the process
// dies halfway, the next start finds it, empties the data directory and loads again. A dump
// that cannot be loaded (corrupt, truncated) stops the server as it stops Redis, marker kept,
// so the next start tries again once the file is fixed.

const (
	loadMarker   = "strata-rdb-load.pending"
	loadLogEvery = 2 * time.Second
)

// loadState is the drop-in load's progress.
type loadState struct {
	path    string // the dump to load at Start; empty: none
	redo    bool   // a previous load was interrupted
	active  atomic.Bool
	cancel  context.CancelFunc // set (under persistence.mu) once a load runs
	done    chan struct{}      // closed when no load runs any more
	start   time.Time
	total   int64
	loaded  atomic.Int64 // bytes read
	usedMem atomic.Int64 // the dump's used-mem aux field
	keys    atomic.Int64 // rdb_last_load_keys_loaded
	expired atomic.Int64 // rdb_last_load_keys_expired
}

// planLoad decides, before the engine opens, whether Start will load a dump.
func (s *Server) planLoad() {
	l := &s.persist.load
	l.done = make(chan struct{})
	dir := s.cfg.Dir
	marker := filepath.Join(dir, loadMarker)
	if b, err := os.ReadFile(marker); err == nil {
		l.path, l.redo = string(b), true
		return
	}
	if !s.cfg.RDBLoadOnEmpty {
		return
	}
	exists, err := engine.DataDirExists(dir)
	if err != nil || exists {
		return
	}
	path := filepath.Join(dir, s.cfg.DBFilename)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		l.path = path
	}
}

// startLoad begins the planned load, if any; it runs in the background.
func (s *Server) startLoad() error {
	l := &s.persist.load
	if l.path == "" {
		close(l.done)
		return nil
	}
	if l.redo {
		s.log.Warn("a previous load of a dump was interrupted: emptying the data directory and loading it again", "file", l.path)
		t := s.eng.NewTxn()
		t.Begin(0, engine.LockGlobal)
		if err := t.Lock(); err != nil {
			return err
		}
		t.FlushAll()
		if err := t.Commit(); err != nil {
			return err
		}
	}
	marker := filepath.Join(s.cfg.Dir, loadMarker)
	if err := writeSynced(marker, []byte(l.path)); err != nil {
		return fmt.Errorf("server: load marker: %w", err)
	}
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.persist.mu.Lock()
	l.cancel = cancel
	s.persist.mu.Unlock()
	l.start, l.total = time.Now(), st.Size()
	l.loaded.Store(0)
	l.active.Store(true)
	s.log.Info("the data directory is empty: loading the Redis dump in dir", "file", l.path, "bytes", l.total)
	hold := s.persist.testHold
	go func() {
		defer f.Close()
		if hold != nil {
			hold()
		}
		err := s.loadDump(ctx, f)
		l.active.Store(false)
		close(l.done)
		switch {
		case err == nil:
			os.Remove(marker)
		case ctx.Err() != nil:
			s.log.Warn("loading the dump was interrupted; it starts again at the next start", "file", l.path)
		default:
			s.log.Error("fatal error loading the dump; stopping (it is loaded again at the next start)",
				"file", l.path, "err", err)
			go s.Shutdown(context.Background())
		}
	}()
	return nil
}

// loadDump reads the dump into the engine.
func (s *Server) loadDump(ctx context.Context, f *os.File) error {
	l := &s.persist.load
	rd, err := rdb.NewReader(f, &rdb.ReaderOptions{SkipEmptyKeys: true})
	if err != nil {
		return err
	}
	loader, err := s.eng.NewLoader(engine.LoaderOptions{Bulk: true})
	if errors.Is(err, engine.ErrNotEmpty) {
		loader, err = s.eng.NewLoader(engine.LoaderOptions{})
	}
	if err != nil {
		return err
	}
	defer loader.Close()
	lastLog := time.Now()
	st, err := persist.Load(ctx, rd, loader, persist.LoadOptions{
		Aux: func(field, value []byte) {
			if string(field) == "used-mem" {
				if n, err := strconv.ParseInt(string(value), 10, 64); err == nil {
					l.usedMem.Store(n)
				}
			}
		},
		Progress: func(bytes, keys int64) {
			l.loaded.Store(bytes)
			if now := time.Now(); now.Sub(lastLog) >= loadLogEvery {
				lastLog = now
				s.log.Info("loading the dump", "keys", keys, "bytes", bytes, "total", l.total,
					"percent", fmt.Sprintf("%.1f", 100*float64(bytes)/float64(max(l.total, 1))),
					"MB/s", fmt.Sprintf("%.1f", mbPerSec(bytes, now.Sub(l.start))))
			}
		},
	})
	if err != nil {
		return err
	}
	if _, err := loader.Finish(ctx); err != nil {
		return err
	}
	l.keys.Store(st.Keys)
	l.expired.Store(st.Expired)
	elapsed := time.Since(l.start)
	s.log.Info("DB loaded from disk", "file", f.Name(), "keys", st.Keys, "expired", st.Expired,
		"empty", st.Empty, "bytes", st.Bytes, "elapsed", elapsed.Round(time.Millisecond),
		"MB/s", fmt.Sprintf("%.1f", mbPerSec(st.Bytes, elapsed)))
	if st.Modules > 0 || st.Functions > 0 || st.FieldTTLs > 0 {
		s.log.Warn("parts of the dump Strata cannot hold were skipped", "module_values", st.Modules,
			"function_libraries", st.Functions, "hash_field_ttls", st.FieldTTLs)
	}
	return nil
}

func mbPerSec(bytes int64, d time.Duration) float64 {
	return float64(bytes) / (1 << 20) / max(d.Seconds(), 1e-6)
}

// stopLoad cancels a running load and waits for it to end.
func (s *Server) stopLoad() {
	l := &s.persist.load
	s.persist.mu.Lock()
	cancel := l.cancel
	s.persist.mu.Unlock()
	if cancel == nil {
		return // no load was started
	}
	cancel()
	<-l.done
}

// Loaded is closed once the drop-in load (if any) has ended.
func (s *Server) Loaded() <-chan struct{} { return s.persist.load.done }

// refuseWhileLoading says whether cmd must be refused with -LOADING now.
func (s *Server) refuseWhileLoading(cmd *Command) bool {
	return s.persist.load.active.Load() && !cmd.Has(FlagLoading)
}

// writeSynced writes a small file durably.
func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
