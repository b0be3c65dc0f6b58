package server

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
)

// Introspection: MONITOR, SLOWLOG (slowlog.go), LATENCY (latency.go), MEMORY and LASTSAVE.

func registerIntrospectionCommands(t *Table) {
	t.add(
		&Command{Name: "monitor", Arity: 1, Flags: "admin noscript loading stale", Lock: LockNone,
			Handler: cmdMonitor,
			Group:   "server", Since: "1.0.0", Summary: "Listen for all requests received by the server in real time"},
		slowlogCommand(),
		latencyCommand(),
		memoryCommand(),
		&Command{Name: "lastsave", Arity: 1, Flags: "loading stale fast", ACL: "@admin @dangerous", Lock: LockNone,
			Tips: "nondeterministic_output", Handler: func(x *Ctx) { x.Int(x.s.lastSave.Load()) },
			Group: "server", Since: "1.0.0", Summary: "Get the UNIX time stamp of the last successful save to disk",
			Complexity: "O(1)"},
	)
}

// NoteSave records a successful save to disk (SAVE, BGSAVE, a snapshot taken at shutdown):
// LASTSAVE and INFO persistence report it.
func (s *Server) NoteSave(at time.Time) { s.lastSave.Store(at.Unix()) }

// ---- MONITOR ----

// MONITOR makes the client a monitor: from then on it receives a line for every command any
// client runs, in the order they run, as Redis's replicationFeedMonitors writes it:
//
//	+1700000000.123456 [0 127.0.0.1:51234] "set" "key" "va\"lue"
//
// The time is when the command ran, then the database it left selected and the client's
// address ("lua" for a script's commands, "unix:<socket>" on a unix socket), then the
// arguments quoted as sdscatrepr quotes them, secrets redacted (AUTH, HELLO AUTH, MIGRATE
// AUTH/AUTH2). Commands flagged admin or skip_monitor are not shown, nor commands refused
// before they ran (unknown, wrong arity, NOAUTH ...). A command queued in MULTI is shown
// when EXEC runs it, just before EXEC itself; a command that blocks is shown when it blocks.
//
// A line is written while the command still holds its key locks, so two commands on one key
// appear in the order they ran. Lines reach the monitor through Client.Push; a monitor that
// reads too slowly is closed by the replica class of client-output-buffer-limit (Redis marks
// monitors as replicas; it applies the normal class, which is unlimited by default, and
// Strata would rather not let one stalled monitor grow without bound).
//
// A monitor may still run commands that touch no data (PING, INFO, CLIENT, RESET, QUIT ...);
// the others are refused with "Replica can't interact with the keyspace", in RESP2 and RESP3
// alike, as Redis refuses them to every replica.

// monitorHub is the server's list of monitors.
type monitorHub struct {
	n atomic.Int32 // len(list): the fast path of every command reads only this

	mu   sync.Mutex
	list []*Client
	line []byte
}

func (h *monitorHub) add(c *Client) {
	h.mu.Lock()
	h.list = append(h.list, c)
	h.n.Store(int32(len(h.list)))
	h.mu.Unlock()
}

func (h *monitorHub) remove(c *Client) {
	h.mu.Lock()
	for i, m := range h.list {
		if m == c {
			h.list = append(h.list[:i], h.list[i+1:]...)
			break
		}
	}
	h.n.Store(int32(len(h.list)))
	h.mu.Unlock()
}

func cmdMonitor(x *Ctx) {
	if x.denyBlocking {
		x.Error(engine.ErrMonitorDenyBlocking)
		return
	}
	if x.intro.monitor.Load() {
		return // a second MONITOR is ignored, without a reply
	}
	x.OK()
	x.pushes = true // monitor lines join its replies before each command, as other pushes do
	x.intro.monitor.Store(true)
	x.s.monitors.add(x.Client)
}

// feedMonitors shows a command that ran to every monitor, unless it is flagged admin or
// skip_monitor.
func (s *Server) feedMonitors(c *Client, cmd *Command, args [][]byte) {
	if s.monitors.n.Load() == 0 || cmd.Has(FlagAdmin|FlagSkipMon) {
		return
	}
	s.showToMonitors(c, cmd, args)
}

// showToMonitors writes a command's line to every monitor whatever its flags. EVAL and
// FCALL, flagged skip_monitor, call it themselves before their script runs, so that the
// script's line precedes the lines of the commands it runs ("[0 lua]"), as in Redis.
func (s *Server) showToMonitors(c *Client, cmd *Command, args [][]byte) {
	h := &s.monitors
	if h.n.Load() == 0 {
		return
	}
	args = redactedArgs(cmd, args)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	line := append(h.line[:0], '+')
	line = strconv.AppendInt(line, now.Unix(), 10)
	line = append(line, '.')
	us := strconv.AppendInt(nil, int64(now.Nanosecond()/1000), 10)
	line = append(line, "000000"[len(us):]...)
	line = append(line, us...)
	line = append(line, " ["...)
	line = strconv.AppendInt(line, int64(c.db), 10)
	line = append(line, ' ')
	switch {
	case c.rc == nil:
		line = append(line, "lua"...)
	case c.unix:
		line = append(line, "unix:"...)
		line = append(line, c.laddr...)
	default:
		line = append(line, c.addr...)
	}
	line = append(line, "] "...)
	for i, a := range args {
		if i > 0 {
			line = append(line, ' ')
		}
		line = appendRepr(line, a)
	}
	line = append(line, '\r', '\n')
	h.line = line
	keep := h.list[:0]
	for _, m := range h.list {
		if m.intro.muted.Load() {
			keep = append(keep, m) // CLIENT REPLY OFF or SKIP: the line is dropped
			continue
		}
		if !m.Push(line) { // gone, or closed by its output buffer limit (replica class)
			m.intro.monitor.Store(false)
			continue
		}
		keep = append(keep, m)
	}
	clear(h.list[len(keep):])
	h.list = keep
	h.n.Store(int32(len(keep)))
}

// appendRepr appends b quoted as Redis's sdscatrepr quotes it.
func appendRepr(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, ch := range b {
		switch ch {
		case '\\', '"':
			dst = append(dst, '\\', ch)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		default:
			if ch >= 0x20 && ch <= 0x7e {
				dst = append(dst, ch)
			} else {
				dst = append(dst, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(dst, '"')
}

// monitorRefuses says whether a monitor may not run cmd: what reads, writes or may
// replicate, as Redis refuses it to replicas.
func monitorRefuses(c *Client, cmd *Command) bool {
	return c.intro.monitor.Load() && (cmd.Has(FlagReadonly|FlagWrite|FlagMayReplicate) || cmd.Name == "exec" && c.queuedFlags()&(FlagReadonly|FlagWrite|FlagMayReplicate) != 0)
}

// queuedFlags is the union of the flags of the commands queued in MULTI.
func (c *Client) queuedFlags() CmdFlag {
	var f CmdFlag
	for _, q := range c.tx.queue {
		f |= q.cmd.flags
	}
	return f
}

// ---- MEMORY ----

var memoryHelp = []string{
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
}

func memoryCommand() *Command {
	const stats = "nondeterministic_output request_policy:all_shards response_policy:special"
	return &Command{Name: "memory", Arity: -2, Lock: LockNone,
		Group: "server", Since: "4.0.0", Summary: "A container for memory diagnostics commands",
		Complexity: "Depends on subcommand.",
		Subs: subs("memory",
			&Command{Name: "doctor", Arity: 2, Lock: LockNone, Tips: stats, Handler: cmdMemoryDoctor,
				Since: "4.0.0", Summary: "Outputs memory problems report", Complexity: "O(1)"},
			&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
				Handler: func(x *Ctx) { x.help("MEMORY", memoryHelp) },
				Since:   "4.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
			&Command{Name: "malloc-stats", Arity: 2, Lock: LockNone, Tips: stats, Handler: cmdMemoryMallocStats,
				Since: "4.0.0", Summary: "Show allocator internal stats",
				Complexity: "Depends on how much memory is allocated, could be slow"},
			&Command{Name: "purge", Arity: 2, Lock: LockNone,
				Tips:    "request_policy:all_shards response_policy:all_succeeded",
				Handler: func(x *Ctx) { debug.FreeOSMemory(); x.OK() },
				Since:   "4.0.0", Summary: "Ask the allocator to release memory",
				Complexity: "Depends on how much memory is allocated, could be slow"},
			&Command{Name: "stats", Arity: 2, Lock: LockNone, Tips: stats, Handler: cmdMemoryStats,
				Since: "4.0.0", Summary: "Show memory usage details", Complexity: "O(1)"},
			&Command{Name: "usage", Arity: -3, Flags: "readonly", First: 2, Last: 2, Step: 1,
				Handler: cmdMemoryUsage,
				Since:   "4.0.0", Summary: "Estimate the memory usage of a key",
				Complexity: "O(N) where N is the number of samples."},
		)}
}

// memoryUsageSamples is MEMORY USAGE's default SAMPLES (Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const memoryUsageSamples = 5

// cmdMemoryUsage is MEMORY USAGE key [SAMPLES n]. What it measures is Strata's cost of the
// key in stored bytes (engine.Txn.Footprint): its metadata record, its element records (and
// a sorted set's score index), and its expiry-index entry, before Pebble's compression. A
// collection with more elements than the samples is measured from the first n element
// records and their average size, as Redis samples. The number is not what Redis would
// report for the same value in RAM (`strata inspect` estimates that from a dump).
func cmdMemoryUsage(x *Ctx) {
	samples := int64(memoryUsageSamples)
	for j := 3; j < len(x.Args); j++ {
		if !strings.EqualFold(x.Arg(j), "samples") || j+1 >= len(x.Args) {
			x.Error(engine.ErrSyntax)
			return
		}
		n, ok := engine.ParseInt(x.Args[j+1])
		if !ok {
			x.Error(engine.ErrNotInteger)
			return
		}
		if n < 0 {
			x.Error(engine.ErrSyntax)
			return
		}
		samples = n
		j++
	}
	x.Txn.NoTouch()
	fp, ok, err := x.Txn.Footprint(x.Args[2], int(min(samples, 1<<31-1)))
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Int(fp.Total())
	}
}

// cmdMemoryStats is MEMORY STATS with Redis 7.0's fields and Strata's numbers, the same ones
// INFO memory reports: the allocation figures are the hot tier (what maxmemory bounds), the
// allocator's are the Go heap, and RSS is the whole process (Pebble's caches included).
// Strata has no per-database hash tables, so their overheads are 0.
func cmdMemoryStats(x *Ctx) {
	s := x.s
	m := s.memoryOverview()
	var dbs []int
	var keys int64
	for db := 0; db < s.eng.Databases(); db++ {
		if n := s.eng.KeyspaceStats(db).Keys; n > 0 {
			dbs = append(dbs, db)
			keys += n
		}
	}
	overhead := m.startup + m.clientMem
	dataset := m.used - min(m.used, overhead)
	net := uint64(1)
	if m.used > m.startup {
		net = m.used - m.startup
	}
	perKey := uint64(0)
	if keys > 0 {
		perKey = net / uint64(keys)
	}
	x.MapLen(27 + len(dbs))
	num := func(name string, v int64) {
		x.BulkString(name)
		x.Int(v)
	}
	ratio := func(name string, a, b uint64) {
		x.BulkString(name)
		x.Double(float64(float32(a) / float32(max(b, 1)))) // Redis computes these as floats
	}
	num("peak.allocated", int64(m.peak))
	num("total.allocated", int64(m.used))
	num("startup.allocated", int64(m.startup))
	num("replication.backlog", 0)
	num("clients.slaves", 0)
	num("clients.normal", int64(m.clientMem))
	num("cluster.links", 0)
	num("aof.buffer", 0)
	num("lua.caches", 0)
	num("functions.caches", 0)
	for _, db := range dbs {
		x.BulkString("db." + strconv.Itoa(db))
		x.MapLen(3)
		num("overhead.hashtable.main", 0)
		num("overhead.hashtable.expires", 0)
		num("overhead.hashtable.slot-to-keys", 0)
	}
	num("overhead.total", int64(overhead))
	num("keys.count", keys)
	num("keys.bytes-per-key", int64(perKey))
	num("dataset.bytes", int64(dataset))
	x.BulkString("dataset.percentage")
	x.Double(float64(float32(dataset) * 100 / float32(net)))
	x.BulkString("peak.percentage")
	x.Double(float64(float32(m.used) * 100 / float32(max(m.peak, 1))))
	num("allocator.allocated", int64(m.heap.heapObjects))
	num("allocator.active", int64(m.active))
	num("allocator.resident", int64(m.resident))
	ratio("allocator-fragmentation.ratio", m.active, m.heap.heapObjects)
	num("allocator-fragmentation.bytes", int64(m.active)-int64(m.heap.heapObjects))
	ratio("allocator-rss.ratio", m.resident, m.active)
	num("allocator-rss.bytes", int64(m.resident)-int64(m.active))
	ratio("rss-overhead.ratio", m.rss, m.resident)
	num("rss-overhead.bytes", int64(m.rss)-int64(m.resident))
	ratio("fragmentation", m.rss, m.used)
	num("fragmentation.bytes", int64(m.rss)-int64(m.used))
}

// cmdMemoryDoctor is Redis's MEMORY DOCTOR over Strata's figures. Two of Redis's checks are
// left out because they would always fire and mean nothing here: "high total RSS" and "high
// process RSS overhead" compare the process's resident memory with the allocator's, and
// Strata's RSS holds Pebble's block cache and memtables by design.
func cmdMemoryDoctor(x *Ctx) {
	s := x.s
	m := s.memoryOverview()
	clients := len(s.Clients())
	var bigPeak, allocFrag, allocRSS, bigClientBuf bool
	reports := 0
	empty := m.used < 5<<20
	if empty {
		reports++
	} else {
		if float32(m.peak)/float32(m.used) > 1.5 {
			bigPeak = true
			reports++
		}
		if float32(m.active)/float32(max(m.heap.heapObjects, 1)) > 1.1 && m.active-min(m.active, m.heap.heapObjects) > 10<<20 {
			allocFrag = true
			reports++
		}
		if float32(m.resident)/float32(max(m.active, 1)) > 1.1 && m.resident-min(m.resident, m.active) > 10<<20 {
			allocRSS = true
			reports++
		}
		if clients > 0 && m.clientMem/uint64(clients) > 200<<10 {
			bigClientBuf = true
			reports++
		}
	}
	var b strings.Builder
	switch {
	case reports == 0:
		b.WriteString("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n")
	case empty:
		b.WriteString("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n")
	default:
		b.WriteString("Sam, I detected a few issues in this Redis instance memory implants:\n\n")
		if bigPeak {
			b.WriteString(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n")
		}
		if allocFrag {
			b.WriteString(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n")
		}
		if allocRSS {
			b.WriteString(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n")
		}
		if bigClientBuf {
			b.WriteString(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n")
		}
		b.WriteString("I'm here to keep you safe, Sam. I want to help you.\n")
	}
	x.Verbatim("txt", b.String())
}

// cmdMemoryMallocStats reports the Go runtime's memory classes (Strata's allocator is Go's;
// Redis prints jemalloc's statistics here).
func cmdMemoryMallocStats(x *Ctx) {
	all := metrics.All()
	var samples []metrics.Sample
	for _, d := range all {
		if strings.HasPrefix(d.Name, "/memory/") || strings.HasPrefix(d.Name, "/gc/heap/") {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	b.WriteString("___ Begin Go runtime memory statistics ___\n")
	fmt.Fprintf(&b, "Version: %q\n", runtime.Version())
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			fmt.Fprintf(&b, "%s %d\n", s.Name, s.Value.Uint64())
		case metrics.KindFloat64:
			fmt.Fprintf(&b, "%s %g\n", s.Name, s.Value.Float64())
		}
	}
	b.WriteString("--- End Go runtime memory statistics ---\n")
	x.Verbatim("txt", b.String())
}
