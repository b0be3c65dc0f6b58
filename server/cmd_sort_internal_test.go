package server

import (
	"strings"
	"testing"
)

// TestSortNeedsGlobalLatch checks which SORT calls read keys outside their key positions and
// so run under the global latch.
func TestSortNeedsGlobalLatch(t *testing.T) {
	tab := newTable()
	registerSortCommands(tab)
	registerListCommands(tab)
	for line, want := range map[string]bool{
		"sort l":                         false,
		"sort l alpha desc limit 0 1":    false,
		"sort l by nosort":               false,
		"sort l by w_*":                  true,
		"sort l get #":                   false,
		"sort l get name":                false,
		"sort l get name_*":              true,
		"sort l get h_*->f store d":      true,
		"sort_ro l by w_*":               true,
		"sort l by w_* foo":              false, // a syntax error reads nothing
		"sort_ro l by w_* store d":       false,
		"lpush l *":                      false,
		"sort l by nosort get # get k_*": true,
		"sort l by w_\x00* get \x00x_*":  false, // C strings: the '*' is after a NUL
	} {
		args := strings.Split(line, " ")
		bargs := make([][]byte, len(args))
		for i, a := range args {
			bargs[i] = []byte(a)
		}
		if got := needsGlobalLatch(tab.Lookup(args[0]), bargs); got != want {
			t.Errorf("%q: global latch %v, want %v", line, got, want)
		}
	}
	if got := sortKeys([][]byte{[]byte("sort"), []byte("l"), []byte("store"), []byte("a"), []byte("STORE"), []byte("b")}, false); len(got) != 2 || got[1] != 5 {
		t.Errorf("SORT keys %v, want [1 5]", got)
	}
}
