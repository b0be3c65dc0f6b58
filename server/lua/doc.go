// Package lua is Strata's Lua runtime for EVAL and FUNCTION: a sandboxed Lua 5.1 (gopher-lua)
// that looks, from a script's point of view, like the one embedded in Redis 7.0.
//
// A VM is one Lua state, used by one script at a time. The server keeps a pool of them so
// that scripts on disjoint keys run in parallel; everything a script can observe across runs
// in Redis (math.random's sequence, cjson's settings) lives in an Env that the VMs of one
// kind share, so the pool is invisible to scripts.
//
// What the sandbox holds, as in Redis 7.0:
//
//	globals   assert collectgarbage error gcinfo getmetatable ipairs load loadstring next
//	          pairs pcall rawequal rawget rawset select setmetatable tonumber tostring type
//	          unpack xpcall _G _VERSION __redis__err__handler KEYS ARGV (EVAL only)
//	libraries string math table coroutine cjson cmsgpack bit struct redis
//
// The global table and every library table are read-only: they are empty proxies whose
// metatable reads through to the real table and refuses writes ("Attempt to modify a
// readonly table"); pairs, next, ipairs, rawget and rawset see through the proxies, so the
// tables look ordinary. Reading an undefined global raises "Script attempted to access
// nonexistent global variable 'x'".
//
// Redis's own functions are written here in Go: the redis table (call, pcall, error_reply,
// status_reply, sha1hex, log, setresp, set_repl, replicate_commands, breakpoint, debug,
// acl_check_cmd), the reply conversions both ways (reply.go), math.random on Redis's
// lrand48 (rand.go), and the libraries Redis embeds: cjson, cmsgpack, bit and struct, with
// their exact output and error texts.
//
// Where gopher-lua differs from Lua 5.1 and the difference shows, this package replaces the
// base function (tostring and tonumber use Lua 5.1's number syntax, error and pcall follow
// Redis). What it cannot replace is inside gopher-lua's VM: the text of runtime errors
// ("attempt to index a non-table object(nil) with key 'x'" where Lua says "attempt to index
// local 't' (a nil value)"), syntax error messages, number-to-string coercion in ".." (Go's
// shortest form instead of "%.14g": they agree for integers below 1e14 and for short
// fractions), and the iteration order of pairs over hash keys. Scripts that depend on those
// see a different text or order.
package lua
