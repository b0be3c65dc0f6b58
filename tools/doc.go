// Package tools holds Strata's offline tools around Redis's files: `strata inspect`
// (what a dump holds, what is big, which key prefixes take the space), `strata check`
// (is a dump sound, like redis-check-rdb), `strata import` (a dump into a data directory,
// import.go, or into a running server, online.go), `strata export` (a data directory
// out to a dump, export.go; one in use through a checkpoint, dirsource.go) and migrate.
//
// # Events in, reports out
//
// Every tool consumes a dump as a stream of rdb.Events from an EventSource (source.go):
//
//	RDB file ─────────────────rdb.Reader──┐
//	                                      ├─ EventSource ─> eventPump ─> inspector ─> Report ─> table | JSON | CSV
//	Strata dir ─export─> pipe ─rdb.Reader─┘              (progress) ─> keyDumper ─> JSON lines
//	                                                                ─> check     ─> CheckReport
//
// An RDB file is read by an *rdb.Reader (wrapped by OpenRDB as an *RDBFile). A Strata data
// directory (OpenDir, dirsource.go) is written as an RDB by the export path into a pipe
// and read back by an *rdb.Reader (a *DirSource), so that its sizes are those of an RDB
// file; a directory a running server has open is read from a checkpoint the server makes.
// A source only has to implement Next, and may report its Offset (progress, early
// --min-size decisions) and Version.
//
// # Memory
//
// Nothing holds a collection. The inspector keeps, per key, a handful of counters (the
// memory estimate of memory.go rebuilds listpacks, quicklist nodes and stream nodes as
// sizes, not bytes), and across keys the top-N heaps and one counter per key prefix, up
// to InspectOptions.MaxPrefixes distinct prefixes. The key dumper writes each element as
// it arrives and flushes every 64 KiB; a single string costs its own size (the rdb reader
// reads it whole). Check holds one stream consumer group's pending entries at a time.
//
// # Memory estimate
//
// memory.go estimates, per key, what MEMORY USAGE key SAMPLES 0 answers in a Redis 7.0
// that has loaded the dump (formulas in its comment). Checked against the real
// redis-server in memory_test.go: on keys of every type and encoding built by commands
// and reloaded, and on every fixture Redis 7.0 loads, the estimate is within 1% of
// MEMORY USAGE (the rest is the random level of skiplist nodes).
//
// # Output conventions
//
// Reports go to the writer given (stdout in the command); warnings are returned in
// Report.Warnings for the command to print on stderr, and a progress bar (progress.go) is
// drawn on stderr only when it is a terminal. Binary-safe text rules are in jsontext.go.
package tools
