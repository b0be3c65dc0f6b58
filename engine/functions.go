package engine

import (
	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Function libraries (FUNCTION LOAD) persist as internal records, one per library:
//
//	internal "func/" + library name  ->  the library's code, as FUNCTION LOAD received it
//
// Redis keeps libraries in the RDB and the AOF; Strata keeps them next to the data, so they
// survive restarts and crashes like any acknowledged write. The server compiles them when
// it starts. FLUSHALL does not touch them, as in Redis.
const recFunction = "func/"

// FunctionLibraries returns the stored libraries' code by name.
func (e *Engine) FunctionLibraries() (map[string]string, error) {
	e.latch.RLock()
	defer e.latch.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	lower := encoding.AppendInternalKey(nil, recFunction)
	it, err := e.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: encoding.PrefixEnd(nil, lower)})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key()[len(lower):])] = string(it.Value())
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, err
	}
	return out, it.Close()
}

// SetFunctionLibraries replaces the stored libraries with libs in one durable batch, so a
// crash leaves either the old set or the new one.
func (e *Engine) SetFunctionLibraries(libs map[string]string) error {
	e.latch.RLock()
	defer e.latch.RUnlock()
	if e.closed {
		return ErrClosed
	}
	lower := encoding.AppendInternalKey(nil, recFunction)
	b := e.pdb.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(lower, encoding.PrefixEnd(nil, lower), nil); err != nil {
		return err
	}
	for name, code := range libs {
		if err := b.Set(encoding.AppendInternalKey(nil, recFunction+name), []byte(code), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}
