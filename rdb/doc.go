// Package rdb reads and writes Redis's RDB files and DUMP payloads.
//
// It knows nothing of Strata's engine or server: a dump is a sequence of plain Events (see
// event.go), pulled from a Reader and pushed into a Writer, so that the importer, the exporter,
// the inspector and the AOF rewriter all speak the same small vocabulary.
package rdb
