package engine

import "sync"

// cursorTable remembers where SCAN-family iterations stopped. A Redis cursor is a number, but
// Strata iterates sorted keys, and a key does not fit in a number: so the cursor names an
// entry here holding the last key returned. The table is bounded; a cursor whose entry was
// evicted resumes from a coarser position that the cursor itself encodes (for SCAN, the start
// of its slot), which may repeat keys but never skips one, as SCAN's contract allows.
type cursorTable struct {
	mu      sync.Mutex
	next    uint64
	entries map[uint64][]byte
	ring    []uint64
	pos     int
}

const cursorTableSize = 1 << 16

func newCursorTable() *cursorTable {
	return &cursorTable{entries: make(map[uint64][]byte), ring: make([]uint64, cursorTableSize)}
}

// save stores a resume position and returns its token (never 0).
func (c *cursorTable) save(pos []byte) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	tok := c.next
	if old := c.ring[c.pos]; old != 0 {
		delete(c.entries, old)
	}
	c.ring[c.pos] = tok
	c.pos = (c.pos + 1) % len(c.ring)
	c.entries[tok] = append([]byte(nil), pos...)
	return tok
}

// load returns the position saved under tok.
func (c *cursorTable) load(tok uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.entries[tok]
	return p, ok
}
