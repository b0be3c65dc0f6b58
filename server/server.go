// Package server speaks RESP to clients: connections (on redcon, behind a protocol guard),
// the command table and dispatch, replies in RESP2 and RESP3, and the commands themselves,
// one cmd_<group>.go file per redis.io command group. Data lives in package engine; this
// package parses arguments, calls typed engine operations under the locks the command table
// asks for, and writes Redis's replies.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// Version is the Redis version Strata answers as (INFO, HELLO), so that clients enable the
// features of the command set it implements.
const Version = "7.0.15"

// StrataVersion is Strata's own version.
const StrataVersion = "0.1.0"

// Options configure a Server.
type Options struct {
	Config     *conf.Config
	ConfigPath string // the file CONFIG REWRITE writes; empty when started without one
	Table      *conf.Table
	Logger     *slog.Logger
}

// Server is one Strata server: its configuration, engine, command table and clients.
type Server struct {
	log     *slog.Logger
	ctab    *conf.Table
	cfgPath string
	cfgMu   sync.RWMutex
	cfg     *conf.Config

	eng     *engine.Engine
	cmds    *Table
	watch   *watchRegistry
	scripts *scriptState // EVAL scripts, function libraries, running scripts (cmd_scripting.go)

	blocking *blockRegistry // clients blocked on keys (blocking.go)
	persist  persistence    // saves, save points and the drop-in load (cmd_persist.go, load.go)
	aofrw    aofRewriter    // BGREWRITEAOF (cmd_aof.go)

	// Introspection: MONITOR, SLOWLOG, LATENCY, CLIENT PAUSE, LASTSAVE, DEBUG
	// (cmd_introspect.go, slowlog.go, latency.go, client_control.go, cmd_debug.go).
	monitors monitorHub
	slowlog  slowLog
	latency  *latencyMonitor
	pause    pauseState
	lastSave atomic.Int64 // unix seconds of the last successful save

	lim             limits
	latencyTracking atomic.Bool
	debugMode       string // enable-debug-command (immutable): no, yes, local
	acl             *aclSystem
	tls             *tls.Config // nil without tls-port
	protected       atomic.Bool
	maxClients      atomic.Int64
	idleTimeout     atomic.Int64 // seconds; 0: never (timeout)
	keepAlive       atomic.Int64 // seconds; 0: off (tcp-keepalive)

	mu      sync.Mutex
	clients map[int64]*Client
	nextID  atomic.Int64

	ps          pubsubRegistry                            // pubsub.go
	trk         trackingTable                             // tracking.go
	notifyFlags atomic.Int64                              // notify-keyspace-events' classes
	obufLimits  atomic.Pointer[[3]conf.OutputBufferLimit] // client-output-buffer-limit

	servers   []*redcon.Server
	listeners []net.Listener // the servers' own, closed by stopListeners
	addrs     []net.Addr
	tlsAddrs  []net.Addr
	serveWG   sync.WaitGroup

	stats         serverStats
	started       time.Time
	runID         string
	replID        atomic.Pointer[string] // INFO replication's master_replid (DEBUG CHANGE-REPL-ID)
	startupMemory uint64                 // heap in use once the server was built (INFO used_memory_startup)

	// drain is held shared by every read burst of commands while it runs and exclusively by
	// Shutdown, which so waits for the commands in flight; closing refuses later bursts.
	drain     sync.RWMutex
	closing   atomic.Bool
	closeOnce sync.Once
	stopping  chan struct{} // closed when shutdown begins
	done      chan struct{}
	closeErr  error
}

// New opens the engine on the configured directory and builds the server; Start listens.
func New(o Options) (*Server, error) {
	if o.Table == nil {
		o.Table = conf.NewTable()
	}
	if o.Config == nil {
		o.Config = o.Table.Default()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{
		log:       o.Logger,
		ctab:      o.Table,
		cfgPath:   o.ConfigPath,
		cfg:       o.Config,
		debugMode: o.Config.EnableDebugCommand,
		clients:   map[int64]*Client{},
		started:   time.Now(),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.blocking = newBlockRegistry()
	var rid [40]byte
	rand.Read(rid[:])
	s.runID = hex.EncodeToString(rid[:20])
	replID := hex.EncodeToString(rid[20:])
	s.replID.Store(&replID)
	s.latency = newLatencyMonitor()
	s.lastSave.Store(s.started.Unix())
	s.stats.errors = map[string]int64{}
	s.persist.init()
	s.aofrw.init()
	s.scripts = newScriptState(s)
	s.ps.init()
	s.trk.init()
	s.applyLive()

	fsync, _ := engine.ParseFsyncMode(o.Config.AppendFsync)
	policy, _ := engine.ParseEvictionPolicy(o.Config.MaxMemoryPolicy)
	valueCodec, _ := engine.ParseValueCompression(o.Config.ValueCompression)
	hooks := engine.Hooks{
		Expired:     func(int, []byte) { s.stats.expiredKeys.Add(1) },
		Touched:     s.keyChanged,
		ExpireCycle: func(d time.Duration) { s.latency.addIfNeeded("expire-cycle", d) },
		Committed:   s.committed,
	}
	s.watch = newWatchRegistry()
	s.watch.chain(&hooks)
	s.persist.chain(&hooks)
	s.planLoad()
	eng, err := engine.Open(engine.Options{
		MaxMemory:                 o.Config.MaxMemory,
		Policy:                    policy,
		Dir:                       o.Config.Dir,
		Databases:                 o.Config.Databases,
		Fsync:                     fsync,
		BlockCacheSize:            o.Config.BlockCacheSize,
		MemTableSize:              uint64(o.Config.MemtableSize),
		BlockCompression:          o.Config.BlockCompression,
		CompactionConcurrency:     o.Config.CompactionConcurrency,
		BloomBitsPerKey:           bloomBits(o.Config.BloomBitsPerKey),
		CompactTombstonesEvery:    tombstoneCompaction(o.Config.TombstoneCompactionMS),
		ValueCompression:          valueCodec,
		ValueCompressionThreshold: o.Config.ValueCompressionThreshold,
		ActiveExpireInterval:      time.Second / time.Duration(o.Config.Hz),
		Logger:                    o.Logger,
		Hooks:                     hooks,
	})
	if err != nil {
		return nil, err
	}
	s.eng = eng
	if err := engine.RemoveStaleCheckpoints(eng.Dir()); err != nil {
		s.log.Warn("cannot remove checkpoints left behind", "dir", eng.Dir(), "err", err)
	}
	s.watch.eng = eng // read by the hooks only once a key is watched, after New returns
	s.cmds = newTable()
	s.registerCommands()
	if err := s.startSecurity(); err != nil {
		eng.Close()
		return nil, err
	}
	s.applyLive()
	if err := s.scripts.loadLibraries(); err != nil {
		eng.Close()
		return nil, err
	}
	s.startupMemory = readMemStats().heapObjects
	return s, nil
}

// startSecurity builds the ACL users (requirepass, then the aclfile, which wins) and the TLS
// configuration; an error in either stops the server from starting, as in Redis.
func (s *Server) startSecurity() error {
	s.acl = newACL(s.cmds)
	s.acl.subscriptions = s.ps.subscriptionsOf
	s.applyLive()
	if path := s.cfg.ACLFile; path != "" {
		if _, err := s.acl.loadFile(path); err != nil {
			return fmt.Errorf("server: aborting startup because of ACL errors: %v", err)
		}
	}
	cfg, err := buildTLSConfig(s.cfg)
	if err != nil {
		return fmt.Errorf("server: failed to configure TLS: %v", err)
	}
	s.tls = cfg
	return nil
}

// registerCommands fills the command table, one call per command group.
func (s *Server) registerCommands() {
	for _, register := range commandGroups {
		register(s.cmds)
	}
}

// commandGroups lists the registration function of every cmd_<group>.go file.
var commandGroups = []func(*Table){
	registerConnectionCommands,
	registerStringCommands,
	registerZSetCommands,
	registerGeoCommands,
	registerServerCommands,
	registerClientCommands,
	registerShutdownCommands,
	registerKeyspaceCommands,
	registerHashCommands,
	registerSetCommands,
	registerHyperLogLogCommands,
	registerBitmapCommands,
	registerTransactionCommands,
	registerListCommands,
	registerSortCommands,
	registerPersistCommands,
	registerAOFCommands,
	registerACLCommands,
	registerStreamCommands,
	registerScriptingCommands,
	registerFunctionCommands,
	registerIntrospectionCommands,
	registerDebugCommands,
	registerPubsubCommands,
	registerCheckpointCommands,
}

// keyChanged is told, after each commit and under its key locks, about every key the commit
// changed. Setting the hook is also what makes Txns record their changed keys, which the
// blocking framework reads before the commit (Txn.ChangedKey); WATCH and keyspace
// notifications belong here.
func (s *Server) keyChanged(db int, key []byte) {}

// applyLive copies the configuration values read on hot paths into atomics and hands the
// engine its live settings. It runs at start and after every CONFIG SET (under cfgMu).
func (s *Server) applyLive() {
	c := s.cfg
	c.Hz = min(max(c.Hz, 1), 500) // Redis clamps hz rather than refusing it
	s.lim.maxBulk.Store(c.ProtoMaxBulkLen)
	s.lim.maxQuery.Store(c.ClientQueryBufferLimit)
	s.lim.maxArgs.Store(int64(c.MaxArgs))
	if s.acl != nil {
		s.acl.applyConfig(c)
	}
	s.protected.Store(c.ProtectedMode)
	s.maxClients.Store(int64(c.MaxClients))
	s.idleTimeout.Store(int64(c.Timeout))
	s.keepAlive.Store(int64(c.TCPKeepalive))
	s.scripts.threshold.Store(c.BusyReplyThreshold)
	s.slowlog.slowerThan.Store(c.SlowlogLogSlowerThan)
	s.slowlog.maxLen.Store(c.SlowlogMaxLen)
	s.latency.threshold.Store(c.LatencyMonitor)
	s.latencyTracking.Store(c.LatencyTracking)
	events, _ := conf.ParseKeyspaceEvents(c.NotifyKeyspaceEvents)
	s.notifyFlags.Store(int64(events))
	limits := conf.OutputBufferLimits(c.ClientOutputBufferLim)
	s.obufLimits.Store(&limits)
	s.trk.maxKeys.Store(c.TrackingTableMaxKeys)
	if s.eng != nil {
		if mode, ok := engine.ParseFsyncMode(c.AppendFsync); ok {
			s.eng.SetFsyncMode(mode)
		}
		if policy, ok := engine.ParseEvictionPolicy(c.MaxMemoryPolicy); ok {
			s.eng.ConfigureMemory(c.MaxMemory, policy)
		}
		if codec, ok := engine.ParseValueCompression(c.ValueCompression); ok {
			s.eng.SetValueCompression(codec, c.ValueCompressionThreshold)
		}
	}
}

// Start listens on every configured address (the plain port and the TLS port) and serves
// clients in the background. Port 0 picks a free port when there is no TLS port, and turns
// the plain port off when there is one (TLS only, as Redis's port 0).
func (s *Server) Start() error {
	s.cfgMu.RLock()
	binds, port, tlsPort := s.cfg.Bind, s.cfg.Port, s.cfg.TLSPort
	s.cfgMu.RUnlock()
	if len(binds) == 0 {
		return errors.New("server: nothing to listen on")
	}
	if port != 0 || tlsPort == 0 {
		if err := s.listenAll(binds, port, nil); err != nil {
			return err
		}
	}
	if tlsPort != 0 {
		if err := s.listenAll(binds, tlsPort, s.tls); err != nil {
			s.stopListeners()
			return err
		}
	}
	if len(s.servers) == 0 {
		return errors.New("server: no address could be bound")
	}
	if err := s.startLoad(); err != nil {
		s.stopListeners()
		return err
	}
	go s.cron()
	s.writeAddrFile()
	s.log.Info("ready to accept connections", "addrs", s.addrList(), "dir", s.cfg.Dir,
		"appendfsync", s.eng.FsyncMode().String())
	return nil
}

// listenAll listens on port at every bind address, with TLS when tlsCfg is set.
func (s *Server) listenAll(binds []string, port int, tlsCfg *tls.Config) error {
	for _, b := range binds {
		optional := strings.HasPrefix(b, "-")
		host := strings.TrimPrefix(b, "-")
		network := "tcp4"
		switch host {
		case "*":
			host = "0.0.0.0"
		case "::*":
			host, network = "::", "tcp6"
		default:
			if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
				network = "tcp6"
			}
		}
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if optional {
				s.log.Warn("optional listen address unavailable", "addr", b, "err", err)
				continue
			}
			s.stopListeners()
			return fmt.Errorf("server: listen on %s: %w", b, err)
		}
		s.serve(ln, tlsCfg)
		if port == 0 {
			// Every further address shares the first one's ephemeral port, as clients expect
			// one port per server.
			port = ln.Addr().(*net.TCPAddr).Port
		}
	}
	return nil
}

// serve runs a redcon server on ln, wrapped in TLS when tlsCfg is set, then in the
// protocol guard (which so reads plaintext).
func (s *Server) serve(ln net.Listener, tlsCfg *tls.Config) {
	rs := redcon.NewServer(ln.Addr().String(), s.serveDraining, s.accept, s.closed)
	s.servers = append(s.servers, rs)
	s.listeners = append(s.listeners, ln)
	inner := ln
	if tlsCfg != nil {
		s.tlsAddrs = append(s.tlsAddrs, ln.Addr())
		inner = newTLSListener(ln, tlsCfg, s.log)
	} else {
		s.addrs = append(s.addrs, ln.Addr())
	}
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := rs.Serve(&guardListener{Listener: inner, lim: &s.lim}); err != nil && !s.closing.Load() {
			s.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Addr is the first plain address the server listens on (the first TLS one when it listens
// only with TLS).
func (s *Server) Addr() net.Addr {
	if len(s.addrs) == 0 {
		return s.TLSAddr()
	}
	return s.addrs[0]
}

func (s *Server) addrList() string {
	var parts []string
	for _, a := range s.addrs {
		parts = append(parts, a.String())
	}
	for _, a := range s.tlsAddrs {
		parts = append(parts, a.String()+" (tls)")
	}
	return strings.Join(parts, " ")
}

// accept admits a connection or refuses it with Redis's reason (max clients, protected mode).
func (s *Server) accept(rc redcon.Conn) bool {
	gc, ok := rc.NetConn().(*guardConn)
	if !ok {
		return false
	}
	if tc, ok := gc.raw().(*net.TCPConn); ok {
		if ka := s.keepAlive.Load(); ka > 0 {
			tc.SetKeepAlivePeriod(time.Duration(ka) * time.Second)
			tc.SetKeepAlive(true)
		} else {
			tc.SetKeepAlive(false)
		}
	}
	s.stats.connsReceived.Add(1)
	c := newClient(s, rc, gc, s.nextID.Add(1))
	refuse := func(err error) bool {
		s.stats.connsRejected.Add(1)
		gc.Conn.Write([]byte("-" + err.Error() + "\r\n"))
		return false
	}
	if s.closing.Load() {
		return false
	}
	if s.protected.Load() && s.acl.defaultNoPass() && !c.loopback {
		return refuse(engine.ErrProtectedMode)
	}
	s.mu.Lock()
	if int64(len(s.clients)) >= s.maxClients.Load() {
		s.mu.Unlock()
		return refuse(engine.ErrMaxClients)
	}
	s.clients[c.id] = c
	s.mu.Unlock()
	rc.SetContext(c)
	return true
}

// closed forgets a connection.
func (s *Server) closed(rc redcon.Conn, err error) {
	if c, ok := rc.Context().(*Client); ok {
		s.retire(c)
	}
}

// retire forgets a client: its subscriptions, its tracking, its place in the client list.
// It runs when the connection has closed, and before the last reply of a connection that is
// closing (QUIT, a fatal error), so that once that reply is read the client is gone for every
// other client, as in Redis (a REDIRECT to it is broken, CLIENT LIST no longer shows it). Only
// the connection's goroutine calls it, and it may run twice.
func (s *Server) retire(c *Client) {
	c.detach()
	c.wakeQueuedWriters() // a burst cut short by the close pushed to others
	c.leaveAll()
	c.trackingOff()
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
}

// Clients returns a snapshot of the connected clients.
func (s *Server) Clients() []*Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	return out
}

func (s *Server) stopListeners() {
	for _, rs := range s.servers {
		rs.Close()
	}
	// redcon's Close does nothing before its Serve goroutine has started: closing the
	// listener itself makes that Serve return at once.
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// serveDraining is redcon's handler: it admits each read burst of commands unless the server
// is shutting down, and holds drain while the burst runs, so that Shutdown can wait for the
// commands in flight to run and their replies to be sent. A burst that arrives once shutdown
// has begun runs nothing: the connection is closed, and no command is half applied.
func (s *Server) serveDraining(rc redcon.Conn, cmd redcon.Command) {
	c, ok := rc.Context().(*Client)
	if !ok || c.closing {
		// After QUIT, SHUTDOWN or a fatal error nothing more runs, as in Redis, not even the
		// rest of a pipeline redcon already parsed.
		return
	}
	if !c.inBurst {
		s.drain.RLock()
		if s.closing.Load() {
			s.drain.RUnlock()
			c.closing = true
			rc.Close()
			return
		}
	}
	s.serveRESP(rc, cmd)
	if !c.inBurst {
		s.drain.RUnlock()
	}
}

// Shutdown stops the server cleanly: it refuses new connections and new commands, waits (up
// to ctx) for the commands in flight to finish and their replies to be sent, closes every
// connection and closes the engine, which fsyncs the write-ahead log and closes Pebble. It is
// safe to call more than once and from several goroutines; every call returns when the server
// is down.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		close(s.stopping)
		s.removeAddrFile()
		s.scripts.shutdown() // a script past busy-reply-threshold would hold up the drain
		s.log.Info("shutting down: finishing the commands in flight")
		drained := make(chan struct{})
		go func() {
			// Lock waits for the bursts in flight; later ones see closing and run nothing.
			s.drain.Lock()
			s.drain.Unlock()
			close(drained)
		}()
		select {
		case <-drained:
		case <-ctx.Done():
			s.log.Warn("shutdown: commands still running at the deadline; closing their connections")
		}
		s.stopListeners() // also closes every connection
		waited := make(chan struct{})
		go func() { s.serveWG.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
		}
		s.stopPersistence()
		s.closeErr = s.eng.Close()
		if s.closeErr == nil {
			s.log.Info("shutdown complete; data is on disk")
		} else {
			s.log.Error("shutdown: closing the data directory failed", "err", s.closeErr)
		}
		close(s.done)
	})
	<-s.done
	return s.closeErr
}

// Stopping is closed when shutdown begins (SHUTDOWN, or a call to Shutdown).
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

// Done is closed once the server has shut down (SHUTDOWN, or Shutdown).
func (s *Server) Done() <-chan struct{} { return s.done }

// Engine is the server's engine (tests, tools).
func (s *Server) Engine() *engine.Engine { return s.eng }

// serverStats are INFO's counters.
type serverStats struct {
	commands      atomic.Int64
	connsReceived atomic.Int64
	connsRejected atomic.Int64
	expiredKeys   atomic.Int64  // keys removed by active expiry
	reads, writes atomic.Int64  // read bursts served and reply flushes written
	instOps       atomic.Int64  // instantaneous_ops_per_sec, sampled by the cron
	peakMemory    atomic.Uint64 // used_memory's peak

	errMu  sync.Mutex
	errors map[string]int64 // errorstats: count per error code
	total  int64
}

func (st *serverStats) countError(msg string) {
	code, _, _ := strings.Cut(msg, " ")
	st.errMu.Lock()
	st.errors[code]++
	st.total++
	st.errMu.Unlock()
}

// bloomBits maps bloom-bits-per-key (0: no filters) to engine.Options.BloomBitsPerKey (0:
// the default, negative: none).
func bloomBits(directive int) int {
	if directive == 0 {
		return -1
	}
	return directive
}

// tombstoneCompaction maps tombstone-compaction-ms (0: never) to
// engine.Options.CompactTombstonesEvery (0: the default, negative: never).
func tombstoneCompaction(ms int) time.Duration {
	if ms == 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}
