package server

import (
	"fmt"
	"strings"
	"testing"
)

func argv(line string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(line) {
		out = append(out, []byte(f))
	}
	return out
}

func refsString(refs []keyRef) string {
	var parts []string
	for _, r := range refs {
		parts = append(parts, fmt.Sprintf("%d:%s", r.pos, strings.Join(r.flags.names(), ",")))
	}
	return strings.Join(parts, " ")
}

// TestKeySpecs follows key specs as Redis's getKeysUsingKeySpecs does, on Redis's own specs.
func TestKeySpecs(t *testing.T) {
	noop := func(*Ctx) {}
	tab := newTable()
	tab.add(
		&Command{Name: "mset", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 2, Handler: noop,
			Specs: []KeySpec{{Flags: "OW update", Begin: BeginSearch{Index: 1}, Find: FindKeys{LastKey: -1, KeyStep: 2}}}},
		&Command{Name: "xread", Arity: -4, Flags: "readonly blocking", Handler: noop,
			Specs: []KeySpec{{Flags: "RO access", Begin: BeginSearch{Keyword: "STREAMS", StartFrom: 1},
				Find: FindKeys{LastKey: -1, KeyStep: 1, Limit: 2}}}},
		&Command{Name: "zunionstore", Arity: -4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, Handler: noop,
			Specs: []KeySpec{
				{Flags: "OW update", Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}},
				{Flags: "RO access", Begin: BeginSearch{Index: 2}, Find: FindKeys{KeyNum: true, FirstKey: 1, KeyStep: 1}},
			}},
		&Command{Name: "migrate", Arity: -6, Flags: "write", First: 3, Last: 3, Step: 1, Handler: noop,
			Specs: []KeySpec{
				{Flags: "RW access delete", Begin: BeginSearch{Index: 3}, Find: FindKeys{KeyStep: 1}},
				{Flags: "RW access delete incomplete", Begin: BeginSearch{Keyword: "KEYS", StartFrom: -2},
					Find: FindKeys{LastKey: -1, KeyStep: 1}},
			}},
		&Command{Name: "myget", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Handler: noop},
		&Command{Name: "mydel", Arity: -2, Flags: "write", First: 1, Last: -1, Step: 1, Handler: noop},
		&Command{Name: "myeval", Arity: -3, Flags: "noscript", Handler: noop,
			Keys: func(args [][]byte) []int { return []int{3} }},
	)
	for _, tc := range []struct {
		line, strict, partial string
		strictOK              bool
	}{
		{"mset a 1 b 2", "1:OW,update 3:OW,update", "1:OW,update 3:OW,update", true},
		{"mset a 1 b", "1:OW,update 3:OW,update", "1:OW,update 3:OW,update", true},
		{"xread count 2 streams a b 0 0", "4:RO,access 5:RO,access", "4:RO,access 5:RO,access", true},
		{"xread streams a 0", "2:RO,access", "2:RO,access", true},
		{"xread count 2 nostreams", "", "", true}, // the keyword is absent: no keys, no failure
		{"zunionstore d 2 a b weights 1 2", "1:OW,update 3:RO,access 4:RO,access", "1:OW,update 3:RO,access 4:RO,access", true},
		{"zunionstore d 0 a", "", "1:OW,update", false},   // zero keys: Redis calls the spec invalid
		{"zunionstore d 5 a b", "", "1:OW,update", false}, // more keys than arguments
		{"zunionstore d x a", "", "1:OW,update", false},
		{"migrate h p \"\" 0 5000 keys a b", "", "3:RW,access,delete 7:RW,access,delete,incomplete 8:RW,access,delete,incomplete", false},
		{"myget k", "1:RO,access", "1:RO,access", true},
		{"mydel a b c", "1:RW,access,update 2:RW,access,update 3:RW,access,update", "1:RW,access,update 2:RW,access,update 3:RW,access,update", true},
	} {
		args := argv(tc.line)
		cmd := tab.Lookup(string(args[0]))
		refs, ok := cmd.specKeyRefs(args, false)
		if ok != tc.strictOK || (ok && refsString(refs) != tc.strict) {
			t.Errorf("%s: strict %q %v, want %q %v", tc.line, refsString(refs), ok, tc.strict, tc.strictOK)
		}
		refs, _ = cmd.specKeyRefs(args, true)
		if got := refsString(refs); got != tc.partial {
			t.Errorf("%s: partial %q, want %q", tc.line, got, tc.partial)
		}
	}

	// Movable specs make the command movablekeys and give it its key positions.
	for _, name := range []string{"xread", "zunionstore", "migrate"} {
		c := tab.Lookup(name)
		if !c.Has(FlagMovable) || c.Keys == nil {
			t.Errorf("%s: movable specs must make the command movablekeys with a Keys function", name)
		}
	}
	if got := tab.Lookup("zunionstore").Keys(argv("zunionstore d 2 a b")); fmt.Sprint(got) != "[1 3 4]" {
		t.Errorf("zunionstore keys %v", got)
	}
	if tab.Lookup("mset").Has(FlagMovable) {
		t.Error("mset's index+range spec is not movable")
	}

	// Derived specs (commands Redis does not have, so without redisKeySpecs): a range from
	// First/Last/Step, plus an unknown spec for a Keys function.
	if s := tab.Lookup("myget").specs; len(s) != 1 || s[0].Begin.Index != 1 || s[0].Find.LastKey != 0 || s[0].Flags != "RO access" {
		t.Errorf("get's derived specs %+v", s)
	}
	if s := tab.Lookup("mydel").specs; len(s) != 1 || s[0].Find.LastKey != -1 || s[0].Flags != "RW access update" {
		t.Errorf("del's derived specs %+v", s)
	}
	eval := tab.Lookup("myeval")
	if s := eval.specs; len(s) != 1 || !s[0].Find.Unknown {
		t.Errorf("eval's derived specs %+v", s)
	}
	if got := refsString(eval.keyRefs(argv("myeval s 1 k"))); got != "3:RO" {
		t.Errorf("eval keyRefs %q", got)
	}
}

func TestKeySpecBadFlagPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown key-spec flag must be refused at registration")
		}
	}()
	newTable().add(&Command{Name: "x", Arity: 1, Handler: func(*Ctx) {},
		Specs: []KeySpec{{Flags: "RO bogus", Begin: BeginSearch{Index: 1}}}})
}
