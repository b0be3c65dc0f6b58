package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/engine/persist"
	"github.com/stratadb/strata/rdb"
)

// Reading a data directory: `strata export --dir` and `strata inspect --dir`.
//
// # A directory in use
//
// A directory no process has open is opened read-only (engine.OpenReadOnly takes Pebble's
// lock) and read from one snapshot. One that a running server has open is refused by that
// lock, and must be: the server's compactions delete files under a reader that ignores it.
// Only the process that has a Pebble store open can make a checkpoint of it (a consistent
// copy of one instant, made of hard links), so the tool asks the server: the server wrote
// where it listens in D/strata-server.addr when it started (engine/datadir.go); the tool
// connects there with the RESP client of resp.go (AUTH with DirAccess's password), sends
// CHECKPOINT name, checks that the copy appeared where it expected it (D/checkpoints/name:
// a stale address file could name another server), opens that copy read-only, reads it,
// and removes it. The server keeps serving writes meanwhile; the export holds what was
// committed before the checkpoint. A directory locked by a process that left no address (a
// tool such as `strata import`, or an older server) is refused with ErrDirInUse.
//
// # Inspecting a directory
//
// The inspector and the key dumper consume rdb events with the sizes an RDB file gives them
// (a key's bytes, its offset). A directory becomes such a stream the simplest exact way: the
// export path writes it as an RDB (persist.WriteRDB, RDB 12 by default, which holds every
// type and stream field Strata has, so nothing is dropped) into an io.Pipe, and an rdb.Reader
// reads the other end (DirSource). "Bytes" then mean bytes in an RDB file exactly as they do
// for `strata inspect FILE`: inspecting a directory and inspecting the RDB exported from it
// give the same report. The cost is encoding and decoding every key once, which is what the
// file path costs too (export, then inspect), without the file: memory holds the pipe's
// buffers and one key's encoding (a collection too big for memory spills to a temporary
// file in the writer, as in an export), never the whole dump. Feeding engine events to the
// inspector directly would skip the encoding but would have to recompute each key's RDB
// size, that is, re-implement the writer's encoding choices; the pipe reuses them.

// DirAccess says how to reach the server that has a data directory open.
type DirAccess struct {
	// Username and Password authenticate (AUTH) when Password is set.
	Username, Password string
	// Timeout bounds the connection and the CHECKPOINT (0: one minute).
	Timeout time.Duration
}

// ErrDirInUse means the data directory is locked by a process the tool cannot ask for a
// checkpoint.
var ErrDirInUse = errors.New("the data directory is in use by a process that left no address " +
	"(" + engine.ServerAddrFile + ") to ask for a checkpoint: a tool such as strata import, or an older server; " +
	"stop it, or run BGSAVE on the server (it writes dir/dbfilename from a snapshot while serving)")

// dirSnapshot is a data directory open for reading at one instant: the directory itself, or a
// checkpoint its running server made.
type dirSnapshot struct {
	snap       *engine.Snapshot
	d          *engine.ReadOnlyDir
	checkpoint string // removed by close; "" when the directory itself is open
}

// openDirSnapshot opens dir for reading; purpose names the checkpoint if one is needed.
func openDirSnapshot(ctx context.Context, dir, purpose string, a DirAccess) (*dirSnapshot, error) {
	ds := &dirSnapshot{}
	d, err := engine.OpenReadOnly(dir)
	if errors.Is(err, engine.ErrDirInUse) {
		ds.checkpoint, err = askCheckpoint(ctx, dir, purpose, a)
		if err != nil {
			return nil, err
		}
		d, err = engine.OpenReadOnly(ds.checkpoint)
		if err != nil {
			os.RemoveAll(ds.checkpoint)
			return nil, fmt.Errorf("checkpoint of %s: %w", dir, err)
		}
	}
	if err != nil {
		return nil, err
	}
	ds.d = d
	if ds.snap, err = d.Snapshot(); err != nil {
		ds.close()
		return nil, err
	}
	return ds, nil
}

// close closes the snapshot and the directory and removes the checkpoint.
func (ds *dirSnapshot) close() error {
	var errs []error
	if ds.snap != nil {
		errs = append(errs, ds.snap.Close())
	}
	errs = append(errs, ds.d.Close())
	if ds.checkpoint != "" {
		errs = append(errs, os.RemoveAll(ds.checkpoint))
	}
	return errors.Join(errs...)
}

// askCheckpoint asks the server that has dir open for a checkpoint and returns its path.
func askCheckpoint(ctx context.Context, dir, purpose string, a DirAccess) (string, error) {
	addrs, err := engine.ReadServerAddrs(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", dir, ErrDirInUse)
	}
	if err != nil {
		return "", err
	}
	addr := ""
	for _, sa := range addrs {
		if !sa.TLS {
			addr = sa.Addr
			break
		}
	}
	if addr == "" {
		return "", fmt.Errorf("%s is in use by a server that listens only with TLS, which the tools do not speak; "+
			"run BGSAVE there, or give it a plain port on a loopback address", dir)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("%s-%d-%s", purpose, os.Getpid(), hex.EncodeToString(rnd[:]))
	want := filepath.Join(dir, engine.CheckpointsDir, name)
	c, err := ServerTarget{Addr: addr, Username: a.Username, Password: a.Password, Timeout: a.Timeout}.dial(ctx)
	if err != nil {
		return "", fmt.Errorf("%s is in use by the server at %s (%s), which refused a connection: %w%s",
			dir, addr, engine.ServerAddrFile, err, authHint(err.Error(), a))
	}
	defer c.Close()
	rep, err := c.do("CHECKPOINT", name)
	if err != nil {
		return "", fmt.Errorf("%s is in use by the server at %s: CHECKPOINT: %w", dir, addr, err)
	}
	if rep.Type == '-' {
		return "", fmt.Errorf("%s is in use by the server at %s, which refused CHECKPOINT: %s%s",
			dir, addr, rep.Text(), authHint(rep.Text(), a))
	}
	got := rep.Text()
	if filepath.Base(got) != name || filepath.Base(filepath.Dir(got)) != engine.CheckpointsDir {
		return "", fmt.Errorf("the server at %s answered CHECKPOINT with %q, not a checkpoint", addr, got)
	}
	gi, gerr := os.Stat(got)
	wi, werr := os.Stat(want)
	if gerr != nil || werr != nil || !os.SameFile(gi, wi) {
		if gerr == nil {
			os.RemoveAll(got) // ours, made in the wrong place
		}
		return "", fmt.Errorf("the server at %s (named by %s) made its checkpoint at %s, not in %s: "+
			"it is not the server of %s (a stale address file?)", addr,
			filepath.Join(dir, engine.ServerAddrFile), got, filepath.Dir(want), dir)
	}
	return want, nil
}

// authHint adds what to do about an authentication error.
func authHint(msg string, a DirAccess) string {
	if !strings.HasPrefix(msg, "NOAUTH") && !strings.Contains(msg, "WRONGPASS") && !strings.HasPrefix(msg, "NOPERM") {
		return ""
	}
	if a.Password == "" {
		return " (give --password, and --user for an ACL user, or set REDISCLI_AUTH)"
	}
	return " (check --user and --password: CHECKPOINT needs a user allowed @admin commands)"
}

// DirSourceOptions configure OpenDir.
type DirSourceOptions struct {
	// Access reaches the server when the directory is in use.
	Access DirAccess
	// Version is the RDB version the directory is read as (0: rdb.MaxWriteVersion, which
	// holds everything); the sizes are those of an export at that version (which, as
	// export does, leaves out stream metadata an older version cannot hold).
	Version int
	// TempDir holds the spill files of collections too big for memory (empty: os.TempDir()).
	TempDir string
}

// DirSource is a data directory read as an RDB stream: an EventSource for the inspector and
// the key dumper. Close it.
type DirSource struct {
	*rdb.Reader
	Dir    string
	ds     *dirSnapshot
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	werr   error // the writer's error, set before done is closed
}

// errSourceClosed stops the writer when the reader is closed first.
var errSourceClosed = errors.New("tools: the directory source was closed")

// OpenDir opens the data directory dir (or a checkpoint of it, when its server runs) and
// starts writing it as an RDB into a pipe that the returned source reads.
func OpenDir(ctx context.Context, dir string, o DirSourceOptions) (*DirSource, error) {
	if o.Version == 0 {
		o.Version = rdb.MaxWriteVersion
	}
	ds, err := openDirSnapshot(ctx, dir, "inspect", o.Access)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	s := &DirSource{Dir: dir, ds: ds, pr: pr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_, err := persist.WriteRDB(ctx, ds.snap, pw, persist.SaveOptions{
			Writer: rdb.WriterOptions{Version: o.Version, TempDir: o.TempDir, AllowLoss: true}})
		s.werr = err
		pw.CloseWithError(err) // nil: io.EOF after the last byte
	}()
	s.Reader, err = rdb.NewReader(pr, &rdb.ReaderOptions{SkipEmptyKeys: true})
	if err != nil {
		if cerr := s.Close(); cerr != nil {
			err = cerr // the writer's failure is the cause
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}

// Close stops the writer if it still runs, waits for it, and closes the directory (removing
// the checkpoint). It returns the writer's error, if it failed on its own.
func (s *DirSource) Close() error {
	s.cancel()
	s.pr.CloseWithError(errSourceClosed)
	<-s.done
	err := s.werr
	if errors.Is(err, errSourceClosed) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, s.ds.close())
}

// describe names the source for a report: the directory and the bytes of RDB read.
func (s *DirSource) describe() (string, int64) { return s.Dir, s.Offset() }
