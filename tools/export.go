package tools

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// `strata export`: a data directory out to an RDB file that Redis loads.
//
// The directory is opened read-only (engine.OpenReadOnly) and read from one snapshot, key by
// key, straight into the RDB writer and a file renamed into place when complete: memory holds
// one key's encoding at a time (a big collection spills to a temporary file while the writer
// waits for its count), whatever the size of the data set.
//
// A directory a running server has open is read from a checkpoint the server makes on
// request (dirsource.go).

// ExportOptions configure ExportDir.
type ExportOptions struct {
	// Version is the RDB version to write (9 to 12; 0: 10, which Redis 7.0 loads).
	Version int
	// NoCompression and NoChecksum are rdbcompression no and rdbchecksum no.
	NoCompression, NoChecksum bool
	// Filter selects the keys (MinSize does not apply).
	Filter Filter
	// Progress is told the bytes written and keys so far; nil shows nothing.
	Progress Progress
	// Access reaches the server when the directory is in use (dirsource.go).
	Access DirAccess
}

// ExportReport says what an export wrote.
type ExportReport struct {
	Keys    int64
	Bytes   int64
	Elapsed time.Duration
}

// MBps is the export's throughput over the bytes written.
func (r *ExportReport) MBps() float64 {
	return float64(r.Bytes) / (1 << 20) / max(r.Elapsed.Seconds(), 1e-9)
}

// openExport checks an export's filter and opens the data directory for it (a checkpoint of
// the running server's when the directory is in use): what ExportDir and ExportAOF share.
func openExport(ctx context.Context, dir string, f Filter, a DirAccess) (keySelector, *dirSnapshot, error) {
	if f.MinSize != 0 {
		return keySelector{}, nil, errors.New("export cannot filter by size")
	}
	sel, err := newKeySelector(f)
	if err != nil {
		return keySelector{}, nil, err
	}
	ds, err := openDirSnapshot(ctx, dir, "export", a)
	return sel, ds, err
}

// ExportDir writes every selected key of the data directory dir to the RDB file out.
func ExportDir(ctx context.Context, dir, out string, o ExportOptions) (*ExportReport, error) {
	start := time.Now()
	sel, ds, err := openExport(ctx, dir, o.Filter, o.Access)
	if err != nil {
		return nil, err
	}
	defer ds.close()
	p := o.Progress
	if p == nil {
		p = NoProgress{}
	}
	so := persist.SaveOptions{
		Writer: rdb.WriterOptions{Version: o.Version, DisableCompression: o.NoCompression,
			DisableChecksum: o.NoChecksum, TempDir: filepath.Dir(out), AllowLoss: true},
		Progress: func(keys, bytes int64) { p.Update(bytes, keys) },
	}
	if len(o.Filter.DBs) > 0 || o.Filter.Match != "" || o.Filter.Type != "" {
		so.Select = sel.admits
	}
	st, err := persist.SaveFile(ctx, ds.snap, out, so)
	p.Finish()
	if err != nil {
		return nil, err
	}
	return &ExportReport{Keys: st.Keys, Bytes: st.Bytes, Elapsed: time.Since(start)}, nil
}
