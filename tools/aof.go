package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stratadb/strata/aof"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// `strata import` of an AOF and `strata export --format aof|aof-multipart`.
//
// # Import
//
// An AOF is a list of commands, so it is imported by running them, in order, on a server:
// a running one (--to), or Strata on the data directory started in the same process by the
// command (--dir; see cmd/strata), which keeps this package free of the server and sends
// every command through the same dispatch as any client's. The commands go on one pipelined
// connection (resp.go):
//
//   - SELECT is not sent as written: the reader follows the file's SELECTs (each file of a
//     multi-part AOF starts in database 0, as Redis loads each with a fresh client), and a
//     SELECT goes out before a command whose database differs from the connection's.
//   - A transaction arrives whole (the reader holds it until its EXEC; one without EXEC at
//     the end of the last file is dropped, as Redis drops it) and is sent as MULTI ... EXEC,
//     so the target applies it atomically.
//   - An RDB preamble (a Redis 7 .base.rdb, or the head of a Redis 4-6 file) goes through
//     the online import (online.go), after which the commands go on where the RDB ends.
//   - A command the server refuses is counted, the first few are quoted, and the import goes
//     on, as Redis's loader ignores a command's error reply; the import then fails with the
//     count. A truncated last command is dropped with a warning (aof-load-truncated yes).
//
// # Export
//
// The data directory is read from one snapshot, as `strata export` reads it for an RDB, and
// written as Redis's rewrite writes it (persist.WriteAOF: aof.Rewriter's commands, or an RDB
// with RDBBase): one file, or a multi-part directory (persist.RewriteAOFDir: base and
// manifest, replacing the AOF a directory already holds).

// AOFImportOptions configure ImportAOF.
type AOFImportOptions struct {
	// Target is the server that runs the commands (Replace: the preamble's keys and function
	// libraries overwrite what exists).
	Target ServerTarget
	// Progress is told the bytes of the AOF read (over all its files) and the commands sent.
	Progress Progress
}

// AOFImportReport says what an AOF import did.
type AOFImportReport struct {
	Files        int
	Commands     int64 // commands sent (SELECTs written by the import not counted)
	Transactions int64
	// Preamble is the RDB preamble's import (nil without one).
	Preamble *ImportReport
	// Warnings are what the reader recovered from (a truncated last command...).
	Warnings []string
	Refused  ReplyErrors
	Bytes    int64
	Elapsed  time.Duration
}

// AOFFile is one file of an AOF, in load order.
type AOFFile struct {
	Name string
	Path string
	Size int64
}

// AOFFiles lists the files an AOF is read from: the file itself, or the base and incr files
// of a manifest or an appendonlydir.
func AOFFiles(path string) ([]AOFFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	manifest := ""
	switch {
	case fi.IsDir():
		if manifest, err = findManifestIn(path); err != nil {
			return nil, err
		}
	case filepath.Ext(path) == ".manifest":
		manifest = path
	default:
		return []AOFFile{{Name: filepath.Base(path), Path: path, Size: fi.Size()}}, nil
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	m, err := aof.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifest, err)
	}
	var out []AOFFile
	for _, f := range m.Files() {
		p := filepath.Join(filepath.Dir(manifest), f.Name)
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out = append(out, AOFFile{Name: f.Name, Path: p, Size: st.Size()})
	}
	return out, nil
}

// offsetProgress shifts an inner run's progress by what came before it and lets only the
// outer run finish the display.
type offsetProgress struct {
	p          Progress
	bytes, cmd int64
}

func (o offsetProgress) Update(bytes, keys int64) { o.p.Update(o.bytes+bytes, o.cmd+keys) }
func (o offsetProgress) Finish()                  {}

// ImportAOF runs the AOF at path (a file, a manifest or an appendonlydir) on o.Target.
func ImportAOF(ctx context.Context, path string, o AOFImportOptions) (*AOFImportReport, error) {
	start := time.Now()
	rep := &AOFImportReport{}
	files, err := AOFFiles(path)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, f := range files {
		sizes[f.Name] = f.Size
	}
	r, err := aof.Open(path, aof.Options{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c, err := o.Target.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	p := o.Progress
	if p == nil {
		p = NoProgress{}
	}
	defer p.Finish()
	var (
		done     int64 // bytes of the files before the current one
		cur      string
		targetDB = 0
		selects  int64 // SELECTs sent by the import, not counted as commands
	)
	finish := func(err error) (*AOFImportReport, error) {
		if serr := c.sync(); err == nil {
			err = serr
		}
		rep.Refused = c.Errors
		rep.Commands = c.Sent - selects
		rep.Elapsed = time.Since(start)
		if err == nil {
			err = c.Errors.Err()
		}
		return rep, err
	}
	for n := int64(0); ; n++ {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			rep.Bytes = done + sizes[cur]
			p.Update(rep.Bytes, c.Sent)
			break
		}
		if err != nil {
			return finish(err)
		}
		if n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return finish(err)
			}
			p.Update(done+ev.Offset, c.Sent)
		}
		switch ev.Kind {
		case aof.KindFile:
			done += sizes[cur]
			cur = ev.File
			rep.Files++
		case aof.KindPreamble:
			if err := c.sync(); err != nil {
				return finish(err)
			}
			pre, err := importPreamble(ctx, c, ev.Preamble, o.Target, offsetProgress{p: p, bytes: done, cmd: c.Sent})
			rep.Preamble = pre
			var refused *RefusedError
			if err != nil && !errors.As(err, &refused) {
				return finish(fmt.Errorf("%s: RDB preamble: %w", ev.File, err))
			}
		case aof.KindCommand:
			if asciiEqualFold(ev.Args[0], "select") {
				continue
			}
			if ev.DB != targetDB {
				if err := c.send(sentCommand{from: ev.File, off: ev.Offset}, []byte("SELECT"), []byte(strconv.Itoa(ev.DB))); err != nil {
					return finish(err)
				}
				selects++
				targetDB = ev.DB
			}
			if asciiEqualFold(ev.Args[0], "exec") {
				rep.Transactions++
			}
			if err := c.send(sentCommand{from: ev.File, off: ev.Offset}, ev.Args...); err != nil {
				return finish(err)
			}
		case aof.KindWarning:
			rep.Warnings = append(rep.Warnings, ev.Err.Error())
		}
	}
	return finish(nil)
}

// importPreamble loads an RDB preamble through the online import, then its function
// libraries, and tells the AOF reader where the RDB ended.
func importPreamble(ctx context.Context, c *respClient, pre *aof.Preamble, t ServerTarget, p Progress) (*ImportReport, error) {
	rd, err := rdb.NewReader(pre, &rdb.ReaderOptions{SkipEmptyKeys: true})
	if err != nil {
		return nil, err
	}
	src := &snapshotSource{rd: rd, db: -1}
	rep, err := ImportToServer(ctx, src, ImportOptions{Target: t, Progress: p})
	if src.err != nil {
		return rep, src.err
	}
	var refused *RefusedError
	if err != nil && !errors.As(err, &refused) {
		return rep, err
	}
	pre.SetEnd(rd.Offset())
	for _, code := range src.functions {
		args := []string{"FUNCTION", "LOAD", code}
		if t.Replace {
			args = []string{"FUNCTION", "LOAD", "REPLACE", code}
		}
		r, derr := c.do(args...)
		if derr != nil {
			return rep, derr
		}
		if r.Type == '-' {
			c.Errors.add(sentCommand{name: "FUNCTION LOAD"}, r.Text())
		}
	}
	return rep, err
}

// AOFExportOptions configure ExportAOF.
type AOFExportOptions struct {
	// MultiPart writes a Redis 7 appendonlydir (out is the directory) instead of one file.
	MultiPart bool
	// RDBBase writes the data as an RDB: the .base.rdb of a multi-part AOF, or a single file
	// that is an RDB preamble alone (aof-use-rdb-preamble yes). By default, commands.
	RDBBase bool
	// Filename is the appendfilename of a multi-part AOF (default "appendonly.aof").
	Filename string
	// Filter selects the keys (MinSize does not apply).
	Filter Filter
	// Progress is told the bytes written and keys so far.
	Progress Progress
	// Access reaches the server when the directory is in use (dirsource.go).
	Access DirAccess
}

// ExportAOF writes every selected key of the data directory dir as an AOF at out.
func ExportAOF(ctx context.Context, dir, out string, o AOFExportOptions) (*ExportReport, error) {
	start := time.Now()
	sel, ds, err := openExport(ctx, dir, o.Filter, o.Access)
	if err != nil {
		return nil, err
	}
	defer ds.close()
	snap := ds.snap
	p := o.Progress
	if p == nil {
		p = NoProgress{}
	}
	defer p.Finish()
	ao := persist.AOFOptions{RDBBase: o.RDBBase, Filename: o.Filename}
	ao.Writer = rdb.WriterOptions{AllowLoss: true}
	ao.Progress = func(keys, bytes int64) { p.Update(bytes, keys) }
	if len(o.Filter.DBs) > 0 || o.Filter.Match != "" || o.Filter.Type != "" {
		ao.Select = sel.admits
	}
	var st persist.SaveStats
	if o.MultiPart {
		var ds persist.AOFDirStats
		ds, err = persist.RewriteAOFDir(ctx, snap, out, ao)
		st = ds.SaveStats
	} else {
		st, err = persist.SaveAOFFile(ctx, snap, out, ao)
	}
	if err != nil {
		return nil, err
	}
	return &ExportReport{Keys: st.Keys, Bytes: st.Bytes, Elapsed: time.Since(start)}, nil
}
