package lua

import (
	"math"
	"sync/atomic"
)

// Rand is Redis's redisLrand48 (src/rand.c): the 48-bit linear congruential generator of
// POSIX lrand48, with its default seed, shared by every script of the server as Redis's one
// static state is. math.random draws from it and math.randomseed reseeds it; Redis 7 does
// not reseed it per script, so a sequence continues across scripts until the server restarts.
type Rand struct {
	state atomic.Uint64
}

const (
	randMul     = 0x5DEECE66D
	randAdd     = 0xB
	randMask    = 1<<48 - 1
	randInitial = 0x1234ABCD330E
	randMax     = math.MaxInt32 // REDIS_LRAND48_MAX
)

// NewRand returns a generator in Redis's initial state.
func NewRand() *Rand {
	r := &Rand{}
	r.state.Store(randInitial)
	return r
}

// next advances the generator and returns the new state and lrand48's value.
func (r *Rand) next() (uint64, int32) {
	for {
		old := r.state.Load()
		x := (old*randMul + randAdd) & randMask
		if r.state.CompareAndSwap(old, x) {
			return x, int32(x >> 17)
		}
	}
}

// seed is redisSrand48.
func (r *Rand) seed(v int32) uint64 {
	x := uint64(uint32(v))<<16 | 0x330E
	r.state.Store(x)
	return x
}

// randTrack remembers what one script invocation did to the shared generator, so that an
// invocation that is thrown away (to run again under the global latch) can give back the
// numbers it drew when nobody drew after it.
type randTrack struct {
	start, last uint64
	used        bool
}

func (t *randTrack) begin(r *Rand) {
	*t = randTrack{start: r.state.Load()}
}

func (t *randTrack) drew(state uint64) {
	t.last, t.used = state, true
}

// rewind restores the state the invocation began with, unless another script drew since.
func (t *randTrack) rewind(r *Rand) {
	if t.used {
		r.state.CompareAndSwap(t.last, t.start)
	}
}
