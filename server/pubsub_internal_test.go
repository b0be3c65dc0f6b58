package server

import (
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
)

// TestOutputLimitClasses checks overOutputLimit's rules: the class follows the subscriptions,
// the hard limit closes at once, the soft one after its seconds above it, and dropping below
// the soft limit resets its clock.
func TestOutputLimitClasses(t *testing.T) {
	s := &Server{}
	limits := conf.OutputBufferLimits("normal 0 0 0 slave 0 0 0 pubsub 1000 100 2")
	s.obufLimits.Store(&limits)
	c := &Client{s: s}
	c.pending = make([]byte, 5000)
	if c.overOutputLimit() {
		t.Fatal("a normal client (no limits) was cut off")
	}
	c.sub.add(subChannel, "ch")
	if !c.overOutputLimit() {
		t.Fatal("a subscriber past the hard limit was not cut off")
	}
	c.pending = make([]byte, 500)
	if c.overOutputLimit() || c.softSince.IsZero() {
		t.Fatal("the soft limit's clock did not start")
	}
	if c.overOutputLimit() {
		t.Fatal("cut off before the soft limit's seconds")
	}
	c.softSince = time.Now().Add(-3 * time.Second)
	if !c.overOutputLimit() {
		t.Fatal("not cut off after the soft limit's seconds")
	}
	c.pending = c.pending[:50]
	if c.overOutputLimit() || !c.softSince.IsZero() {
		t.Fatal("the soft limit's clock did not reset below the limit")
	}
	c.inflight = 2000
	if !c.overOutputLimit() {
		t.Fatal("bytes being written do not count")
	}
}
