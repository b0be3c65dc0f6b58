package engine

// What the server's blocking framework needs from a Txn: the keys the Txn changed (the keys
// that may have become ready for blocked clients) and a way to extend its write locks, without
// waiting, to a key a blocked client's command also writes (BLMOVE's destination).

// ChangedCount is the number of key changes the Txn has made so far, in order; ChangedKey(i)
// names the i-th (logical database and key; the key lives until the Txn ends). The same key
// appears once per change. They are recorded only when the engine has a Hooks.Touched hook.
func (t *Txn) ChangedCount() int { return len(t.touched) }

// ChangedKey returns the i-th change of ChangedCount.
func (t *Txn) ChangedKey(i int) (db int, key []byte) {
	k := t.touched[i]
	return k.db, k.key
}

// Exclusive says whether the Txn holds the global latch exclusively (every key is its own).
func (t *Txn) Exclusive() bool { return t.locked && t.mode == LockGlobal }

// TryLockKey makes sure the Txn holds key's stripe for writing: true when it already does or
// could take it at once; false (and nothing taken) when another command holds it. It never
// waits, so it cannot deadlock with commands that lock in stripe order; the stripe is released
// with the others when the Txn ends.
func (t *Txn) TryLockKey(key []byte) bool {
	if !t.locked {
		return false
	}
	switch t.mode {
	case LockGlobal:
		return true
	case LockRead:
		return false
	}
	s := t.e.locks.stripeOf(key)
	for _, have := range t.stripes {
		if have == s {
			return true
		}
	}
	if !t.e.locks.stripes[s].TryLock() {
		return false
	}
	t.stripes = addStripe(t.stripes, s)
	return true
}
