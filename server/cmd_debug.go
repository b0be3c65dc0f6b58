package server

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// DEBUG, as Redis 7.0 answers the subcommands client libraries and test suites call. DEBUG
// is refused unless enable-debug-command allows it (no by default; local: loopback and unix
// socket clients only), as in Redis.
//
// DEBUG holds the global latch while it runs: DEBUG DIGEST sees one consistent data set, and
// DEBUG SLEEP stops every command that touches data, as Redis stops altogether while it
// sleeps (commands that touch no data, PING, INFO, CLIENT ..., still answer).
//
// What differs from Redis, and why:
//
//   - DIGEST and DIGEST-VALUE compute Redis 7.0's digest exactly (see valueDigest), over the
//     live keys: a key whose time has come and that active expiry has not removed yet is
//     left out (Redis counts it until it is removed). Sorted sets are refused until their
//     engine can be walked here. A stream's digest, as Redis's, covers its entries only.
//   - OBJECT reports the encoding Redis would use for the value (OBJECT ENCODING's), the
//     value's serialized length as Strata's RDB writer encodes it (Redis's
//     rdbSavedObjectLen; it differs by a few bytes where the writer compresses or packs
//     list nodes differently), its idle time from the hot tier, and, for lists, the
//     quicklist figures Redis would have after filling the list with RPUSH. The address is
//     made up from the key.
//   - RELOAD and LOADAOF answer OK without doing anything: every write is already on disk,
//     and reloading it would change nothing a client can see.
//   - SEGFAULT, PANIC, ASSERT, OOM, RESTART and CRASH-AND-RECOVER are not done: they exist
//     to crash Redis on purpose.
//   - MALLCTL and MALLCTL-STR answer as jemalloc answers for a setting it does not know:
//     Strata's allocator is Go's.
//   - JMAP and STRINGMATCH-LEN are not Redis 7.0 subcommands and are refused as 7.0 refuses
//     them; STRINGMATCH-TEST is.

func registerDebugCommands(t *Table) {
	t.add(&Command{Name: "debug", Arity: -2, Flags: "admin noscript loading stale protected", Lock: LockGlobal,
		Handler: cmdDebug,
		Group:   "server", Since: "1.0.0", Summary: "A container for debugging commands",
		Complexity: "Depends on subcommand."})
}

// debugAllowedFor says whether enable-debug-command lets c run DEBUG.
func (s *Server) debugAllowedFor(c *Client) bool {
	switch s.debugMode {
	case "yes":
		return true
	case "local":
		return c.loopback
	}
	return false
}

var debugHelp = []string{
	"AOF-FLUSH-SLEEP <microsec>",
	"    Server will sleep before flushing the AOF, this is used for testing.",
	"ASSERT",
	"    Crash by assertion failed.",
	"CHANGE-REPL-ID",
	"    Change the replication IDs of the instance.",
	"    Dangerous: should be used only for testing the replication subsystem.",
	"CONFIG-REWRITE-FORCE-ALL",
	"    Like CONFIG REWRITE but writes all configuration options, including",
	"    keywords not listed in original configuration file or default values.",
	"CRASH-AND-RECOVER [<milliseconds>]",
	"    Hard crash and restart after a <milliseconds> delay (default 0).",
	"DIGEST",
	"    Output a hex signature representing the current DB content.",
	"DIGEST-VALUE <key> [<key> ...]",
	"    Output a hex signature of the values of all the specified keys.",
	"ERROR <string>",
	"    Return a Redis protocol error with <string> as message. Useful for clients",
	"    unit tests to simulate Redis errors.",
	"LEAK <string>",
	"    Create a memory leak of the input string.",
	"LOG <message>",
	"    Write <message> to the server log.",
	"HTSTATS <dbid>",
	"    Return hash table statistics of the specified Redis database.",
	"HTSTATS-KEY <key>",
	"    Like HTSTATS but for the hash table stored at <key>'s value.",
	"LOADAOF",
	"    Flush the AOF buffers on disk and reload the AOF in memory.",
	"REPLICATE <string>",
	"    Replicates the provided string to replicas, allowing data divergence.",
	"MALLCTL <key> [<val>]",
	"    Get or set a malloc tuning integer.",
	"MALLCTL-STR <key> [<val>]",
	"    Get or set a malloc tuning string.",
	"OBJECT <key>",
	"    Show low level info about `key` and associated value.",
	"DROP-CLUSTER-PACKET-FILTER <packet-type>",
	"    Drop all packets that match the filtered type. Set to -1 allow all packets.",
	"OOM",
	"    Crash the server simulating an out-of-memory error.",
	"PANIC",
	"    Crash the server simulating a panic.",
	"POPULATE <count> [<prefix>] [<size>]",
	"    Create <count> string keys named key:<num>. If <prefix> is specified then",
	"    it is used instead of the 'key' prefix. These are not propagated to",
	"    replicas. Cluster slots are not respected so keys not belonging to the",
	"    current node can be created in cluster mode.",
	"PROTOCOL <type>",
	"    Reply with a test value of the specified type. <type> can be: string,",
	"    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
	"    true, false.",
	"RELOAD [option ...]",
	"    Save the RDB on disk and reload it back to memory. Valid <option> values:",
	"    * MERGE: conflicting keys will be loaded from RDB.",
	"    * NOFLUSH: the existing database will not be removed before load, but",
	"      conflicting keys will generate an exception and kill the server.",
	"    * NOSAVE: the database will be loaded from an existing RDB file.",
	"    Examples:",
	"    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
	"      the database.",
	"    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
	"      existing RDB file.",
	"    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
	"      file to the database.",
	"RESTART [<milliseconds>]",
	"    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
	"SDSLEN <key>",
	"    Show low level SDS string info representing `key` and value.",
	"SEGFAULT",
	"    Crash the server with sigsegv.",
	"SET-ACTIVE-EXPIRE <0|1>",
	"    Setting it to 0 disables expiring keys in background when they are not",
	"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
	"    default.",
	"QUICKLIST-PACKED-THRESHOLD <size>",
	"    Sets the threshold for elements to be inserted as plain vs packed nodes",
	"    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
	"SET-SKIP-CHECKSUM-VALIDATION <0|1>",
	"    Enables or disables checksum checks for RDB files and RESTORE's payload.",
	"SLEEP <seconds>",
	"    Stop the server for <seconds>. Decimals allowed.",
	"STRINGMATCH-TEST",
	"    Run a fuzz tester against the stringmatchlen() function.",
	"STRUCTSIZE",
	"    Return the size of different Redis core C structures.",
	"LISTPACK <key>",
	"    Show low level info about the listpack encoding of <key>.",
	"QUICKLIST <key> [<0|1>]",
	"    Show low level info about the quicklist encoding of <key>.",
	"    The optional argument (0 by default) sets the level of detail",
	"CLIENT-EVICTION",
	"    Show low level client eviction pools info (maxmemory-clients).",
	"PAUSE-CRON <0|1>",
	"    Stop periodic cron job processing.",
	"REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
	"    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
	"    In case NEVER is provided the last observed peak will never be reset",
	"    In case RESET is provided the peak reset time will be restored to the default value",
	"REPLYBUFFER RESIZING <0|1>",
	"    Enable or disable the reply buffer resize cron job",
	"CLUSTERLINK KILL <to|from|all> <node-id>",
	"    Kills the link based on the direction to/from (both) with the provided node.",
}

// debugSub is one DEBUG subcommand: its handler and the argument counts it accepts (Redis
// checks them per subcommand and answers a mismatch as an unknown subcommand).
type debugSub struct {
	minArgs, maxArgs int // counts of all arguments, DEBUG included; maxArgs < 0: any
	run              func(x *Ctx)
}

// debugSubs is DEBUG's dispatch table, by lowercase subcommand.
var debugSubs = map[string]debugSub{
	"help":                         {2, 2, func(x *Ctx) { x.help("DEBUG", debugHelp) }},
	"log":                          {3, 3, debugLog},
	"leak":                         {3, 3, func(x *Ctx) { x.OK() }},
	"reload":                       {2, -1, debugReload},
	"loadaof":                      {2, -1, func(x *Ctx) { x.OK() }},
	"drop-cluster-packet-filter":   {3, 3, debugOKAfterLong},
	"object":                       {3, 3, debugObject},
	"sdslen":                       {3, 3, debugSDSLen},
	"listpack":                     {3, 3, func(x *Ctx) { debugEncodingDump(x, "listpack") }},
	"quicklist":                    {3, 4, func(x *Ctx) { debugEncodingDump(x, "quicklist") }},
	"populate":                     {3, 5, debugPopulate},
	"digest":                       {2, 2, debugDigest},
	"digest-value":                 {2, -1, debugDigestValue},
	"protocol":                     {3, 3, debugProtocol},
	"sleep":                        {3, 3, debugSleep},
	"set-active-expire":            {3, 3, debugSetActiveExpire},
	"quicklist-packed-threshold":   {3, 3, debugPackedThreshold},
	"set-skip-checksum-validation": {3, 3, func(x *Ctx) { x.OK() }},
	"aof-flush-sleep":              {3, 3, func(x *Ctx) { x.OK() }},
	"replicate":                    {3, -1, func(x *Ctx) { x.OK() }},
	"error":                        {3, 3, func(x *Ctx) { x.Error(engine.ErrDebugError(x.Arg(2))) }},
	"structsize":                   {2, 2, debugStructSize},
	"change-repl-id":               {2, 2, debugChangeReplID},
	"stringmatch-test":             {2, 2, debugStringmatchTest},
	"set-disable-deny-scripts":     {3, 3, func(x *Ctx) { x.OK() }},
	"client-eviction":              {2, 2, func(x *Ctx) { x.Error(engine.ErrClientEvictionOff) }},
	"pause-cron":                   {3, 3, func(x *Ctx) { x.OK() }},
	"replybuffer":                  {4, 4, debugReplyBuffer},
	"clusterlink":                  {5, 5, debugClusterLink},
	// Strata's allocator is Go's: every jemalloc setting is one it does not know.
	"mallctl":     {3, -1, func(x *Ctx) { x.Error(engine.ErrNoSuchFile) }},
	"mallctl-str": {3, -1, func(x *Ctx) { x.Error(engine.ErrNoSuchFile) }},
}

func cmdDebug(x *Ctx) {
	sub, ok := debugSubs[strings.ToLower(x.Arg(1))]
	if !ok || len(x.Args) < sub.minArgs || (sub.maxArgs >= 0 && len(x.Args) > sub.maxArgs) {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "debug"))
		return
	}
	sub.run(x)
}

func debugLog(x *Ctx) {
	x.s.log.Warn("DEBUG LOG: " + x.Arg(2))
	x.OK()
}

func debugReload(x *Ctx) {
	for _, opt := range x.Args[2:] {
		switch strings.ToLower(string(opt)) {
		case "merge", "noflush", "nosave":
		default:
			x.Error(engine.ErrDebugReloadOption)
			return
		}
	}
	x.OK()
}

// debugOKAfterLong answers OK once its argument parses as an integer.
func debugOKAfterLong(x *Ctx) {
	if _, ok := engine.ParseInt(x.Args[2]); !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	x.OK()
}

func debugSleep(x *Ctx) {
	// Redis reads the seconds with strtod and no check: what does not parse sleeps 0.
	secs, _ := cNumberPrefix(x.Args[2])
	if us := int64(secs * 1e6); us > 0 {
		time.Sleep(time.Duration(us) * time.Microsecond)
	}
	x.OK()
}

func debugSetActiveExpire(x *Ctx) {
	n, _ := cNumberPrefix(x.Args[2]) // atoi: anything else is 0
	x.s.eng.SetActiveExpire(int64(n) != 0)
	x.OK()
}

// debugPackedThreshold accepts quicklist-packed-threshold as Redis does (Strata keeps no
// quicklists, so the value changes nothing).
func debugPackedThreshold(x *Ctx) {
	sz, ok := conf.ParseMemory(x.Arg(2))
	if !ok || sz > 1<<32-1<<20 {
		x.Error(engine.ErrDebugPackedThreshold)
		return
	}
	x.OK()
}

func debugReplyBuffer(x *Ctx) {
	switch strings.ToLower(x.Arg(2)) {
	case "peak-reset-time":
		switch strings.ToLower(x.Arg(3)) {
		case "never", "reset":
		default:
			if _, ok := engine.ParseInt(x.Args[3]); !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
		}
	case "resizing":
	default:
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "debug"))
		return
	}
	x.OK()
}

func debugClusterLink(x *Ctx) {
	if !strings.EqualFold(x.Arg(2), "kill") {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "debug"))
		return
	}
	x.Error(engine.ErrClusterDebugOnly)
}

// debugStructSize answers with Redis's structure sizes on a 64-bit build, for tools that
// read them; Strata's own memory figures do not come from these structures.
func debugStructSize(x *Ctx) {
	x.BulkString("bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 ")
}

func debugChangeReplID(x *Ctx) {
	var id [20]byte
	for i := range id {
		id[i] = byte(rand.Uint32())
	}
	s := hex.EncodeToString(id[:])
	x.s.replID.Store(&s)
	x.s.log.Info("Changing replication IDs after receiving DEBUG change-repl-id")
	x.OK()
}

// debugStringmatchTest runs random patterns and strings through the glob matcher, as
// Redis's stringmatchlen_fuzz_test does, for what it checks: that nothing crashes.
func debugStringmatchTest(x *Ctx) {
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	var pat, str [64]byte
	for i := 0; i < 100000; i++ {
		p, s := pat[:r.IntN(len(pat))], str[:r.IntN(len(str))]
		for j := range p {
			p[j] = "*?[]^-\\ab"[r.IntN(9)]
		}
		for j := range s {
			s[j] = byte(r.IntN(256))
		}
		engine.GlobMatch(p, s, r.IntN(2) == 0)
	}
	x.Simple("Apparently Redis did not crash: test passed")
}

// cNumberPrefix reads the longest decimal number at the start of b, as C's strtod reads it
// (and atoi, for the integer part); 0 and false when there is none.
func cNumberPrefix(b []byte) (float64, bool) {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
		digits++
	}
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		e := end + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		if e < len(s) && s[e] >= '0' && s[e] <= '9' {
			for e < len(s) && s[e] >= '0' && s[e] <= '9' {
				e++
			}
			end = e
		}
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// ---- DEBUG PROTOCOL ----

func debugProtocol(x *Ctx) {
	switch strings.ToLower(x.Arg(2)) {
	case "string":
		x.BulkString("Hello World")
	case "integer":
		x.Int(12345)
	case "double":
		x.Double(3.141)
	case "bignum":
		const big = "1234567999999999999999999999999999999"
		if x.resp == 3 {
			x.out = append(append(append(x.out, '('), big...), '\r', '\n')
		} else {
			x.BulkString(big)
		}
	case "null":
		x.Null()
	case "array":
		x.ArrayLen(3)
		x.Int(0)
		x.Int(1)
		x.Int(2)
	case "set":
		x.SetLen(3)
		x.Int(0)
		x.Int(1)
		x.Int(2)
	case "map":
		x.MapLen(3)
		for j := int64(0); j < 3; j++ {
			x.Int(j)
			x.Bool(j == 1)
		}
	case "attrib":
		if x.resp == 3 {
			x.out = appendHeader(x.out, '|', 1)
			x.BulkString("key-popularity")
			x.ArrayLen(2)
			x.BulkString("key:123")
			x.Int(90)
		}
		x.BulkString("Some real reply following the attribute")
	case "push":
		if x.resp != 3 {
			x.Error(engine.ErrDebugRESP2)
			return
		}
		x.PushLen(2)
		x.BulkString("server-cpu-usage")
		x.Int(42)
		x.BulkString("Some real reply following the push reply")
	case "true":
		x.Bool(true)
	case "false":
		x.Bool(false)
	case "verbatim":
		x.Verbatim("txt", "This is a verbatim\nstring")
	default:
		x.Error(engine.ErrDebugProtocolType)
	}
}

// ---- DEBUG POPULATE ----

func debugPopulate(x *Ctx) {
	// Redis's getPositiveLongFromObjectOrReply says "must be positive" for both errors.
	count, ok := engine.ParseInt(x.Args[2])
	if !ok || count < 0 {
		x.Error(engine.ErrPositive)
		return
	}
	prefix := "key"
	if len(x.Args) >= 4 {
		prefix = x.Arg(3)
	}
	size := int64(0)
	if len(x.Args) == 5 {
		if size, ok = engine.ParseInt(x.Args[4]); !ok || size < 0 {
			x.Error(engine.ErrPositive)
			return
		}
	}
	var key, val []byte
	for j := int64(0); j < count; j++ {
		key = strconv.AppendInt(append(append(key[:0], prefix...), ':'), j, 10)
		val = strconv.AppendInt(append(val[:0], "value:"...), j, 10)
		if size > 0 {
			padded := make([]byte, size)
			copy(padded, val)
			val = padded
		}
		if _, err := x.Txn.Set(key, val, engine.SetArgs{NX: true}); err != nil {
			x.Error(err)
			return
		}
		if j%1024 == 1023 {
			x.Txn.ReleaseReads()
		}
	}
	x.OK()
}

// ---- DEBUG OBJECT, SDSLEN, LISTPACK, QUICKLIST ----

func debugObject(x *Ctx) {
	t, key := x.Txn, x.Args[2]
	t.NoTouch()
	info, found, err := t.Object(key)
	if err != nil {
		x.Error(err)
		return
	}
	if !found {
		x.Error(engine.ErrNoSuchKey)
		return
	}
	idle, freq, _ := t.Access(key)
	refcount := 1
	if info.Encoding == "int" && info.Int >= 0 && info.Int < 10000 && !x.s.evictsByAccess() {
		refcount = 2147483647 // Redis shares the objects of small integers
	}
	lruClock := time.Now().Unix() & (1<<24 - 1)
	lru := (lruClock - int64(idle/time.Second)) & (1<<24 - 1)
	if x.s.evictsByFrequency() {
		lru = (time.Now().Unix()/60&0xffff)<<8 | int64(freq)
	}
	payload, err := dumpPayload(t, key, info.Type)
	if err != nil && !errors.Is(err, errNotWalkable) {
		x.Error(err)
		return
	}
	serialized := 0
	if len(payload) > 0 {
		serialized = len(payload) - 1 - 10 // the value alone: no type byte, version or CRC
	}
	line := "Value at:" + objectAddress(t.DB(), key) + " refcount:" + strconv.Itoa(refcount) +
		" encoding:" + info.Encoding + " serializedlength:" + strconv.Itoa(serialized) +
		" lru:" + strconv.FormatInt(lru, 10) + " lru_seconds_idle:" + strconv.FormatInt(int64(idle/time.Second), 10)
	if info.Encoding == "quicklist" {
		fields, err := quicklistFields(t, key)
		if err != nil {
			x.Error(err)
			return
		}
		line += fields
	}
	x.Simple(line)
}

func (s *Server) evictsByFrequency() bool {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return strings.HasSuffix(s.cfg.MaxMemoryPolicy, "-lfu")
}

// evictsByAccess says whether the eviction policy reads keys' access records, which makes
// Redis stop sharing integer objects (MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
func (s *Server) evictsByAccess() bool {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	p := s.cfg.MaxMemoryPolicy
	return strings.HasSuffix(p, "-lru") || strings.HasSuffix(p, "-lfu")
}

// objectAddress makes up a stable "%p"-looking address for a key's value.
func objectAddress(db int, key []byte) string {
	h := fnv.New64a()
	h.Write([]byte{byte(db >> 8), byte(db)})
	h.Write(key)
	return "0x7f" + strconv.FormatUint(h.Sum64()&(1<<40-1)|1<<39, 16)[:10]
}

// quicklistFields computes the node figures DEBUG OBJECT adds for a list, which Redis 7.0
// keeps as a quicklist of listpacks: the nodes, the elements per node, the fill
// (list-max-listpack-size, -2), compression (none) and the listpacks' total size. The nodes
// are filled as RPUSH fills them: a node takes an element while its bytes, plus the
// element's length, plus 8 stay within 8 KiB; an element of 1 GiB or more takes a plain
// node of its own.
func quicklistFields(t *engine.Txn, key []byte) (string, error) {
	const limit, overhead, plain = 8192, 8, 1 << 30
	var nodes, elements, size, cur int64
	open := false
	err := t.ListEach(key, func(v []byte) bool {
		elements++
		n := int64(len(v))
		if n >= plain {
			nodes++
			size += n
			open = false
			return true
		}
		e := int64(rdb.ListpackEntrySize(v))
		if open && cur+n+overhead <= limit {
			cur += e
			size += e
			return true
		}
		nodes++
		cur = 7 + e // a listpack's header and end byte, and the entry
		size += cur
		open = true
		return true
	})
	if err != nil || nodes == 0 {
		return "", err
	}
	return " ql_nodes:" + strconv.FormatInt(nodes, 10) +
		" ql_avg_node:" + strconv.FormatFloat(float64(elements)/float64(nodes), 'f', 2, 64) +
		" ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:" + strconv.FormatInt(size, 10), nil
}

func debugSDSLen(x *Ctx) {
	t, key := x.Txn, x.Args[2]
	t.NoTouch()
	info, found, err := t.Object(key)
	switch {
	case err != nil:
		x.Error(err)
		return
	case !found:
		x.Error(engine.ErrNoSuchKey)
		return
	case info.Type != encoding.TypeString || info.Encoding == "int":
		x.Error(engine.ErrNotSDS)
		return
	}
	v, _, err := t.Get(key)
	if err != nil {
		x.Error(err)
		return
	}
	n := func(v int) string { return strconv.Itoa(v) }
	x.Simple("key_sds_len:" + n(len(key)) + ", key_sds_avail:0, key_zmalloc: " + n(sdsAlloc(len(key))) +
		", val_sds_len:" + n(len(v)) + ", val_sds_avail:0, val_zmalloc: " + n(sdsAlloc(len(v))))
}

// sdsAlloc is the bytes a Redis string of n bytes takes: its header, the bytes and the
// terminator.
func sdsAlloc(n int) int {
	switch {
	case n < 1<<5:
		return 1 + n + 1
	case n < 1<<8:
		return 3 + n + 1
	case n < 1<<16:
		return 5 + n + 1
	case n < 1<<32:
		return 9 + n + 1
	}
	return 17 + n + 1
}

// debugEncodingDump is DEBUG LISTPACK and DEBUG QUICKLIST: Redis prints the structure on
// its standard output; Strata has none to print, and answers as Redis does.
func debugEncodingDump(x *Ctx, want string) {
	x.Txn.NoTouch()
	info, found, err := x.Txn.Object(x.Args[2])
	switch {
	case err != nil:
		x.Error(err)
	case !found:
		x.Error(engine.ErrNoSuchKey)
	case info.Encoding != want && want == "listpack":
		x.Error(engine.ErrNotListpack)
	case info.Encoding != want:
		x.Error(engine.ErrNotQuicklist)
	case want == "listpack":
		x.Simple("Listpack structure printed on stdout")
	default:
		x.Simple("Quicklist structure printed on stdout")
	}
}

// ---- walking a value ----

// errNotWalkable is returned for the types walkValue does not read.
var errNotWalkable = errors.New("ERR DEBUG cannot read sorted sets yet")

// walkValue calls fn with the elements of key's value (of type typ) as Redis sees them: a
// string's value; a list's items, head to tail; a set's members; a hash's fields and values
// (a, b). Values are valid only during the call.
//
// Streams and sorted sets are digested by valueDigest itself (an entry is an ID and fields; a
// member comes with its score).
func walkValue(t *engine.Txn, key []byte, typ encoding.Type, fn func(a, b []byte)) error {
	start := func(int) {}
	switch typ {
	case encoding.TypeString:
		v, _, err := t.Get(key)
		if err == nil {
			fn(v, nil)
		}
		return err
	case encoding.TypeList:
		return t.ListEach(key, func(v []byte) bool { fn(v, nil); return true })
	case encoding.TypeSet:
		return t.SMembers(key, start, func(m []byte) { fn(m, nil) })
	case encoding.TypeHash:
		return t.HGetAll(key, start, fn)
	}
	return errNotWalkable
}

// dumpPayload is key's value as a DUMP payload, written by Strata's RDB writer.
func dumpPayload(t *engine.Txn, key []byte, typ encoding.Type) ([]byte, error) {
	var rtyp rdb.ValueType
	var kind rdb.Kind
	switch typ {
	case encoding.TypeString:
		rtyp, kind = rdb.TypeString, rdb.KindString
	case encoding.TypeList:
		rtyp, kind = rdb.TypeList, rdb.KindListItem
	case encoding.TypeSet:
		rtyp, kind = rdb.TypeSet, rdb.KindSetMember
	case encoding.TypeHash:
		rtyp, kind = rdb.TypeHash, rdb.KindHashField
	case encoding.TypeZSet:
		rtyp, kind = rdb.TypeZSet, rdb.KindZSetMember
	default:
		return nil, errNotWalkable
	}
	enc, err := rdb.NewDumpEncoder(&rdb.WriterOptions{})
	if err != nil {
		return nil, err
	}
	ev := rdb.Event{Kind: rdb.KindKey, Key: key, Header: rdb.KeyHeader{Type: rtyp, Len: -1, Idle: -1, Freq: -1}}
	if err := enc.Write(&ev); err != nil {
		return nil, err
	}
	var werr error
	if typ == encoding.TypeZSet {
		_, err = t.ZSetEach(key, func(member []byte, score float64) error {
			ev = rdb.Event{Kind: kind, Value: member, Score: score}
			return enc.Write(&ev)
		})
		return finishDumpPayload(enc, key, err)
	}
	err = walkValue(t, key, typ, func(a, b []byte) {
		if werr != nil {
			return
		}
		ev = rdb.Event{Kind: kind, Value: a}
		if kind == rdb.KindHashField {
			ev.Field, ev.Value = a, b
		}
		werr = enc.Write(&ev)
	})
	if err == nil {
		err = werr
	}
	return finishDumpPayload(enc, key, err)
}

// finishDumpPayload ends the key in enc and returns the payload, or the walk's error.
func finishDumpPayload(enc *rdb.DumpEncoder, key []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	ev := rdb.Event{Kind: rdb.KindEndKey, Key: key}
	if err := enc.Write(&ev); err != nil {
		return nil, err
	}
	return enc.AppendPayload(nil)
}

// ---- DEBUG DIGEST ----

// A digest is Redis 7.0's (debug.c): SHA1 based, 20 bytes.
//
//	xor(d, data)   d ^= SHA1(data)                 (order-free: sets, hashes, keys)
//	mix(d, data)   d = SHA1(d ^ SHA1(data))         (ordered: lists, a key's parts)
//
// A key's digest starts at zero: mix(key), then mix(type as a 4-byte big-endian number,
// Redis's 0 string, 1 list, 2 set, 3 zset, 4 hash, 6 stream), then the value: a string is
// mix(value); a list mix(item) for each item in order; a set xor(member) for each member;
// a hash, for each field, xor of a fresh digest that is mix(field), mix(value); a sorted
// set, for each member, xor of mix(member), mix(score as "%.17g"); a stream mix("ms.seq")
// then mix(field), mix(value) for each entry. A key with a TTL then gets xor("!!expire!!").
// The data set's digest starts at zero and, for each database with keys, is mix(database
// number as 4 bytes), then xor(key's digest) for each key. DEBUG DIGEST-VALUE gives a
// value's digest without mix(key).
type digest [20]byte

func (d *digest) xor(b []byte) {
	h := sha1.Sum(b)
	for i := range d {
		d[i] ^= h[i]
	}
}

func (d *digest) mix(b []byte) {
	d.xor(b)
	*d = sha1.Sum(d[:])
}

func (d *digest) mixUint32(v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	d.mix(b[:])
}

func (d digest) String() string { return hex.EncodeToString(d[:]) }

// redisTypeCode is a type's number in Redis (OBJ_STRING ...), which digests mix in.
func redisTypeCode(typ encoding.Type) uint32 {
	switch typ {
	case encoding.TypeList:
		return 1
	case encoding.TypeSet:
		return 2
	case encoding.TypeZSet:
		return 3
	case encoding.TypeHash:
		return 4
	case encoding.TypeStream:
		return 6
	}
	return 0
}

// zsetElementDigest is the part a sorted-set member adds (xor) to its key's digest.
func zsetElementDigest(member []byte, score float64) digest {
	var e digest
	e.mix(member)
	e.mix(AppendDouble(nil, score))
	return e
}

// streamEntryDigest mixes one stream entry into d.
func streamEntryDigest(d *digest, ms, seq uint64, fieldsValues [][]byte) {
	d.mix([]byte(strconv.FormatUint(ms, 10) + "." + strconv.FormatUint(seq, 10)))
	for _, fv := range fieldsValues {
		d.mix(fv)
	}
}

// valueDigest mixes key's value into d, as Redis's xorObjectDigest.
func valueDigest(t *engine.Txn, key []byte, d *digest) error {
	typ, err := t.TypeOf(key)
	if err != nil || typ == encoding.TypeNone {
		return err
	}
	at, err := t.ExpireTime(key)
	if err != nil {
		return err
	}
	d.mixUint32(redisTypeCode(typ))
	if typ == encoding.TypeStream {
		_, err = t.XRange(key, engine.StreamID{}, encoding.MaxStreamID, -1, false,
			func(id engine.StreamID, fv [][]byte) error {
				streamEntryDigest(d, id.Ms, id.Seq, fv)
				return nil
			})
	} else if typ == encoding.TypeZSet {
		// Redis xors, per member, the digest of the member then of its score as "%.17g".
		_, err = t.ZSetEach(key, func(member []byte, score float64) error {
			e := zsetElementDigest(member, score)
			d.xor(e[:])
			return nil
		})
	} else {
		err = walkValue(t, key, typ, func(a, b []byte) {
			switch typ {
			case encoding.TypeSet:
				d.xor(a)
			case encoding.TypeHash:
				var e digest
				e.mix(a)
				e.mix(b)
				d.xor(e[:])
			default:
				d.mix(a)
			}
		})
	}
	if err != nil {
		return err
	}
	if at > 0 {
		d.xor([]byte("!!expire!!"))
	}
	return nil
}

func debugDigestValue(x *Ctx) {
	t := x.Txn
	t.NoTouch()
	keys := x.Args[2:]
	out := make([]string, len(keys))
	for i, key := range keys {
		var d digest
		if err := valueDigest(t, key, &d); err != nil {
			x.Error(err)
			return
		}
		out[i] = d.String()
		t.ReleaseReads()
	}
	x.ArrayLen(len(out))
	for _, s := range out {
		x.Simple(s)
	}
}

func debugDigest(x *Ctx) {
	t := x.Txn
	t.NoTouch()
	var final digest
	cur := t.DB()
	defer t.SelectDB(cur)
	for db := 0; db < x.s.eng.Databases(); db++ {
		t.SelectDB(db)
		if t.DBSize() == 0 {
			continue
		}
		first := true
		var werr error
		err := t.Keys([]byte("*"), func(key []byte) {
			if werr != nil {
				return
			}
			if first {
				final.mixUint32(uint32(db))
				first = false
			}
			var d digest
			d.mix(key)
			werr = valueDigest(t, key, &d)
			final.xor(d[:])
			t.ReleaseReads()
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			x.Error(err)
			return
		}
	}
	x.Simple(final.String())
}
