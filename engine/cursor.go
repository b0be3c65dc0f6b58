package engine

import "sync"

// cursorTable remembers where SCAN-family iterations stopped. A Redis cursor is a number, but
// Strata iterates sorted keys, and a key does not fit in a number: so the cursor names an
// entry here holding the key to resume at. The table is bounded (a ring: the oldest entry
// goes first); a cursor whose entry was evicted resumes from a coarser position that the
// cursor itself encodes (for SCAN, the start of its slot), which may repeat keys but never
// skips one, as SCAN's contract allows.
//
// Tokens are handed out in sequence and never 0, so a cursor with token 0 needs no entry.
type cursorTable struct {
	mu      sync.Mutex
	next    uint64
	entries map[uint64][]byte
	ring    []uint64
	pos     int
}

// cursorTableSize is how many resume positions the engine keeps: enough for tens of
// thousands of iterations in flight at once.
const cursorTableSize = 1 << 16

// cursorTokenBits is the width of a token inside a cursor (the rest holds a coarse position).
const cursorTokenBits = 50

func newCursorTable() *cursorTable { return newCursorTableSize(cursorTableSize) }

func newCursorTableSize(n int) *cursorTable {
	return &cursorTable{entries: make(map[uint64][]byte, n), ring: make([]uint64, n)}
}

// save stores a resume position and returns its token: never 0, below 1<<cursorTokenBits.
func (c *cursorTable) save(pos []byte) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = (c.next + 1) & (1<<cursorTokenBits - 1)
	if c.next == 0 {
		c.next = 1
	}
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
