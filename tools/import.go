package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// `strata import`: a dump's keys into a Strata data directory (offline) or into a running
// server, Strata or Redis (online, through RESTORE; online.go).
//
// Offline, the keys go through an engine.Loader: into a directory without keys (new or empty)
// by the bulk path (sorted sstables ingested in one step), otherwise by the batch path (Txns
// that replace the keys that exist). Both stream: memory holds the bulk path's sort buffer
// (ImportOptions.MemoryLimit) or one bounded batch, whatever the size of the dump or of one
// key. The directory must not be in use by a server (Pebble's lock refuses it).

// ImportMode chooses the offline path.
type ImportMode string

const (
	// ImportAuto takes the bulk path into a directory without keys, the batch path otherwise.
	ImportAuto ImportMode = "auto"
	// ImportBulk sorts and ingests sstables; the directory must hold no key.
	ImportBulk ImportMode = "bulk"
	// ImportBatch writes through the engine's Txns.
	ImportBatch ImportMode = "batch"
)

// ImportOptions configure ImportToDir and ImportToServer.
type ImportOptions struct {
	// Filter selects the keys to import (MinSize does not apply: a key's size in the dump is
	// known only after it has been read).
	Filter Filter
	// Progress is told how far the run has come; nil shows nothing.
	Progress Progress
	// KeepExpired imports keys whose expiry has passed (Redis drops them when it loads a dump).
	KeepExpired bool

	// Offline: the data directory, its number of databases (0: 16), the path and the bulk
	// path's sort buffer (0: 64 MiB).
	Dir         string
	Databases   int
	Mode        ImportMode
	MemoryLimit int

	// Online: see ServerTarget.
	Target ServerTarget
}

// ImportReport says what an import did.
type ImportReport struct {
	persist.LoadStats
	// Path is the way the keys went in: "bulk", "batch" or "restore".
	Path    string
	Elapsed time.Duration
	// Load is what the engine wrote (offline).
	Load engine.LoadStats
	// Online: commands sent, keys sent as command batches (too big for one RESTORE), and the
	// errors the server answered (the first few kept in Errors).
	Commands  int64
	Chunked   int64
	ErrCount  int64
	Errors    []string
	Databases int
}

// MBps is the import's throughput over the dump's bytes.
func (r *ImportReport) MBps() float64 {
	return float64(r.Bytes) / (1 << 20) / max(r.Elapsed.Seconds(), 1e-9)
}

func (o *ImportOptions) selector() (func(int, []byte, rdb.ValueType) bool, error) {
	if o.Filter.MinSize != 0 {
		return nil, errors.New("import cannot filter by size")
	}
	sel, err := newKeySelector(o.Filter)
	if err != nil {
		return nil, err
	}
	return sel.admits, nil
}

func (o *ImportOptions) loadOptions(st *persist.LoadStats) (persist.LoadOptions, error) {
	sel, err := o.selector()
	if err != nil {
		return persist.LoadOptions{}, err
	}
	p := o.Progress
	if p == nil {
		p = NoProgress{}
	}
	lo := persist.LoadOptions{Select: sel, Progress: func(bytes, keys int64) { p.Update(bytes, keys) }}
	if o.KeepExpired {
		lo.Now = -1
	}
	return lo, nil
}

// ImportToDir imports src's keys into the data directory o.Dir (created when missing).
func ImportToDir(ctx context.Context, src EventSource, o ImportOptions) (*ImportReport, error) {
	start := time.Now()
	rep := &ImportReport{}
	lo, err := o.loadOptions(&rep.LoadStats)
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("no data directory")
	}
	dbs := o.Databases
	if dbs <= 0 {
		dbs = 16
	}
	rep.Databases = dbs
	// Offline, nothing reads: the hot tier and the block cache stay small.
	e, err := engine.Open(engine.Options{Dir: o.Dir, Databases: dbs, Fsync: engine.FsyncNo,
		MaxMemory: 16 << 20, Policy: engine.PolicyAllKeysLRU, BlockCacheSize: 16 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	mode := o.Mode
	if mode == "" {
		mode = ImportAuto
	}
	var l *engine.Loader
	switch mode {
	case ImportBulk, ImportAuto:
		l, err = e.NewLoader(engine.LoaderOptions{Bulk: true, MemoryLimit: o.MemoryLimit})
		if mode == ImportAuto && errors.Is(err, engine.ErrNotEmpty) {
			l, err = e.NewLoader(engine.LoaderOptions{})
			mode = ImportBatch
		} else {
			mode = ImportBulk
		}
	case ImportBatch:
		l, err = e.NewLoader(engine.LoaderOptions{})
	default:
		return nil, fmt.Errorf("unknown import mode %q (auto, bulk or batch)", o.Mode)
	}
	if err != nil {
		return nil, err
	}
	defer l.Close()
	rep.Path = string(mode)
	st, err := persist.Load(ctx, src, l, lo)
	rep.LoadStats = st
	if err == nil {
		rep.Load, err = l.Finish(ctx)
	}
	if o.Progress != nil {
		o.Progress.Finish()
	}
	if err == nil {
		err = e.Close()
	}
	rep.Elapsed = time.Since(start)
	return rep, err
}
