// Package conf holds Strata's configuration: one struct, loaded once by viper from a YAML
// file, STRATA_* environment variables and flags (later sources win), validated once, and
// passed down explicitly. Nothing here is package-level mutable state.
//
// The struct's field tags are the only description of a directive: its Redis name, default,
// bounds, whether CONFIG SET may change it live, and its help text. Loading, validation,
// CONFIG GET/SET/REWRITE and the commented conf/strata.yaml all read those tags, so they
// cannot drift apart. Directive names are Redis's wherever the concept is the same, so the
// tools around Redis (redis-cli, redis_exporter) keep working.
package conf

// Config is every setting of a Strata server.
//
// Tags:
//
//	name     the directive's name (Redis's where the concept is the same)
//	default  the default, written as in redis.conf
//	kind     memory | enum | list | save | percentiles | events | obuf (how the text
//	         parses; default: the Go type's)
//	enum     the allowed values of an enum, separated by '|'
//	min max  bounds of an integer
//	live     "yes" when CONFIG SET may change it while running
//	alias    another name the directive answers to (Redis's old name)
//	help     the comment above the directive in strata.yaml (may run over lines)
type Config struct {
	// Network
	Bind          []string `name:"bind" default:"* -::*" kind:"list" help:"Addresses to listen on; a leading '-' makes an address optional (skipped when unavailable)."`
	Port          int      `name:"port" default:"6379" min:"0" max:"65535" help:"TCP port for RESP clients; 0 disables the plain port."`
	ProtectedMode bool     `name:"protected-mode" default:"yes" live:"yes" help:"With no password set, serve only loopback clients."`
	TCPBacklog    int      `name:"tcp-backlog" default:"511" min:"0" max:"65535" help:"Listen backlog (accepted for compatibility; the OS setting applies)."`
	Timeout       int      `name:"timeout" default:"0" min:"0" max:"2147483647" live:"yes" help:"Close a client idle for this many seconds; 0 never."`
	TCPKeepalive  int      `name:"tcp-keepalive" default:"300" min:"0" max:"2147483647" live:"yes" help:"TCP keepalive period in seconds; 0 disables."`
	MaxClients    int      `name:"maxclients" default:"10000" min:"1" max:"4294967295" live:"yes" help:"Most clients connected at once; others get 'ERR max number of clients reached'."`

	// Security
	RequirePass      string `name:"requirepass" default:"" live:"yes" help:"Password of the default user; empty means no AUTH needed."`
	ACLFile          string `name:"aclfile" default:"" help:"File of ACL users (ACL LOAD and ACL SAVE), loaded at start; empty: users live only in memory."`
	ACLLogMaxLen     int64  `name:"acllog-max-len" default:"128" min:"0" max:"9223372036854775807" live:"yes" help:"Entries kept in the ACL LOG of denied commands and failed authentications."`
	ACLPubsubDefault string `name:"acl-pubsub-default" default:"resetchannels" kind:"enum" enum:"allchannels|resetchannels" live:"yes" help:"Channels a new ACL user may use: none (resetchannels) or all (allchannels)."`

	// TLS
	TLSPort        int    `name:"tls-port" default:"0" min:"0" max:"65535" help:"TCP port for TLS clients on the bind addresses; 0 disables TLS. With port 0, TLS only."`
	TLSCertFile    string `name:"tls-cert-file" default:"" help:"The server's X.509 certificate (PEM)."`
	TLSKeyFile     string `name:"tls-key-file" default:"" help:"The server's private key (PEM)."`
	TLSCACertFile  string `name:"tls-ca-cert-file" default:"" help:"CA certificates (PEM) that sign client certificates."`
	TLSCACertDir   string `name:"tls-ca-cert-dir" default:"" help:"Directory of CA certificate files (PEM) that sign client certificates."`
	TLSAuthClients string `name:"tls-auth-clients" default:"yes" kind:"enum" enum:"yes|no|optional" help:"yes: clients must present a certificate signed by the CA; optional: checked when presented; no: not asked for."`
	TLSProtocols   string `name:"tls-protocols" default:"" help:"TLS versions to accept, among TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; empty: TLSv1.2 and TLSv1.3."`

	// Limits
	ProtoMaxBulkLen        int64  `name:"proto-max-bulk-len" default:"512mb" kind:"memory" min:"1048576" max:"9223372036854775807" live:"yes" help:"Largest bulk string a client may send."`
	ClientQueryBufferLimit int64  `name:"client-query-buffer-limit" default:"1gb" kind:"memory" min:"1048576" max:"9223372036854775807" live:"yes" help:"Largest unparsed input one client may accumulate before it is closed."`
	MaxArgs                int    `name:"max-command-args" default:"16777216" min:"1024" max:"2147483647" live:"yes" help:"Most arguments one command may carry (Strata's own guard; Redis only bounds the query buffer)."`
	ClientOutputBufferLim  string `name:"client-output-buffer-limit" default:"normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60" kind:"obuf" live:"yes" help:"Per-class output limits: class hard soft soft-seconds; a client past hard, or above soft for soft-seconds, is closed. CONFIG SET changes only the classes it names."`

	// Data and durability
	Dir            string `name:"dir" default:"./data" help:"Data directory (Pebble's files, dumps)."`
	Databases      int    `name:"databases" default:"16" min:"1" max:"65536" help:"Number of logical databases (SELECT 0..n-1)."`
	AppendFsync    string `name:"appendfsync" default:"everysec" kind:"enum" enum:"everysec|always|no" live:"yes" help:"always: reply after fsync (group commit; where an fsync takes more than 200 µs, the log waits a quarter of it, at most 1 ms, for the clients it just answered, so their next commands share the next fsync); everysec: a crash of the process loses nothing, a power loss at most ~1s; no: the OS decides."`
	AppendOnly     bool   `name:"appendonly" default:"no" live:"yes" help:"Accepted for compatibility, shown in INFO (aof_enabled): durability is always Pebble's write-ahead log, and no AOF is kept current; BGREWRITEAOF writes a copy of one instant in dir/appenddirname."`
	AppendFilename string `name:"appendfilename" default:"appendonly.aof" help:"Base name of AOF files BGREWRITEAOF writes."`
	AppendDirname  string `name:"appenddirname" default:"appendonlydir" help:"Directory (under dir) of the multi-part AOF."`
	Save           string `name:"save" default:"" kind:"save" live:"yes" help:"RDB snapshot points (dir/dbfilename): pairs of seconds and changes, e.g. \"3600 1 300 100 60 10000\" as Redis's default; empty (Strata's default) disables them, as the data directory already keeps every write."`
	DBFilename     string `name:"dbfilename" default:"dump.rdb" live:"yes" help:"File name of RDB snapshots in dir."`
	RDBCompression bool   `name:"rdbcompression" default:"yes" live:"yes" help:"LZF-compress strings in RDB snapshots."`
	RDBChecksum    bool   `name:"rdbchecksum" default:"yes" live:"yes" help:"Write a CRC64 at the end of RDB snapshots."`
	RDBLoadOnEmpty bool   `name:"rdb-load-on-empty" default:"yes" help:"On the first start of an empty data directory, load dir/dbfilename when it exists (a Redis dump), answering -LOADING meanwhile."`

	// AOF rewrites (BGREWRITEAOF)
	AOFUseRDBPreamble   bool `name:"aof-use-rdb-preamble" default:"yes" live:"yes" help:"BGREWRITEAOF writes the data as an RDB base file (.base.rdb); no: as commands (.base.aof)."`
	AOFTimestampEnabled bool `name:"aof-timestamp-enabled" default:"no" live:"yes" help:"BGREWRITEAOF starts a command base file (.base.aof) with a #TS: annotation."`

	// Memory and the hot tier
	MaxMemory       int64  `name:"maxmemory" default:"0" kind:"memory" min:"0" max:"9223372036854775807" live:"yes" help:"Budget of the hot tier of decoded values; 0 means a default share of RAM."`
	MaxMemoryPolicy string `name:"maxmemory-policy" default:"noeviction" kind:"enum" enum:"volatile-lru|volatile-lfu|volatile-random|volatile-ttl|allkeys-lru|allkeys-lfu|allkeys-random|noeviction" live:"yes" help:"What leaves the hot tier when it is full (Pebble keeps the data)."`

	DisableTHP bool `name:"disable-thp" default:"yes" help:"Turn transparent huge pages off for the process at start (prctl PR_SET_THP_DISABLE), as Redis does: with THP set to madvise, Go's runtime asks huge pages for its own metadata, and LATENCY DOCTOR then warns of them as Redis's would."`

	// Scripting
	BusyReplyThreshold int64 `name:"busy-reply-threshold" alias:"lua-time-limit" default:"5000" min:"0" max:"9223372036854775807" live:"yes" help:"Milliseconds a script (EVAL, FCALL) may run before other clients get -BUSY and SCRIPT KILL / FUNCTION KILL may stop it; 0 never."`

	// Background work
	Hz int `name:"hz" default:"10" min:"0" max:"2147483647" live:"yes" help:"How many times a second background tasks (active expiry) run; values outside 1..500 are clamped, as in Redis."`

	// Events and diagnostics
	NotifyKeyspaceEvents string `name:"notify-keyspace-events" default:"" kind:"events" live:"yes" help:"Keyspace notification classes (K E g $ l s h z x e t m d n A)."`
	TrackingTableMaxKeys int64  `name:"tracking-table-max-keys" default:"1000000" min:"0" max:"9223372036854775807" live:"yes" help:"Most keys the client-side caching table remembers; past it, keys are dropped and their readers told to forget them. 0: no limit."`
	SlowlogLogSlowerThan int64  `name:"slowlog-log-slower-than" default:"10000" min:"-1" max:"9223372036854775807" live:"yes" help:"Log commands slower than this many microseconds; -1 disables."`
	SlowlogMaxLen        int64  `name:"slowlog-max-len" default:"128" min:"0" max:"9223372036854775807" live:"yes" help:"Entries kept in the slow log."`
	LatencyMonitor       int64  `name:"latency-monitor-threshold" default:"0" min:"0" max:"9223372036854775807" live:"yes" help:"Record latency events above this many milliseconds; 0 disables."`
	LatencyTracking      bool   `name:"latency-tracking" default:"yes" live:"yes" help:"Keep a latency histogram per command (INFO latencystats, LATENCY HISTOGRAM)."`
	LatencyPercentiles   string `name:"latency-tracking-info-percentiles" default:"50 99 99.9" kind:"percentiles" live:"yes" help:"Percentiles INFO latencystats reports, each between 0 and 100."`
	EnableDebugCommand   string `name:"enable-debug-command" default:"no" kind:"enum" enum:"no|yes|local" help:"Allow DEBUG: no, yes, or local (loopback and unix socket clients only)."`
	LogLevel             string `name:"loglevel" default:"notice" kind:"enum" enum:"debug|verbose|notice|warning|nothing" live:"yes" help:"Log verbosity."`
	LogFile              string `name:"logfile" default:"" help:"Empty logs to stderr (the journal under systemd)."`
	PIDFile              string `name:"pidfile" default:"" help:"Write the process id here when set."`

	// Engine (Strata's own)
	BlockCacheSize            int64  `name:"block-cache-size" default:"64mb" kind:"memory" min:"1048576" max:"9223372036854775807" help:"Pebble's block cache."`
	MemtableSize              int64  `name:"memtable-size" default:"32mb" kind:"memory" min:"1048576" max:"4294967296" help:"Pebble's memtable size. Measured with 2 M SETs (-P 16, 50 clients, 1 M keys): 4, 8, 16, 32 and 64 MB gave 7.7 to\n11.8 µs of CPU per SET, two runs each, with no size better beyond the noise; 32 MB keeps flushes few."`
	BlockCompression          string `name:"block-compression" default:"snappy" kind:"enum" enum:"snappy|zstd|minlz|none" help:"Pebble's compression of sstable blocks. Measured (go run ./benchmarks compression -mb 8, CPU per operation,\ndisk = sstable bytes per value byte after compaction): snappy stores 1 KB JSON in 0.53 of its bytes and\n1 KB HTML in 0.38, for 10.5 and 9.1 µs of CPU per SET against 8.7 and 8.8 µs with none (which stores 1.08)."`
	CompactionConcurrency     int    `name:"compaction-concurrency" default:"1" min:"1" max:"64" help:"Most compactions Pebble runs at once. Measured with 2 M SETs (-P 16) on 2 cores: 157 K/s with 1 and 165 K/s with\n2 (medians of 3, within the noise); 1 leaves the other core to the server."`
	BloomBitsPerKey           int    `name:"bloom-bits-per-key" default:"10" min:"0" max:"64" help:"Bits per key of the bloom filters Pebble keeps with every sstable, so that a point read skips\nthe tables that cannot hold its key; 0 writes no filters. Measured (go run ./benchmarks compare -only 10x, medians of 3,\n1.6 M keys of 400 bytes against a 64 MB hot tier): uniform GETs 48.5 K/s with 10 bits against 42.8 K/s with none,\nZipfian GETs 67.0 K/s against 53.0 K/s."`
	TombstoneCompactionMS     int    `name:"tombstone-compaction-ms" default:"1000" min:"0" max:"86400000" help:"Least milliseconds between two compactions of a key range whose walks stepped over too many\ndeleted elements (SPOP, SREM or HDEL from the middle of a big collection); 0 never compacts for that."`
	ValueCompression          string `name:"value-compression" default:"none" kind:"enum" enum:"none|s2|zstd" live:"yes" help:"Codec of string values of at least value-compression-threshold bytes, named in each stored value\n(values written under any setting stay readable; the hot tier holds them plain). Measured beside snappy\nblocks (disk per value byte, SET and GET-from-disk CPU per operation):\n  JSON 16 KB   none 0.45, 37 µs, 11 µs   s2 0.48, 71 µs, 20 µs   zstd 0.32, 163 µs, 30 µs\n  HTML 16 KB   none 0.36, 31 µs, 10 µs   s2 0.39, 52 µs, 15 µs   zstd 0.26, 134 µs, 41 µs\n  JSON 4 KB    none 0.54, 24 µs, 6 µs    s2 0.56, 20 µs, 6 µs    zstd 0.38, 54 µs, 14 µs\n  random bytes: about 1.04 with every codec, at about the same CPU.\nOver snappy blocks s2 saves nothing; zstd saves a further 30% of disk for 2 to 4 times the CPU of a SET,\nand of a GET that misses the hot tier. Hence none by default, and zstd where disk costs more than CPU."`
	ValueCompressionThreshold int64  `name:"value-compression-threshold" default:"4kb" kind:"memory" min:"1" max:"536870912" live:"yes" help:"Smallest string value value-compression compresses. zstd pays from about 4 KB (JSON 4 KB: 0.38\nof the bytes against 0.54 with snappy blocks alone); at 1 KB it saves nothing (0.53 against 0.53)."`
}
