package server

import (
	"fmt"
	"strings"

	"github.com/stratadb/strata/engine"
)

// KeySpec is one of a command's key specifications, as Redis 7 describes where a command's
// keys are and how it uses them (COMMAND INFO's tenth element, COMMAND GETKEYSANDFLAGS):
// a begin search (an argument index, or a keyword searched for) locates the first key, and
// a find-keys step (a range, or a count argument) locates the rest.
//
//	GET key:                     {Flags: "RO access", Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}}
//	MSET k v [k v ...]:          {Flags: "OW update", Begin: BeginSearch{Index: 1}, Find: FindKeys{LastKey: -1, KeyStep: 2}}
//	EVAL s numkeys k... :        {Flags: "RW access update", Begin: BeginSearch{Index: 2}, Find: FindKeys{KeyNum: true, FirstKey: 1, KeyStep: 1}}
//	XREAD ... STREAMS k... id...: {Flags: "RO access", Begin: BeginSearch{Keyword: "STREAMS", StartFrom: 1}, Find: FindKeys{LastKey: -1, KeyStep: 1, Limit: 2}}
type KeySpec struct {
	// Flags are Redis's key-spec flags: one of RO RW OW RM, then any of access update insert
	// delete, and not_key incomplete variable_flags.
	Flags string
	// Notes explain unusual flags (printed by COMMAND INFO).
	Notes string
	Begin BeginSearch
	Find  FindKeys

	parsed keyFlags // Flags, parsed once by the table (permission checks read them per call)
}

// BeginSearch locates a spec's first key: at Index, or right after Keyword, which is searched
// for from StartFrom (a negative StartFrom searches backwards from the end). The zero value is
// "unknown": the keys cannot be located from the arguments alone.
type BeginSearch struct {
	Index     int
	Keyword   string
	StartFrom int
}

// FindKeys locates a spec's keys from the first one.
//
// A range (the default): keys from the first to LastKey (relative to the first; negative
// counts from the end of the arguments), every KeyStep. With LastKey -1 and a Limit, only
// the first 1/Limit of the remaining arguments are keys (XREAD's keys before their IDs).
//
// KeyNum: the argument at KeyNumIdx (relative to the begin) is the number of keys, which
// start FirstKey arguments after the begin, every KeyStep.
//
// Unknown: the keys cannot be located from the arguments alone.
type FindKeys struct {
	KeyNum  bool
	Unknown bool

	LastKey int
	Limit   int

	KeyNumIdx int
	FirstKey  int

	KeyStep int
}

// keyFlags is a bit set of key-spec flags.
type keyFlags uint16

// keyFlagNames is Redis's order of key-spec flags in replies.
var keyFlagNames = []string{"RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
	"not_key", "incomplete", "variable_flags"}

const (
	keyRO         keyFlags = 1 << 0
	keyRW         keyFlags = 1 << 1
	keyOW         keyFlags = 1 << 2
	keyRM         keyFlags = 1 << 3
	keyAccess     keyFlags = 1 << 4
	keyUpdate     keyFlags = 1 << 5
	keyInsert     keyFlags = 1 << 6
	keyDelete     keyFlags = 1 << 7
	keyNotKey     keyFlags = 1 << 8
	keyIncomplete keyFlags = 1 << 9
)

func parseKeyFlags(s string) (keyFlags, error) {
	var f keyFlags
	for _, name := range strings.Fields(s) {
		found := false
		for i, n := range keyFlagNames {
			if n == name {
				f |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown key-spec flag %q", name)
		}
	}
	return f, nil
}

func (f keyFlags) names() []string {
	var out []string
	for i, n := range keyFlagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (k *KeySpec) flags() keyFlags {
	if k.parsed != 0 {
		return k.parsed
	}
	f, _ := parseKeyFlags(k.Flags) // validated by prepareKeySpecs
	return f
}

// indexRange reports whether the spec is a plain index + range spec (not movable).
func (k *KeySpec) indexRange() bool {
	return k.Begin.Index > 0 && !k.Find.KeyNum && !k.Find.Unknown
}

// derivedKeyFlags are the key-spec flags of a command whose exact ones are not declared: what
// its command flags imply, assuming the worst where they say nothing more (as Redis does for
// EVAL's keys: "we cannot tell how the keys will be used so we assume the worst").
func (c *Command) derivedKeyFlags() string {
	switch {
	case c.Has(FlagWrite):
		return "RW access update"
	case c.Has(FlagReadonly):
		return "RO access"
	}
	return "RO"
}

// prepareKeySpecs validates declared specs, or derives them: one range spec from
// First/Last/Step, plus an unknown spec when a Keys function locates keys that no spec
// describes. Commands with movable specs and no Keys function get their positions from the
// specs.
func (c *Command) prepareKeySpecs() {
	for i := range c.Specs {
		if _, err := parseKeyFlags(c.Specs[i].Flags); err != nil {
			panic(fmt.Sprintf("server: %s: %v", c.Name, err))
		}
	}
	if c.Specs != nil {
		c.specs = append([]KeySpec(nil), c.Specs...) // a copy: Specs may be shared (redisKeySpecs)
		for i := range c.specs {
			c.specs[i].parsed = c.specs[i].flags()
		}
		movable := false
		for i := range c.specs {
			if !c.specs[i].indexRange() {
				movable = true
			}
		}
		if movable && c.Keys == nil {
			c.Keys = c.keysFromSpecs
			c.specKeys = true
		}
		return
	}
	c.specs = nil
	if c.First > 0 {
		last := c.Last
		if last >= 0 {
			last -= c.First
		}
		c.specs = append(c.specs, KeySpec{Flags: c.derivedKeyFlags(),
			Begin: BeginSearch{Index: c.First}, Find: FindKeys{LastKey: last, KeyStep: max(c.Step, 1)}})
	}
	if c.Keys != nil {
		c.specs = append(c.specs, KeySpec{Flags: c.derivedKeyFlags(), Find: FindKeys{Unknown: true}})
	}
	for i := range c.specs {
		c.specs[i].parsed = c.specs[i].flags()
	}
}

// keysFromSpecs is the Keys function of commands whose movable keys their specs describe. It
// locks every key some spec can locate, even when another spec cannot be followed (the
// command then replies with its own error).
func (c *Command) keysFromSpecs(args [][]byte) []int {
	refs, _ := c.specKeyRefs(args, true)
	out := make([]int, len(refs))
	for i, r := range refs {
		out[i] = r.pos
	}
	return out
}

// keyRef is a key's argument index and the flags of the spec that found it.
type keyRef struct {
	pos   int
	flags keyFlags
}

// specKeyRefs locates keys with the specs as Redis's getKeysUsingKeySpecs does. A spec that
// cannot be followed (unknown, a keynum that is not a count, a range past the arguments,
// incomplete) makes the whole search fail, unless partial is set, in which case the keys of
// the specs that could be followed are returned.
func (c *Command) specKeyRefs(args [][]byte, partial bool) ([]keyRef, bool) {
	var out []keyRef
	argc := len(args)
	for i := range c.specs {
		spec := &c.specs[i]
		flags := spec.flags()
		if flags&keyNotKey != 0 {
			continue
		}
		first, last, step, ok := spec.locate(args)
		if !ok {
			if first < 0 { // a keyword that is absent: the spec has no keys here
				continue
			}
			if partial {
				continue
			}
			return nil, false
		}
		for j := first; j <= last; j += step {
			if j >= argc {
				break // a command of variable arity given too few arguments: its own error
			}
			out = append(out, keyRef{pos: j, flags: flags})
		}
		if flags&keyIncomplete != 0 && !partial {
			return nil, false
		}
	}
	return out, true
}

// locate returns the first and last key index and the step of one spec in args. When the
// spec cannot be followed, ok is false; first is -1 when a begin keyword is simply absent.
func (k *KeySpec) locate(args [][]byte) (first, last, step int, ok bool) {
	argc := len(args)
	switch {
	case k.Begin.Index > 0:
		first = k.Begin.Index
	case k.Begin.Keyword != "":
		// As Redis: search from StartFrom towards the end (or, when negative, from the end
		// backwards), never looking at the last argument searched towards.
		start, end := k.Begin.StartFrom, argc-1
		if start <= 0 {
			start, end = argc+start, 1
		}
		dir := 1
		if start > end {
			dir = -1
		}
		first = -1
		for j := start; j != end && j >= 1 && j < argc; j += dir {
			if strings.EqualFold(string(args[j]), k.Begin.Keyword) {
				first = j + 1
				break
			}
		}
		if first < 0 {
			return -1, 0, 0, false
		}
	default:
		return 0, 0, 0, false
	}
	switch {
	case k.Find.Unknown:
		return 0, 0, 0, false
	case k.Find.KeyNum:
		step = max(k.Find.KeyStep, 1)
		idx := first + k.Find.KeyNumIdx
		if idx >= argc {
			return 0, 0, 0, false
		}
		n, isInt := engine.ParseInt(args[idx])
		if !isInt || n < 0 || n > int64(argc) {
			return 0, 0, 0, false
		}
		first += k.Find.FirstKey
		last = first + int(n) - 1 // no keys (n == 0) fails below, as in Redis
	default:
		step = max(k.Find.KeyStep, 1)
		switch {
		case k.Find.LastKey >= 0:
			last = first + k.Find.LastKey
		case k.Find.Limit > 0:
			last = first + (argc-first)/k.Find.Limit + k.Find.LastKey
		default:
			last = argc + k.Find.LastKey
		}
	}
	if last >= argc || last < first || first >= argc {
		return 0, 0, 0, false
	}
	return first, last, step, true
}

// keyRefs returns the keys of a command call with the flags of the specs that describe them,
// for COMMAND GETKEYS and GETKEYSANDFLAGS and the ACL's key permissions. Positions come from
// where dispatch takes them (the Keys function, or First/Last/Step); flags from the spec that
// locates the same argument, else from the command flags; for the commands whose key flags
// depend on their arguments (Redis's variable_flags), from those arguments.
func (c *Command) keyRefs(args [][]byte) []keyRef {
	refs := c.specKeyRefsAt(args)
	if vary := variableKeyFlags[c.Name]; vary != nil {
		for i := range refs {
			refs[i].flags = vary(args)
		}
	}
	return refs
}

// variableKeyFlags computes the key flags of Redis's variable_flags commands as its getkeys
// procedures do (setGetKeys, bitfieldGetKeys).
var variableKeyFlags = map[string]func(args [][]byte) keyFlags{
	"set": func(args [][]byte) keyFlags {
		for _, a := range args[min(3, len(args)):] {
			if strings.EqualFold(string(a), "get") {
				return keyRW | keyAccess | keyUpdate
			}
		}
		return keyOW | keyUpdate
	},
	"bitfield": func(args [][]byte) keyFlags {
		for i := 2; i < len(args); i++ {
			more := len(args) - i - 1
			switch op := string(args[i]); {
			case strings.EqualFold(op, "get") && more >= 2:
				i += 2
			case strings.EqualFold(op, "overflow") && more >= 1:
				i++
			default: // SET, INCRBY, or a syntax error: assume it writes, as Redis does
				return keyRW | keyAccess | keyUpdate
			}
		}
		return keyRO | keyAccess
	},
}

// specKeyRefsAt is keyRefs before the variable flags.
func (c *Command) specKeyRefsAt(args [][]byte) []keyRef {
	if c.Keys == nil || c.specKeys {
		if refs, ok := c.specKeyRefs(args, false); ok {
			return refs
		}
		if c.Keys == nil {
			var out []keyRef
			fallback, _ := parseKeyFlags(c.derivedKeyFlags())
			c.eachKey(args, func(i int) { out = append(out, keyRef{pos: i, flags: fallback}) })
			return out
		}
		return nil
	}
	found, _ := c.specKeyRefs(args, true)
	fallback, _ := parseKeyFlags(c.derivedKeyFlags())
	positions := c.Keys(args)
	out := make([]keyRef, 0, len(positions))
	for _, p := range positions {
		ref := keyRef{pos: p, flags: fallback}
		for _, f := range found {
			if f.pos == p {
				ref.flags = f.flags
				break
			}
		}
		out = append(out, ref)
	}
	return out
}

// hasKeys reports whether the command can take keys at all (COMMAND GETKEYS's first check).
func (c *Command) hasKeys() bool {
	if c.Keys != nil {
		return true
	}
	for i := range c.specs {
		if c.specs[i].flags()&keyNotKey == 0 {
			return true
		}
	}
	return false
}
