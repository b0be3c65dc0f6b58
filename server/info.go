package server

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
)

// INFO answers with Redis 7.0's sections and field names, in Redis's order, so that
// redis-cli, redis_exporter and the dashboards built on them read Strata as they read Redis.
// Values are honest: a field Strata has no counterpart for is reported as Redis reports the
// idle state (0, -1, "ok"), never invented. Notably:
//
//   - memory: used_memory is the hot tier (the memory maxmemory bounds: decoded hot values);
//     used_memory_rss is the process's resident set, which also holds Pebble's block cache,
//     memtables and the Go runtime. strata_* fields give the tier, the Go heap and Pebble.
//   - persistence: Strata's durability is Pebble's write-ahead log, governed by appendfsync;
//     there is no fork, so no copy-on-write. The rdb_* fields report SAVE, BGSAVE and save
//     points (cmd_persist.go), loading and loading_* the drop-in load of a dump (load.go).
//     aof_enabled follows the appendonly directive; aof_* report BGREWRITEAOF (cmd_aof.go).
//   - cpu: Go has no main thread, so the *_main_thread fields are absent.
//   - latencystats: per-command percentiles while latency-tracking is on (latency.go).

// infoSection is one INFO section: the name INFO takes, the header it prints, and whether
// INFO without arguments (or "default") includes it.
type infoSection struct {
	name, title string
	dflt        bool
	write       func(s *Server, b *infoBuf)
}

// infoSections is Redis's section order.
var infoSections = []infoSection{
	{"server", "Server", true, (*Server).infoServer},
	{"clients", "Clients", true, (*Server).infoClients},
	{"memory", "Memory", true, (*Server).infoMemory},
	{"persistence", "Persistence", true, (*Server).infoPersistence},
	{"stats", "Stats", true, (*Server).infoStats},
	{"replication", "Replication", true, (*Server).infoReplication},
	{"cpu", "CPU", true, (*Server).infoCPU},
	{"modules", "Modules", true, func(*Server, *infoBuf) {}},
	{"commandstats", "Commandstats", false, (*Server).infoCommandStats},
	{"errorstats", "Errorstats", true, (*Server).infoErrorStats},
	{"latencystats", "Latencystats", false, (*Server).infoLatencyStats},
	{"cluster", "Cluster", true, func(_ *Server, b *infoBuf) { b.add("cluster_enabled", "0") }},
	{"keyspace", "Keyspace", true, (*Server).infoKeyspace},
}

func cmdInfo(x *Ctx) {
	text := x.s.Info(x.Args[1:]...)
	x.Verbatim("txt", text)
}

// Info renders the INFO sections named by args (none: the default ones), as INFO does:
// "default", "all" (everything but module sections), "everything", or section names, any mix,
// case-insensitive; unknown names are ignored.
func (s *Server) Info(args ...[]byte) string {
	want := make([]bool, len(infoSections))
	if len(args) == 0 {
		args = [][]byte{[]byte("default")}
	}
	for _, a := range args {
		name := strings.ToLower(string(a))
		for i := range infoSections {
			sec := &infoSections[i]
			switch name {
			case "all", "everything":
				want[i] = true
			case "default":
				want[i] = want[i] || sec.dflt
			case sec.name:
				want[i] = true
			case "module_list":
				want[i] = want[i] || sec.name == "modules"
			}
		}
	}
	var b infoBuf
	for i := range infoSections {
		if !want[i] {
			continue
		}
		if len(b.buf) > 0 {
			b.buf = append(b.buf, "\r\n"...)
		}
		b.buf = append(b.buf, "# "...)
		b.buf = append(b.buf, infoSections[i].title...)
		b.buf = append(b.buf, "\r\n"...)
		infoSections[i].write(s, &b)
	}
	return string(b.buf)
}

// infoBuf accumulates "name:value\r\n" lines.
type infoBuf struct{ buf []byte }

func (b *infoBuf) add(name, value string) {
	b.buf = append(b.buf, name...)
	b.buf = append(b.buf, ':')
	b.buf = append(b.buf, value...)
	b.buf = append(b.buf, "\r\n"...)
}

func (b *infoBuf) int(name string, v int64) { b.add(name, strconv.FormatInt(v, 10)) }

func (b *infoBuf) uint(name string, v uint64) { b.add(name, strconv.FormatUint(v, 10)) }

// fixed2 formats like C's "%.2f".
func fixed2(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// zeros adds fields whose value is 0 in Strata (features it does not have, or work it never
// does, such as forking).
func (b *infoBuf) zeros(names ...string) {
	for _, n := range names {
		b.add(n, "0")
	}
}

// bytesToHuman formats a size as Redis's bytesToHuman: bytes below 1K, then K, M, G, T, P
// with two decimals (and bytes again beyond).
func bytesToHuman(n uint64) string {
	d := float64(n)
	if n >= 1024 {
		for _, unit := range "KMGTP" {
			d /= 1024
			if d < 1024 {
				return fixed2(d) + string(unit)
			}
		}
	}
	return strconv.FormatUint(n, 10) + "B"
}

func (s *Server) infoServer(b *infoBuf) {
	now := time.Now()
	uptime := int64(now.Sub(s.started) / time.Second)
	s.cfgMu.RLock()
	hz := s.cfg.Hz
	s.cfgMu.RUnlock()
	b.add("redis_version", Version)
	b.add("redis_git_sha1", "00000000")
	b.add("redis_git_dirty", "0")
	b.add("redis_build_id", buildID())
	b.add("redis_mode", "standalone")
	b.add("os", osName())
	b.int("arch_bits", strconv.IntSize)
	b.add("monotonic_clock", "POSIX clock_gettime")
	b.add("multiplexing_api", pollerName())
	b.add("atomicvar_api", "sync-atomic")
	b.add("gcc_version", "0.0.0")
	b.int("process_id", int64(os.Getpid()))
	supervised := "no"
	if os.Getenv("NOTIFY_SOCKET") != "" {
		supervised = "systemd"
	}
	b.add("process_supervised", supervised)
	b.add("run_id", s.runID)
	b.int("tcp_port", int64(s.tcpPort()))
	b.int("server_time_usec", now.UnixMicro())
	b.int("uptime_in_seconds", uptime)
	b.int("uptime_in_days", uptime/(3600*24))
	b.int("hz", int64(hz))
	b.int("configured_hz", int64(hz))
	b.int("lru_clock", (now.UnixMilli()/1000)&(1<<24-1))
	exe, _ := os.Executable()
	b.add("executable", exe)
	cfgFile := s.cfgPath
	if cfgFile != "" {
		if abs, err := filepath.Abs(cfgFile); err == nil {
			cfgFile = abs
		}
	}
	b.add("config_file", cfgFile)
	b.add("io_threads_active", "0")
	b.add("strata_version", StrataVersion)
}

// buildID identifies the binary: its VCS revision when the build recorded one.
func buildID() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range info.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 15 {
				return kv.Value[:15]
			}
		}
	}
	return "0"
}

// pollerName is the readiness API Go's network poller uses on this system.
func pollerName() string {
	switch runtime.GOOS {
	case "linux", "android":
		return "epoll"
	case "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
		return "kqueue"
	case "solaris", "illumos":
		return "evport"
	}
	return runtime.GOOS
}

// tcpPort is the TCP port clients connect to.
func (s *Server) tcpPort() int {
	for _, a := range s.addrs {
		if ta, ok := a.(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	return 0
}

func (s *Server) infoClients(b *infoBuf) {
	clients := s.Clients()
	var maxOut int
	for _, c := range clients {
		maxOut = max(maxOut, c.PendingBytes())
	}
	b.int("connected_clients", int64(len(clients)))
	b.add("cluster_connections", "0")
	b.int("maxclients", s.maxClients.Load())
	b.add("client_recent_max_input_buffer", "0")
	b.int("client_recent_max_output_buffer", int64(maxOut))
	blocked, timed := s.blockedCounts()
	b.int("blocked_clients", int64(blocked))
	b.int("tracking_clients", s.trk.clients.Load())
	b.int("clients_in_timeout_table", int64(timed))
}

// memStats are the Go runtime's memory figures INFO memory reports.
type memStats struct {
	heapObjects, heapUnused, heapFree, total uint64
}

func readMemStats() memStats {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	return memStats{heapObjects: v(0), heapUnused: v(1), heapFree: v(2), total: v(3)}
}

// usedMemory reads the heap in use and records the peak.
func (s *Server) usedMemory() (memStats, uint64) {
	m := readMemStats()
	for {
		peak := s.stats.peakMemory.Load()
		if m.heapObjects <= peak || s.stats.peakMemory.CompareAndSwap(peak, m.heapObjects) {
			return m, max(peak, m.heapObjects)
		}
	}
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// memOverview is the memory picture INFO memory and MEMORY STATS report.
type memOverview struct {
	heap    memStats
	eng     engine.Stats
	used    uint64 // the hot tier: what maxmemory bounds (used_memory)
	peak    uint64
	startup uint64
	rss     uint64
	// The Go heap as an allocator: in use, plus unused spans, plus spans free for reuse.
	active, resident uint64
	clientMem        uint64 // clients' pending output
}

func (s *Server) memoryOverview() memOverview {
	var o memOverview
	var peak uint64
	o.heap, peak = s.usedMemory()
	o.eng = s.eng.Stats()
	// used_memory is the hot tier's share, the memory maxmemory bounds: its live entries plus
	// an estimate of their index (about 24 bytes each in the pointer-free map).
	o.used = uint64(o.eng.Hot.Bytes + 24*o.eng.Hot.Keys)
	o.peak = max(peak, o.used)
	o.rss = residentMemory()
	if o.rss == 0 {
		o.rss = o.heap.total
	}
	o.startup = min(s.startupMemory, o.used)
	o.active = o.heap.heapObjects + o.heap.heapUnused
	o.resident = o.active + o.heap.heapFree
	for _, c := range s.Clients() {
		o.clientMem += uint64(c.PendingBytes())
	}
	return o
}

func (s *Server) infoMemory(b *infoBuf) {
	o := s.memoryOverview()
	m, es, used, peak, rss, startup := o.heap, o.eng, o.used, o.peak, o.rss, o.startup
	active, resident, clientMem := o.active, o.resident, o.clientMem
	system := systemMemory()
	s.cfgMu.RLock()
	maxmem, policy := s.cfg.MaxMemory, s.cfg.MaxMemoryPolicy
	s.cfgMu.RUnlock()

	b.uint("used_memory", used)
	b.add("used_memory_human", bytesToHuman(used))
	b.uint("used_memory_rss", rss)
	b.add("used_memory_rss_human", bytesToHuman(rss))
	b.uint("used_memory_peak", peak)
	b.add("used_memory_peak_human", bytesToHuman(peak))
	b.add("used_memory_peak_perc", fixed2(100*ratio(used, peak))+"%")
	b.uint("used_memory_overhead", startup+clientMem)
	b.uint("used_memory_startup", startup)
	dataset := used - min(used, startup+clientMem)
	b.uint("used_memory_dataset", dataset)
	b.add("used_memory_dataset_perc", fixed2(100*ratio(dataset, used-min(used, startup)))+"%")
	b.uint("allocator_allocated", m.heapObjects)
	b.uint("allocator_active", active)
	b.uint("allocator_resident", resident)
	b.uint("total_system_memory", system)
	b.add("total_system_memory_human", bytesToHuman(system))
	b.zeros("used_memory_lua", "used_memory_vm_eval")
	b.add("used_memory_lua_human", "0B")
	scripts, functions, libraries := s.scripts.counts()
	b.zeros("used_memory_scripts_eval")
	b.int("number_of_cached_scripts", scripts)
	b.int("number_of_functions", functions)
	b.int("number_of_libraries", libraries)
	b.zeros("used_memory_vm_functions", "used_memory_vm_total")
	b.add("used_memory_vm_total_human", "0B")
	b.zeros("used_memory_functions", "used_memory_scripts")
	b.add("used_memory_scripts_human", "0B")
	b.int("maxmemory", maxmem)
	b.add("maxmemory_human", bytesToHuman(uint64(maxmem)))
	b.add("maxmemory_policy", policy)
	b.add("allocator_frag_ratio", fixed2(ratio(active, m.heapObjects)))
	b.int("allocator_frag_bytes", int64(active)-int64(m.heapObjects))
	b.add("allocator_rss_ratio", fixed2(ratio(resident, active)))
	b.int("allocator_rss_bytes", int64(resident)-int64(active))
	b.add("rss_overhead_ratio", fixed2(ratio(rss, resident)))
	b.int("rss_overhead_bytes", int64(rss)-int64(resident))
	b.add("mem_fragmentation_ratio", fixed2(ratio(rss, used)))
	b.int("mem_fragmentation_bytes", int64(rss)-int64(used))
	b.zeros("mem_not_counted_for_evict", "mem_replication_backlog", "mem_total_replication_buffers",
		"mem_clients_slaves")
	b.uint("mem_clients_normal", clientMem)
	defer func() {
		// Strata's own: the hot tier, the Go heap, Pebble.
		b.int("strata_hot_keys", es.Hot.Keys)
		b.int("strata_hot_bytes", es.Hot.Bytes)
		b.int("strata_hot_capacity", es.Hot.Capacity)
		b.int("strata_hot_hits", es.Hot.Hits)
		b.int("strata_hot_misses", es.Hot.Misses)
		b.uint("strata_go_heap", m.heapObjects)
		b.uint("strata_disk_bytes", es.DiskBytes)
		b.uint("strata_compaction_debt", es.CompactionDebt)
		b.add("strata_compression_ratio", fixed2(es.CompressionRatio))
		b.int("strata_pebble_block_cache", es.BlockCacheBytes)
		b.int("strata_pebble_memtables", es.MemTableBytes)
		b.int("strata_pebble_table_cache", es.TableCacheBytes)
	}()
	b.zeros("mem_cluster_links", "mem_aof_buffer")
	b.add("mem_allocator", runtime.Version()) // the Go runtime's allocator
	b.zeros("active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects")
}

func (s *Server) infoPersistence(b *infoBuf) {
	s.infoRDB(b)
	s.infoAOF(b)
	s.infoLoading(b)
}

func (s *Server) infoStats(b *infoBuf) {
	st := &s.stats
	b.int("total_connections_received", st.connsReceived.Load())
	b.int("total_commands_processed", st.commands.Load())
	b.int("instantaneous_ops_per_sec", st.instOps.Load())
	b.zeros("total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
		"total_net_repl_output_bytes")
	for _, n := range []string{"instantaneous_input_kbps", "instantaneous_output_kbps",
		"instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps"} {
		b.add(n, "0.00")
	}
	b.int("rejected_connections", st.connsRejected.Load())
	b.zeros("sync_full", "sync_partial_ok", "sync_partial_err")
	b.int("expired_keys", st.expiredKeys.Load())
	b.add("expired_stale_perc", "0.00")
	es := s.eng.Stats()
	b.zeros("expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds")
	b.int("evicted_keys", es.Hot.Evicted)
	b.zeros("evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time")
	b.int("keyspace_hits", es.KeyspaceHits)
	b.int("keyspace_misses", es.KeyspaceMisses)
	b.int("pubsub_channels", s.ps.count[subChannel].Load())
	b.int("pubsub_patterns", s.ps.count[subPattern].Load())
	b.int("pubsubshard_channels", s.ps.count[subShard].Load())
	b.zeros("latest_fork_usec", "total_forks", "migrate_cached_sockets",
		"slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
		"active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
		"current_active_defrag_time")
	keys, items, prefixes := s.trk.stats()
	b.int("tracking_total_keys", keys)
	b.int("tracking_total_items", items)
	b.int("tracking_total_prefixes", prefixes)
	b.add("unexpected_error_replies", "0")
	st.errMu.Lock()
	errs := st.total
	st.errMu.Unlock()
	b.int("total_error_replies", errs)
	b.add("dump_payload_sanitizations", "0")
	b.int("total_reads_processed", st.reads.Load())
	b.int("total_writes_processed", st.writes.Load())
	b.zeros("io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
		"reply_buffer_expands")
}

func (s *Server) infoReplication(b *infoBuf) {
	b.add("role", "master")
	b.add("connected_slaves", "0")
	b.add("master_failover_state", "no-failover")
	b.add("master_replid", *s.replID.Load())
	b.add("master_replid2", strings.Repeat("0", 40))
	b.add("master_repl_offset", "0")
	b.add("second_repl_offset", "-1")
	b.add("repl_backlog_active", "0")
	b.add("repl_backlog_size", "1048576")
	b.add("repl_backlog_first_byte_offset", "0")
	b.add("repl_backlog_histlen", "0")
}

func (s *Server) infoCPU(b *infoBuf) {
	self, children := cpuTimes()
	b.add("used_cpu_sys", seconds6(self.sys))
	b.add("used_cpu_user", seconds6(self.user))
	b.add("used_cpu_sys_children", seconds6(children.sys))
	b.add("used_cpu_user_children", seconds6(children.user))
}

// cpuTime is CPU time spent in the kernel and in user space.
type cpuTime struct{ sys, user time.Duration }

// seconds6 formats a duration as Redis prints rusage times: "%ld.%06ld".
func seconds6(d time.Duration) string {
	us := d.Microseconds()
	frac := strconv.FormatInt(us%1e6, 10)
	return strconv.FormatInt(us/1e6, 10) + "." + strings.Repeat("0", 6-len(frac)) + frac
}

// infoSafeName replaces the characters that would break INFO's format, as Redis's
// getSafeInfoString does.
func infoSafeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '#', ':', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

func (s *Server) infoCommandStats(b *infoBuf) {
	var line []byte
	for _, c := range s.cmds.All() {
		for _, cmd := range append([]*Command{c}, c.SubList()...) {
			calls, usec := cmd.stats.calls.Load(), cmd.stats.usec.Load()
			rejected, failed := cmd.stats.rejected.Load(), cmd.stats.failed.Load()
			if calls == 0 && rejected == 0 && failed == 0 {
				continue
			}
			perCall := 0.0
			if calls != 0 {
				perCall = float64(float32(usec) / float32(calls)) // C's (float)usec/calls
			}
			line = append(line[:0], "calls="...)
			line = strconv.AppendInt(line, calls, 10)
			line = append(line, ",usec="...)
			line = strconv.AppendInt(line, usec, 10)
			line = append(line, ",usec_per_call="...)
			line = strconv.AppendFloat(line, perCall, 'f', 2, 64)
			line = append(line, ",rejected_calls="...)
			line = strconv.AppendInt(line, rejected, 10)
			line = append(line, ",failed_calls="...)
			line = strconv.AppendInt(line, failed, 10)
			b.add("cmdstat_"+infoSafeName(cmd.Name), string(line))
		}
	}
}

func (s *Server) infoErrorStats(b *infoBuf) {
	st := &s.stats
	st.errMu.Lock()
	codes := make([]string, 0, len(st.errors))
	for code := range st.errors {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	counts := make([]int64, len(codes))
	for i, code := range codes {
		counts[i] = st.errors[code]
	}
	st.errMu.Unlock()
	for i, code := range codes {
		b.add("errorstat_"+infoSafeName(code), "count="+strconv.FormatInt(counts[i], 10))
	}
}

func (s *Server) infoKeyspace(b *infoBuf) {
	for db := 0; db < s.eng.Databases(); db++ {
		ks := s.eng.KeyspaceStats(db)
		if ks.Keys == 0 && ks.Expires == 0 {
			continue
		}
		b.add("db"+strconv.Itoa(db), "keys="+strconv.FormatInt(ks.Keys, 10)+",expires="+
			strconv.FormatInt(ks.Expires, 10)+",avg_ttl=0")
	}
}

// resetStats is CONFIG RESETSTAT: command and error statistics and the INFO counters start
// again from zero.
func (s *Server) resetStats() {
	for _, c := range s.cmds.All() {
		for _, cmd := range append([]*Command{c}, c.SubList()...) {
			cmd.stats.calls.Store(0)
			cmd.stats.usec.Store(0)
			cmd.stats.rejected.Store(0)
			cmd.stats.failed.Store(0)
			cmd.stats.hist.Store(nil)
		}
	}
	st := &s.stats
	st.errMu.Lock()
	st.errors = map[string]int64{}
	st.total = 0
	st.errMu.Unlock()
	st.commands.Store(0)
	st.connsReceived.Store(0)
	st.connsRejected.Store(0)
	st.expiredKeys.Store(0)
	st.reads.Store(0)
	st.writes.Store(0)
	st.instOps.Store(0)
	st.peakMemory.Store(0)
}
