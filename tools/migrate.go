package tools

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/aof"
	"github.com/stratadb/strata/rdb"
)

// `strata migrate`: a live copy of a running Redis, taken the way a Redis replica takes one.
//
// # The replication protocol, as a replica speaks it
//
//	-> AUTH [user] password                 when a password is given
//	-> PING                                 <- +PONG
//	-> REPLCONF listening-port <port>       <- +OK
//	-> REPLCONF capa eof capa psync2        <- +OK
//	-> PSYNC ? -1                           <- +FULLRESYNC <replid> <offset>
//	                                        <- "\n" ...                  (keepalives while the
//	                                                                      master prepares the RDB)
//	                                        <- $<len>\r\n <len bytes of RDB>          disk-based
//	                                        <- $EOF:<40-byte mark>\r\n <RDB> <mark>   diskless
//	-> REPLCONF ACK <offset>                (now, then every second)
//	                                        <- the command stream: the master's writes as RESP
//	                                           arrays, with SELECT, MULTI/EXEC, PING and
//	                                           REPLCONF GETACK * among them
//	-> REPLCONF ACK <offset>                answers each GETACK
//
// The replication offset counts the bytes of the command stream, from the offset FULLRESYNC
// names: every command received counts, PING and REPLCONF included, whether or not it is
// applied, exactly as the master counts them in master_repl_offset. Like Redis's replica
// (commandProcessed), the offset moves past a command once it is applied, and not inside a
// MULTI: a transaction is held back until its EXEC (package aof's reader does that, the
// stream being the same RESP a classic AOF holds), so a link that drops in the middle of one
// resumes before its MULTI and the transaction still reaches the target whole.
//
// After a dropped link (a read error, or repl-timeout without a byte: the master pings
// every 10 seconds), the migration reconnects and asks to continue: PSYNC <replid>
// <offset+1>. +CONTINUE [<new replid>] resumes the stream where it stopped; +FULLRESYNC
// means the master's backlog no longer holds what is missing, and the target is emptied and
// loaded again. -LOADING and -NOMASTERLINK are retried.
//
// # What reaches the target
//
// The snapshot goes through the online import (online.go: pipelined RESTOREs of the keys'
// DUMP payloads, function libraries as FUNCTION LOAD REPLACE), after FLUSHALL, since a replica
// is a copy: a target that holds keys at the start is refused unless FlushTarget says to
// empty it. The stream's commands then go to the target in order on one pipelined
// connection, with SELECT sent when the stream's database changes and MULTI/EXEC kept as
// they came, so the target runs a transaction atomically; PING and REPLCONF are not sent.
// The offset acknowledged to the master is what the target has answered. A command the
// target refuses is counted and reported (the first few are kept), and the migration goes
// on: a refusal is a difference between the servers, which the report must show, not a
// reason to stop copying.
//
// A target is any server that speaks RESP; `strata migrate --dir D` starts Strata on D in
// the same process, on a loopback port, and gives its address here, so that this package
// needs no server (tools never imports server) and the commands go through the same
// dispatch as any client's.
//
// # Lag
//
// A side connection to the master asks INFO replication every second: master_repl_offset
// minus the applied offset is the lag in bytes; the lag in seconds is how long ago the
// master was first seen at an offset the migration has not reached yet (so it is 0 when
// caught up, and grows by one a second when the migration is stuck). UntilSynced stops the
// migration once the lag is 0 after the snapshot.

// MigrateOptions configure Migrate.
type MigrateOptions struct {
	// From is the Redis to copy (Timeout there is repl-timeout: the link is dropped after that
	// long without a byte; 0: 60 seconds). To is the target (Pipeline commands in flight).
	From, To ServerTarget
	// FlushTarget allows a target that holds keys: it is emptied (FLUSHALL) before the
	// snapshot, as a full resync does. Without it such a target is refused.
	FlushTarget bool
	// UntilSynced stops the migration once it has caught up with the master after the
	// snapshot; otherwise it runs until ctx is done.
	UntilSynced bool
	// ListeningPort is what REPLCONF listening-port tells the master (INFO replication shows
	// it); nothing listens there.
	ListeningPort int
	Logger        *slog.Logger
	// Status, when set, is called about every Tick with where the migration stands (from
	// another goroutine than Migrate's).
	Status func(MigrateStatus)
	// SnapshotProgress, when set, makes the progress display of each snapshot load; total is
	// the RDB's size, -1 for a diskless transfer.
	SnapshotProgress func(total int64) Progress
	// Tick is how often ACKs, lag samples and Status go out (0: one second).
	Tick time.Duration
}

// MigratePhase says what a migration is doing.
type MigratePhase string

const (
	PhaseConnecting MigratePhase = "connecting"
	PhaseSnapshot   MigratePhase = "snapshot"
	PhaseStreaming  MigratePhase = "streaming"
	PhaseStopped    MigratePhase = "stopped"
)

// MigrateStatus is where a migration stands.
type MigrateStatus struct {
	Phase  MigratePhase
	ReplID string
	// Offset is the replication offset the target has applied; MasterOffset the master's
	// master_repl_offset at the last sample (-1 before one).
	Offset, MasterOffset int64
	// LagBytes is MasterOffset - Offset (-1 unknown); LagSeconds see the package notes.
	LagBytes   int64
	LagSeconds float64
	// Commands counts the stream's commands applied; SnapshotKeys the keys of the last
	// snapshot loaded.
	Commands, SnapshotKeys int64
	// FullSyncs and PartialSyncs count the PSYNCs answered +FULLRESYNC and +CONTINUE;
	// Reconnects the links that dropped.
	FullSyncs, PartialSyncs, Reconnects int64
	// Refused counts the commands (snapshot and stream) the target answered with an error.
	Refused int64
	// Synced is true once the lag was 0 after the last snapshot.
	Synced bool
}

// MigrateReport is how a migration ended.
type MigrateReport struct {
	MigrateStatus
	// RefusedFirst quotes the first commands the target refused.
	RefusedFirst []string
	Elapsed      time.Duration
}

const (
	defaultReplTimeout = 60 * time.Second
	eofMarkLen         = 40
	maxReconnectDelay  = 5 * time.Second
)

// errTargetFailed wraps failures of the target, which end the migration (a dropped link to
// the master does not).
var errTargetFailed = errors.New("target")

// migration is one run of Migrate.
type migration struct {
	o      MigrateOptions
	log    *slog.Logger
	target *respClient
	tick   time.Duration

	// Owned by the goroutine of Migrate.
	received int64 // offset after the last command passed to the target
	db       int   // the stream's database
	targetDB int   // the database selected on the target connection (-1 unknown)
	hookErr  error // a target failure met while the stream waited for the master
	// snapshotRefused and snapshotErrors are the snapshot loads' refusals (the stream's are
	// in target.Errors).
	snapshotRefused int64
	snapshotErrors  []string

	applied  atomic.Int64 // offset the target has answered up to
	commands atomic.Int64
	refused  atomic.Int64 // commands the target refused, for the ticker

	mu       sync.Mutex
	st       MigrateStatus
	link     *masterLink
	stopping bool
	samples  []offsetSample
}

// offsetSample is the master's offset when it was first seen.
type offsetSample struct {
	at     time.Time
	offset int64
}

// Migrate copies the master at o.From into o.To and keeps the copy current until ctx is done
// (a clean stop: the report, no error) or, with UntilSynced, until it has caught up.
func Migrate(ctx context.Context, o MigrateOptions) (*MigrateReport, error) {
	start := time.Now()
	m := &migration{o: o, log: o.Logger, tick: o.Tick, targetDB: -1}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.tick <= 0 {
		m.tick = time.Second
	}
	if m.o.From.Timeout <= 0 {
		m.o.From.Timeout = defaultReplTimeout
	}
	m.st = MigrateStatus{Phase: PhaseConnecting, MasterOffset: -1, LagBytes: -1}
	var err error
	if m.target, err = o.To.dial(ctx); err != nil {
		return nil, fmt.Errorf("target %s: %w", o.To.Addr, err)
	}
	defer m.target.Close()
	if !o.FlushTarget {
		if n, err := m.targetKeys(); err != nil {
			return nil, fmt.Errorf("target %s: %w", o.To.Addr, err)
		} else if n > 0 {
			return nil, fmt.Errorf("target %s holds %d keys: a migration makes it a copy of the source "+
				"(give --flush-target to empty it first)", o.To.Addr, n)
		}
	}
	link, reply, err := m.connect(ctx, "?", -1)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", o.From.Addr, err)
	}
	stopWatch := context.AfterFunc(ctx, m.stop)
	defer stopWatch()
	done := make(chan struct{})
	var tickerDone sync.WaitGroup
	tickerDone.Add(1)
	go func() {
		defer tickerDone.Done()
		m.ticker(ctx, done)
	}()
	err = m.run(ctx, link, reply)
	close(done)
	tickerDone.Wait()
	if serr := m.target.sync(); err == nil && serr != nil && !m.isStopping() {
		err = serr
	}
	m.mu.Lock()
	m.st.Phase = PhaseStopped
	rep := &MigrateReport{MigrateStatus: m.statusLocked(), Elapsed: time.Since(start)}
	m.mu.Unlock()
	rep.Refused = m.snapshotRefused + m.target.Errors.Count
	rep.RefusedFirst = append(m.snapshotErrors, m.target.Errors.First...)
	return rep, err
}

// targetKeys counts the target's keys (INFO keyspace).
func (m *migration) targetKeys() (int64, error) {
	rep, err := m.target.do("INFO", "keyspace")
	if err != nil {
		return 0, err
	}
	if rep.Type == '-' {
		return 0, errors.New(rep.Text())
	}
	var n int64
	for line := range strings.SplitSeq(rep.Text(), "\n") {
		if !strings.HasPrefix(line, "db") {
			continue
		}
		if _, rest, ok := strings.Cut(line, "keys="); ok {
			k, _, _ := strings.Cut(rest, ",")
			v, _ := strconv.ParseInt(k, 10, 64)
			n += v
		}
	}
	return n, nil
}

// run serves links until the migration stops: the first one, then reconnections.
func (m *migration) run(ctx context.Context, link *masterLink, reply psyncReply) error {
	for {
		err := m.serve(ctx, link, reply)
		link.nc.Close()
		if errors.Is(err, errTargetFailed) {
			return err
		}
		if m.isStopping() {
			return nil
		}
		m.mu.Lock()
		m.st.Reconnects++
		m.st.Phase = PhaseConnecting
		m.link = nil
		m.mu.Unlock()
		m.log.Warn("replication link lost; reconnecting", "err", err, "offset", m.received)
		if err := m.syncTarget(); err != nil {
			return err
		}
		if link, reply, err = m.reconnect(ctx); err != nil {
			if m.isStopping() {
				return nil
			}
			return err
		}
	}
}

// reconnect dials the master again until it answers PSYNC (or the migration stops).
func (m *migration) reconnect(ctx context.Context) (*masterLink, psyncReply, error) {
	delay := 50 * time.Millisecond
	for {
		m.mu.Lock()
		replID := m.st.ReplID
		m.mu.Unlock()
		offset := m.received
		if replID == "" {
			replID, offset = "?", -2 // no complete snapshot yet: PSYNC ? -1
		}
		link, reply, err := m.connect(ctx, replID, offset+1)
		if err == nil {
			return link, reply, nil
		}
		m.log.Warn("reconnection failed", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, psyncReply{}, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// serve handles one link from its PSYNC reply until it fails or the migration stops.
func (m *migration) serve(ctx context.Context, l *masterLink, reply psyncReply) error {
	if !m.setLink(l) {
		return nil
	}
	var pre []byte
	if reply.full {
		var err error
		if pre, err = m.fullSync(ctx, l, reply); err != nil {
			return err
		}
	} else {
		m.mu.Lock()
		m.st.PartialSyncs++
		if reply.replID != "" {
			m.st.ReplID = reply.replID
		}
		m.st.Phase = PhaseStreaming
		m.mu.Unlock()
		m.log.Info("partial resynchronization accepted", "offset", m.received)
	}
	l.ack(m.applied.Load())
	return m.stream(l, pre)
}

func (m *migration) setLink(l *masterLink) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return false
	}
	m.link = l
	return true
}

// stop ends the migration: the link is closed, which ends its read.
func (m *migration) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopping = true
	if m.link != nil {
		m.link.nc.Close()
	}
}

func (m *migration) isStopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// syncTarget waits for the target's answers to what was sent; the applied offset follows.
func (m *migration) syncTarget() error {
	if err := m.target.sync(); err != nil {
		return fmt.Errorf("%w %s: %w", errTargetFailed, m.o.To.Addr, err)
	}
	m.noteApplied(m.received)
	return nil
}

// noteApplied publishes the offset the target has answered up to.
func (m *migration) noteApplied(offset int64) {
	m.applied.Store(offset)
	m.refused.Store(m.snapshotRefused + m.target.Errors.Count)
}

// masterLink is the replication connection.
type masterLink struct {
	nc      net.Conn
	br      *bufio.Reader
	timeout time.Duration
	wmu     sync.Mutex
	buf     []byte
}

// write sends one command (ACKs come from two goroutines).
func (l *masterLink) write(args ...string) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.buf = aof.AppendCommandString(l.buf[:0], args...)
	l.nc.SetWriteDeadline(time.Now().Add(l.timeout))
	_, err := l.nc.Write(l.buf)
	return err
}

// ack tells the master the offset applied. A failed write shows as a failed read soon after.
func (l *masterLink) ack(offset int64) {
	l.write("REPLCONF", "ACK", strconv.FormatInt(offset, 10))
}

// line reads one line without its CRLF, skipping the bare newlines masters send as
// keepalives.
func (l *masterLink) line() (string, error) {
	for {
		l.nc.SetReadDeadline(time.Now().Add(l.timeout))
		s, err := l.br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if s = strings.TrimRight(s, "\r\n"); s != "" {
			return s, nil
		}
	}
}

// command sends a handshake command and reads its one-line reply.
func (l *masterLink) command(args ...string) (string, error) {
	if err := l.write(args...); err != nil {
		return "", err
	}
	reply, err := l.line()
	if err != nil {
		return "", err
	}
	if reply[0] == '-' {
		return "", fmt.Errorf("%s: %s", args[0], reply[1:])
	}
	return reply, nil
}

// psyncReply is the master's answer to PSYNC.
type psyncReply struct {
	full   bool
	replID string
	offset int64
}

// connect dials the master, runs the handshake and asks for PSYNC replID offset.
func (m *migration) connect(ctx context.Context, replID string, offset int64) (*masterLink, psyncReply, error) {
	src := m.o.From
	d := net.Dialer{Timeout: min(src.timeout(), 10*time.Second)}
	nc, err := d.DialContext(ctx, src.network(), src.Addr)
	if err != nil {
		return nil, psyncReply{}, err
	}
	l := &masterLink{nc: nc, br: bufio.NewReaderSize(nc, 256<<10), timeout: src.timeout()}
	reply, err := m.handshake(l, replID, offset)
	if err != nil {
		nc.Close()
		return nil, psyncReply{}, err
	}
	return l, reply, nil
}

func (m *migration) handshake(l *masterLink, replID string, offset int64) (psyncReply, error) {
	src := m.o.From
	if src.Password != "" {
		args := []string{"AUTH", src.Password}
		if src.Username != "" {
			args = []string{"AUTH", src.Username, src.Password}
		}
		if _, err := l.command(args...); err != nil {
			return psyncReply{}, err
		}
	}
	steps := [][]string{
		{"PING"},
		{"REPLCONF", "listening-port", strconv.Itoa(m.o.ListeningPort)},
		{"REPLCONF", "capa", "eof", "capa", "psync2"},
	}
	for _, args := range steps {
		if _, err := l.command(args...); err != nil {
			return psyncReply{}, err
		}
	}
	line, err := l.command("PSYNC", replID, strconv.FormatInt(offset, 10))
	if err != nil {
		return psyncReply{}, err
	}
	f := strings.Fields(line)
	switch {
	case f[0] == "+FULLRESYNC" && len(f) == 3:
		off, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || len(f[1]) != 40 {
			break
		}
		return psyncReply{full: true, replID: f[1], offset: off}, nil
	case f[0] == "+CONTINUE" && len(f) <= 2:
		r := psyncReply{}
		if len(f) == 2 {
			r.replID = f[1]
		}
		return r, nil
	}
	return psyncReply{}, fmt.Errorf("unexpected reply to PSYNC: %q", line)
}

// fullSync receives and loads the snapshot after +FULLRESYNC; it returns the bytes of the
// command stream that were read with the RDB.
func (m *migration) fullSync(ctx context.Context, l *masterLink, reply psyncReply) ([]byte, error) {
	m.mu.Lock()
	m.st.Phase, m.st.Synced, m.st.ReplID = PhaseSnapshot, false, ""
	m.samples = m.samples[:0]
	m.mu.Unlock()
	header, err := l.line()
	if err != nil {
		return nil, err
	}
	var (
		mark []byte
		size int64 = -1
		in   io.Reader
	)
	switch {
	case strings.HasPrefix(header, "$EOF:") && len(header) == 5+eofMarkLen:
		mark = []byte(header[5:])
		in = l.br
	case strings.HasPrefix(header, "$"):
		if size, err = strconv.ParseInt(header[1:], 10, 64); err != nil || size < 0 {
			return nil, fmt.Errorf("bad bulk length of the snapshot %q", header)
		}
		in = io.LimitReader(l.br, size)
	default:
		return nil, fmt.Errorf("unexpected line before the snapshot: %q", header)
	}
	m.log.Info("full resynchronization: loading the snapshot", "replid", reply.replID, "offset", reply.offset,
		"bytes", size, "diskless", mark != nil)
	if err := m.flushTarget(); err != nil {
		return nil, err
	}
	counted := &deadlineReader{r: in, link: l}
	rd, err := rdb.NewReader(counted, &rdb.ReaderOptions{SkipEmptyKeys: true, Size: max(size, 0)})
	if err != nil {
		return nil, err
	}
	snap := &snapshotSource{rd: rd, db: -1}
	imp := ImportOptions{Target: m.o.To}
	imp.Target.Replace = true
	if m.o.SnapshotProgress != nil {
		imp.Progress = m.o.SnapshotProgress(size)
	}
	rep, err := ImportToServer(ctx, snap, imp)
	var refused *RefusedError
	switch {
	case snap.err != nil:
		return nil, fmt.Errorf("reading the snapshot: %w", snap.err)
	case errors.As(err, &refused):
		m.log.Warn("the target refused some keys of the snapshot", "count", refused.Count, "first", refused.First)
	case err != nil:
		return nil, fmt.Errorf("%w %s: loading the snapshot: %w", errTargetFailed, m.o.To.Addr, err)
	}
	pre, err := m.afterRDB(l, rd, counted, mark, size)
	if err != nil {
		return nil, err
	}
	for _, code := range snap.functions {
		if rep, err := m.target.do("FUNCTION", "LOAD", "REPLACE", code); err != nil {
			return nil, fmt.Errorf("%w %s: %w", errTargetFailed, m.o.To.Addr, err)
		} else if rep.Type == '-' {
			m.target.Errors.add(sentCommand{name: "FUNCTION LOAD"}, rep.Text())
		}
	}
	m.received, m.db = reply.offset, max(snap.db, 0)
	m.applied.Store(reply.offset)
	m.mu.Lock()
	m.st.Phase, m.st.ReplID = PhaseStreaming, reply.replID
	m.st.FullSyncs++
	m.st.SnapshotKeys = rep.Keys
	m.mu.Unlock()
	m.snapshotRefused += rep.ErrCount
	if len(m.snapshotErrors) < replyErrorsKept {
		m.snapshotErrors = append(m.snapshotErrors, rep.Errors...)
	}
	m.refused.Store(m.snapshotRefused + m.target.Errors.Count)
	m.log.Info("snapshot loaded", "keys", rep.Keys, "expired", rep.Expired, "refused", rep.ErrCount,
		"elapsed", rep.Elapsed.Round(time.Millisecond))
	return pre, nil
}

// flushTarget empties the target before a snapshot.
func (m *migration) flushTarget() error {
	if err := m.target.doOK("FLUSHALL"); err != nil {
		return fmt.Errorf("%w %s: %w", errTargetFailed, m.o.To.Addr, err)
	}
	return nil
}

// afterRDB finds where the command stream starts once the RDB reader is done: the reader
// buffers ahead, so what it read past the RDB's end is taken back from it. In a diskless
// transfer the EOF mark comes first and must match.
func (m *migration) afterRDB(l *masterLink, rd *rdb.Reader, counted *deadlineReader, mark []byte, size int64) ([]byte, error) {
	over := counted.n - rd.Offset()
	extra := make([]byte, over)
	if _, err := io.ReadFull(rd.Rest(), extra); err != nil {
		return nil, err
	}
	if mark == nil {
		if over > 0 || rd.Offset() < size {
			m.log.Warn("bytes after the end of the RDB in the snapshot transfer", "bytes", size-rd.Offset())
			if _, err := io.Copy(io.Discard, counted); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if len(extra) < eofMarkLen {
		more := make([]byte, eofMarkLen-len(extra))
		l.nc.SetReadDeadline(time.Now().Add(l.timeout))
		if _, err := io.ReadFull(l.br, more); err != nil {
			return nil, err
		}
		extra = append(extra, more...)
	}
	if !bytes.Equal(extra[:eofMarkLen], mark) {
		return nil, fmt.Errorf("the snapshot does not end with its EOF mark")
	}
	return extra[eofMarkLen:], nil
}

// snapshotSource passes the RDB's events to the import, keeping what the import does not
// take: function libraries (loaded after), the stream's database (aux repl-stream-db), and
// the error of the source itself, told apart from the target's.
type snapshotSource struct {
	rd        *rdb.Reader
	functions []string
	db        int
	err       error
}

func (s *snapshotSource) Next() (rdb.Event, error) {
	ev, err := s.rd.Next()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.err = err
		}
		return ev, err
	}
	switch ev.Kind {
	case rdb.KindFunction:
		s.functions = append(s.functions, string(ev.Value))
	case rdb.KindAux:
		if string(ev.Field) == "repl-stream-db" {
			if db, err := strconv.Atoi(string(ev.Value)); err == nil {
				s.db = db
			}
		}
	}
	return ev, nil
}

func (s *snapshotSource) Offset() int64 { return s.rd.Offset() }

// deadlineReader reads from the link, renewing its deadline, and counts the bytes.
type deadlineReader struct {
	r    io.Reader
	link *masterLink
	n    int64
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.link.nc.SetReadDeadline(time.Now().Add(d.link.timeout))
	n, err := d.r.Read(p)
	d.n += int64(n)
	return n, err
}

// streamReader feeds the command stream to the AOF reader: first what came with the RDB,
// then the link. Before it waits for the master (nothing buffered), it lets the target
// catch up, so the applied offset is current whenever the master is idle.
type streamReader struct {
	pre  []byte
	link *masterLink
	m    *migration
}

func (s *streamReader) Read(p []byte) (int, error) {
	if len(s.pre) > 0 {
		n := copy(p, s.pre)
		s.pre = s.pre[n:]
		return n, nil
	}
	if s.link.br.Buffered() == 0 {
		if err := s.m.syncTarget(); err != nil {
			s.m.hookErr = err
			return 0, err
		}
	}
	s.link.nc.SetReadDeadline(time.Now().Add(s.link.timeout))
	return s.link.br.Read(p)
}

// stream applies the command stream until the link fails.
func (m *migration) stream(l *masterLink, pre []byte) error {
	m.hookErr = nil
	ar := aof.NewReader(&streamReader{pre: pre, link: l, m: m}, "replication stream", aof.Options{})
	base := m.received
	for {
		ev, err := ar.Next()
		if m.hookErr != nil {
			return m.hookErr
		}
		if err != nil {
			return err
		}
		switch ev.Kind {
		case aof.KindCommand:
			start := base + ev.Offset
			end := start + commandLen(ev.Args)
			if err := m.apply(l, ev.Args, start, end); err != nil {
				return err
			}
		case aof.KindWarning:
			return ev.Err // the link dropped inside a command or a transaction
		}
	}
}

// apply passes one command of the stream on; start and end are its replication offsets.
func (m *migration) apply(l *masterLink, args [][]byte, start, end int64) error {
	name := args[0]
	switch {
	case asciiEqualFold(name, "ping"):
	case asciiEqualFold(name, "replconf"):
		if len(args) >= 2 && asciiEqualFold(args[1], "getack") {
			if err := m.syncTarget(); err != nil {
				return err
			}
			l.ack(start)
		}
	case asciiEqualFold(name, "select"):
		if db, err := strconv.Atoi(string(args[1%len(args)])); err == nil && db >= 0 && len(args) == 2 {
			m.db = db
		}
	default:
		if m.db != m.targetDB {
			if err := m.target.send(sentCommand{from: "replication offset", off: start},
				[]byte("SELECT"), []byte(strconv.Itoa(m.db))); err != nil {
				return fmt.Errorf("%w %s: %w", errTargetFailed, m.o.To.Addr, err)
			}
			m.targetDB = m.db
		}
		if err := m.target.send(sentCommand{from: "replication offset", off: start}, args...); err != nil {
			return fmt.Errorf("%w %s: %w", errTargetFailed, m.o.To.Addr, err)
		}
		m.commands.Add(1)
	}
	m.received = end
	if len(m.target.pending) == 0 {
		m.noteApplied(end)
	}
	return nil
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// commandLen is how many bytes a command takes in the stream: "*<argc>\r\n", then
// "$<len>\r\n<arg>\r\n" for each argument (masters write nothing else).
func commandLen(args [][]byte) int64 {
	n := int64(1 + decimalLen(len(args)) + 2)
	for _, a := range args {
		n += int64(1+decimalLen(len(a))+2+len(a)) + 2
	}
	return n
}

func decimalLen(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// ticker sends ACKs, samples the master's offset, reports the status and decides when an
// UntilSynced migration is done.
func (m *migration) ticker(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(m.tick)
	defer t.Stop()
	var side *respClient
	defer func() {
		if side != nil {
			side.Close()
		}
	}()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		masterOffset := int64(-1)
		if side == nil {
			src := m.o.From
			src.Timeout = min(src.timeout(), 5*time.Second)
			side, _ = src.dial(ctx)
		}
		if side != nil {
			rep, err := side.do("INFO", "replication")
			if err == nil && rep.Type == '$' {
				masterOffset, _ = strconv.ParseInt(infoField(rep.Text(), "master_repl_offset"), 10, 64)
			} else {
				side.Close()
				side = nil
			}
		}
		applied := m.applied.Load()
		m.mu.Lock()
		if m.st.Phase == PhaseStreaming && m.link != nil {
			m.link.ack(applied)
		}
		st := m.observe(masterOffset, applied, time.Now())
		if st.Synced && m.o.UntilSynced && !m.stopping {
			m.log.Info("caught up with the master", "offset", applied)
			m.stopping = true
			if m.link != nil {
				m.link.nc.Close()
			}
		}
		m.mu.Unlock()
		if m.o.Status != nil {
			m.o.Status(st)
		}
	}
}

// observe records a sample of the master's offset (m.mu held) and returns the status.
func (m *migration) observe(masterOffset, applied int64, now time.Time) MigrateStatus {
	m.st.Offset = applied
	if masterOffset >= 0 {
		m.st.MasterOffset = masterOffset
		if n := len(m.samples); n == 0 || m.samples[n-1].offset < masterOffset {
			m.samples = append(m.samples, offsetSample{at: now, offset: masterOffset})
		}
	}
	drop := 0
	for drop < len(m.samples) && m.samples[drop].offset <= applied {
		drop++
	}
	m.samples = append(m.samples[:0], m.samples[drop:]...)
	if m.st.MasterOffset >= 0 && m.st.Phase == PhaseStreaming {
		m.st.LagBytes = max(m.st.MasterOffset-applied, 0)
		m.st.LagSeconds = 0
		if len(m.samples) > 0 {
			m.st.LagSeconds = now.Sub(m.samples[0].at).Seconds()
		}
		if m.st.LagBytes == 0 && masterOffset >= 0 {
			m.st.Synced = true
		}
	}
	return m.statusLocked()
}

func (m *migration) statusLocked() MigrateStatus {
	st := m.st
	st.Offset = m.applied.Load()
	st.Commands = m.commands.Load()
	st.Refused = m.refused.Load()
	return st
}
