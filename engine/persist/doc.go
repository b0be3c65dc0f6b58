// Package persist moves data between the engine and Redis's RDB format: SAVE and BGSAVE
// (save.go), the drop-in load of a dump and `strata import` (load.go), DUMP and RESTORE
// (dump.go).
//
// # Why a package of its own
//
// The engine knows nothing of Redis's files: it exports a key as plain values pushed into an
// engine.ExportVisitor (engine/export.go) and imports one from plain values through an
// engine.KeyImporter (engine/import.go). Package rdb knows nothing of the engine: a dump is a
// stream of rdb.Events. This package is the one place that maps one onto the other, and both
// the server (SAVE, BGSAVE, DUMP, RESTORE, the drop-in start) and the tools (import, export)
// need that mapping; the server may not import the tools nor the tools the server, so it
// lives below both, under engine/ (the top-level layout is fixed: cmd, server, engine,
// encoding, aof, rdb, tools, benchmarks, conf):
//
//	cmd ──> tools ──┐
//	                ├──> engine/persist ──> engine ──> encoding
//	cmd ──> server ─┘            └────> rdb, aof
//
// # Streaming
//
// Nothing here holds a collection: an exported key's elements go one at a time from a Pebble
// snapshot into the rdb.Writer (which spills a big collection to a temporary file while it
// waits for its count), and an imported key's elements go one at a time from the rdb.Reader
// into the engine (which writes a big value in bounded batches). A string is read and
// written whole (at most proto-max-bulk-len). SaveFile writes to a temporary file in the
// target's directory and renames it into place once it is complete and fsynced.
//
// # What does not cross
//
// Module values and function libraries are counted and skipped (the engine has neither), as
// are hash field TTLs (RDB 12, Redis 7.4), which Strata's hashes do not have; the field is
// kept without its TTL. Keys whose expiry has passed are dropped on load, as Redis drops
// them, and left out of a save.
package persist
