package engine

import (
	"hash/maphash"
	"sync"
)

// lockStripes is the number of key-lock stripes. A command locks the stripes of its keys, so
// two commands contend only when their keys hash to a shared stripe.
const lockStripes = 4096

type stripe struct {
	sync.RWMutex
	_ [40]byte // keep neighbouring stripes off one cache line
}

// lockTable is the striped key-lock table. Keys hash by name only, not by database, so that a
// command naming the same key in two databases (MOVE, COPY ... DB) holds one stripe for both.
type lockTable struct {
	seed    maphash.Seed
	stripes [lockStripes]stripe
}

func newLockTable() *lockTable { return &lockTable{seed: maphash.MakeSeed()} }

func (t *lockTable) stripeOf(key []byte) uint32 {
	return uint32(maphash.Bytes(t.seed, key) % lockStripes)
}

// addStripe inserts s into the sorted, duplicate-free set ss. Commands name few keys, so an
// insertion into a small sorted slice beats sorting afterwards.
func addStripe(ss []uint32, s uint32) []uint32 {
	i := len(ss)
	for i > 0 && ss[i-1] > s {
		i--
	}
	if i > 0 && ss[i-1] == s {
		return ss
	}
	ss = append(ss, 0)
	copy(ss[i+1:], ss[i:])
	ss[i] = s
	return ss
}

// lock takes the stripes in ascending order, the one order every command uses, so that no two
// commands can wait on each other.
func (t *lockTable) lock(ss []uint32, write bool) {
	for _, s := range ss {
		if write {
			t.stripes[s].Lock()
		} else {
			t.stripes[s].RLock()
		}
	}
}

func (t *lockTable) unlock(ss []uint32, write bool) {
	for i := len(ss) - 1; i >= 0; i-- {
		if write {
			t.stripes[ss[i]].Unlock()
		} else {
			t.stripes[ss[i]].RUnlock()
		}
	}
}
