package tools

import (
	"bytes"
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strconv"

	"github.com/stratadb/strata/rdb"
)

// InspectOptions configures Inspect.
type InspectOptions struct {
	Filter Filter
	// Top is how many keys each biggest-keys list and the prefix list hold (default 10).
	Top int
	// PrefixSep separates the segments of key names (default ":"); PrefixDepth is how many
	// leading segments make a key's prefix (0: no prefix report; the command's default is 1).
	PrefixSep   string
	PrefixDepth int
	// MaxPrefixes bounds the distinct prefixes counted (default 200000); keys whose prefix
	// comes after that are counted under OtherPrefix, and the report says so.
	MaxPrefixes int
	// Progress is told how far the run has come; nil shows nothing.
	Progress Progress
}

// OtherPrefix is the prefix row that collects the keys of prefixes beyond MaxPrefixes.
const OtherPrefix = "(other prefixes)"

// Stats are the totals of a group of keys.
type Stats struct {
	Keys     int64 `json:"keys"`
	Expiring int64 `json:"keys_with_expiry"`
	// Bytes is what the keys take in the dump (KindEndKey's Size).
	Bytes int64 `json:"bytes"`
	// Elements counts the elements of collections (a string counts as one).
	Elements int64 `json:"elements"`
	// Memory is the estimate of MEMORY USAGE in Redis 7.0 (memory.go).
	Memory int64 `json:"memory"`
}

func (s *Stats) add(k *KeyStats) {
	s.Keys++
	if k.ExpireAt != 0 {
		s.Expiring++
	}
	s.Bytes += k.Bytes
	s.Elements += k.Elements
	s.Memory += k.Memory
}

// GroupStats are the totals of the keys of one database, type and encoding (the encoding
// the dump stored them in).
type GroupStats struct {
	DB       int
	Type     rdb.ValueType
	Encoding string
	Stats
}

// KeyStats describe one key.
type KeyStats struct {
	DB       int
	Key      []byte
	Type     rdb.ValueType
	Encoding string // as stored in the dump
	// RedisEncoding is the encoding Redis 7.0 gives the value when it loads it.
	RedisEncoding string
	ExpireAt      int64 // unix ms, 0 for none
	Offset        int64
	Bytes         int64
	Elements      int64
	Memory        int64
}

// PrefixStats are the totals of the keys that share a prefix.
type PrefixStats struct {
	Prefix []byte
	Stats
}

// AuxField is an auxiliary field of the dump (redis-ver, ctime, used-mem...).
type AuxField struct {
	Name, Value []byte
}

// Report is what Inspect found.
type Report struct {
	Source     string
	SourceSize int64
	RDBVersion int // 0 when the source is not a file
	Aux        []AuxField
	Functions  int
	// ModuleKeys counts module values by module name; their memory is not estimated.
	ModuleKeys map[string]int64
	Total      Stats
	Databases  []int
	Groups     []GroupStats
	// The biggest keys by size in the dump, by element count and by estimated memory.
	TopBySize, TopByElements, TopByMemory []KeyStats
	// Prefixes are the top prefixes by estimated memory.
	PrefixSep        string
	PrefixDepth      int
	Prefixes         []PrefixStats
	DistinctPrefixes int
	PrefixesCapped   bool
	// Checksum is the stored CRC64 (0: not computed); Complete is false when the dump
	// ended in an error and the report covers only what came before it.
	Checksum uint64
	Complete bool
	Warnings []string
}

type groupKey struct {
	db       int
	typ      rdb.ValueType
	encoding string
}

type ranking int

const (
	bySize ranking = iota
	byElements
	byMemory
	rankings
)

func (k *KeyStats) measure(r ranking) int64 {
	switch r {
	case bySize:
		return k.Bytes
	case byElements:
		return k.Elements
	}
	return k.Memory
}

// better orders keys for a ranking: bigger first, then by database and name so that the
// order is the same on every run.
func better(a, b *KeyStats, r ranking) bool {
	if ma, mb := a.measure(r), b.measure(r); ma != mb {
		return ma > mb
	}
	if a.DB != b.DB {
		return a.DB < b.DB
	}
	return bytes.Compare(a.Key, b.Key) < 0
}

// topKeys keeps the best n keys of a ranking in a heap whose root is the worst of them.
type topKeys struct {
	r    ranking
	n    int
	keys []KeyStats
}

func (t *topKeys) Len() int           { return len(t.keys) }
func (t *topKeys) Less(i, j int) bool { return better(&t.keys[j], &t.keys[i], t.r) }
func (t *topKeys) Swap(i, j int)      { t.keys[i], t.keys[j] = t.keys[j], t.keys[i] }
func (t *topKeys) Push(x any)         { t.keys = append(t.keys, x.(KeyStats)) }
func (t *topKeys) Pop() any {
	k := t.keys[len(t.keys)-1]
	t.keys = t.keys[:len(t.keys)-1]
	return k
}

// offer considers a key; its name is copied only when it is kept.
func (t *topKeys) offer(k *KeyStats) {
	if len(t.keys) < t.n {
		c := *k
		c.Key = bytes.Clone(k.Key)
		heap.Push(t, c)
		return
	}
	if t.n == 0 || !better(k, &t.keys[0], t.r) {
		return
	}
	old := t.keys[0].Key
	t.keys[0] = *k
	t.keys[0].Key = append(old[:0], k.Key...)
	heap.Fix(t, 0)
}

func (t *topKeys) sorted() []KeyStats {
	out := slices.Clone(t.keys)
	slices.SortFunc(out, func(a, b KeyStats) int {
		if better(&a, &b, t.r) {
			return -1
		}
		return 1
	})
	return out
}

// inspector accumulates a Report from events.
type inspector struct {
	opts   InspectOptions
	sel    keySelector
	rep    *Report
	groups map[groupKey]*Stats
	top    [rankings]topKeys
	prefix map[string]*Stats
	other  *Stats
	dbs    map[int]bool

	inKey    bool
	selected bool
	cur      KeyStats
	mem      memEstimator
}

// Inspect reads a dump from src and reports what is in it. On an error from the source it
// returns the report of what came before (Complete false) along with the error.
func Inspect(src EventSource, opts InspectOptions) (*Report, error) {
	in, err := newInspector(opts)
	if err != nil {
		return nil, err
	}
	if v, ok := src.(VersionReporter); ok {
		in.rep.RDBVersion = v.Version()
	}
	err = in.run(src)
	if d, ok := src.(sourceDescriber); ok {
		in.rep.Source, in.rep.SourceSize = d.describe()
	}
	in.finish()
	return in.rep, err
}

func (in *inspector) run(src EventSource) error {
	pump := newPump(src, in.opts.Progress)
	defer pump.finish()
	for {
		ev, err := pump.next()
		if ev == nil || err != nil {
			return err
		}
		in.event(ev)
	}
}

func newInspector(opts InspectOptions) (*inspector, error) {
	if opts.Top <= 0 {
		opts.Top = 10
	}
	if opts.PrefixSep == "" {
		opts.PrefixSep = ":"
	}
	if opts.PrefixDepth < 0 {
		return nil, fmt.Errorf("prefix depth %d is negative", opts.PrefixDepth)
	}
	if opts.MaxPrefixes <= 0 {
		opts.MaxPrefixes = 200000
	}
	sel, err := newKeySelector(opts.Filter)
	if err != nil {
		return nil, err
	}
	in := &inspector{opts: opts, sel: sel, groups: map[groupKey]*Stats{},
		prefix: map[string]*Stats{}, dbs: map[int]bool{},
		rep: &Report{PrefixSep: opts.PrefixSep, PrefixDepth: opts.PrefixDepth, ModuleKeys: map[string]int64{}}}
	for r := range in.top {
		in.top[r] = topKeys{r: ranking(r), n: opts.Top}
	}
	return in, nil
}

func (in *inspector) event(ev *rdb.Event) {
	switch ev.Kind {
	case rdb.KindKey:
		in.startKey(ev)
	case rdb.KindEndKey:
		in.endKey(ev)
	case rdb.KindModuleSkipped:
		if ev.Key == nil {
			in.rep.Warnings = append(in.rep.Warnings,
				fmt.Sprintf("module auxiliary data of %s skipped", ev.Module))
			return
		}
		in.startKey(ev)
		in.cur.Encoding = ev.Module
		in.endKey(ev)
		if in.selected {
			in.rep.ModuleKeys[ev.Module]++
		}
	case rdb.KindAux:
		in.rep.Aux = append(in.rep.Aux, AuxField{bytes.Clone(ev.Field), bytes.Clone(ev.Value)})
	case rdb.KindFunction:
		in.rep.Functions++
	case rdb.KindEOF:
		in.rep.Checksum = ev.Checksum
		in.rep.Complete = true
	default:
		if in.inKey && in.selected {
			if isElement(ev.Kind) {
				in.cur.Elements++
			}
			in.mem.add(ev)
		}
	}
}

func (in *inspector) startKey(ev *rdb.Event) {
	in.inKey = true
	in.selected = in.sel.admits(ev.DB, ev.Key, ev.Header.Type)
	if !in.selected {
		return
	}
	in.cur = KeyStats{DB: ev.DB, Key: ev.Key, Type: ev.Header.Type, Encoding: ev.Header.Encoding,
		ExpireAt: ev.Header.ExpireAt, Offset: ev.Header.Offset}
	if ev.Header.Type == rdb.TypeString {
		in.cur.Elements = 1
	}
	in.mem.begin(&ev.Header, len(ev.Key))
}

func (in *inspector) endKey(ev *rdb.Event) {
	in.inKey = false
	if !in.selected || ev.Size < in.sel.minSize {
		return
	}
	k := &in.cur
	k.Key, k.Bytes = ev.Key, ev.Size
	if k.Type != rdb.TypeModule {
		k.Memory = in.mem.total()
		k.RedisEncoding = in.mem.encoding()
	}
	in.rep.Total.add(k)
	in.dbs[k.DB] = true
	gk := groupKey{k.DB, k.Type, k.Encoding}
	g := in.groups[gk]
	if g == nil {
		g = &Stats{}
		in.groups[gk] = g
	}
	g.add(k)
	for r := range in.top {
		in.top[r].offer(k)
	}
	if in.opts.PrefixDepth > 0 {
		in.countPrefix(k)
	}
}

// prefixOf is the first depth segments of key (each with its separator), never the whole
// key: a key with fewer segments has the ones before its last. A key without the separator
// has the empty prefix.
func prefixOf(key []byte, sep string, depth int) []byte {
	end := 0
	rest := key
	for i := 0; i < depth; i++ {
		j := bytes.Index(rest, []byte(sep))
		if j < 0 {
			break
		}
		end += j + len(sep)
		rest = rest[j+len(sep):]
	}
	return key[:end]
}

func (in *inspector) countPrefix(k *KeyStats) {
	p := prefixOf(k.Key, in.opts.PrefixSep, in.opts.PrefixDepth)
	s := in.prefix[string(p)]
	if s == nil {
		if len(in.prefix) >= in.opts.MaxPrefixes {
			if in.other == nil {
				in.other = &Stats{}
			}
			in.other.add(k)
			return
		}
		s = &Stats{}
		in.prefix[string(p)] = s
	}
	s.add(k)
}

func (in *inspector) finish() {
	rep := in.rep
	for db := range in.dbs {
		rep.Databases = append(rep.Databases, db)
	}
	slices.Sort(rep.Databases)
	for gk, s := range in.groups {
		rep.Groups = append(rep.Groups, GroupStats{DB: gk.db, Type: gk.typ, Encoding: gk.encoding, Stats: *s})
	}
	slices.SortFunc(rep.Groups, func(a, b GroupStats) int {
		if a.DB != b.DB {
			return a.DB - b.DB
		}
		if a.Type != b.Type {
			return int(a.Type) - int(b.Type)
		}
		return cmp.Compare(a.Encoding, b.Encoding)
	})
	rep.TopBySize = in.top[bySize].sorted()
	rep.TopByElements = in.top[byElements].sorted()
	rep.TopByMemory = in.top[byMemory].sorted()
	rep.DistinctPrefixes = len(in.prefix)
	prefixes := make([]PrefixStats, 0, len(in.prefix)+1)
	for p, s := range in.prefix {
		prefixes = append(prefixes, PrefixStats{Prefix: []byte(p), Stats: *s})
	}
	if in.other != nil {
		rep.PrefixesCapped = true
		prefixes = append(prefixes, PrefixStats{Prefix: []byte(OtherPrefix), Stats: *in.other})
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"more than %d distinct prefixes: the keys of later ones are counted under %q",
			in.opts.MaxPrefixes, OtherPrefix))
	}
	slices.SortFunc(prefixes, func(a, b PrefixStats) int {
		if a.Memory != b.Memory {
			return cmp.Compare(b.Memory, a.Memory)
		}
		if a.Bytes != b.Bytes {
			return cmp.Compare(b.Bytes, a.Bytes)
		}
		return bytes.Compare(a.Prefix, b.Prefix)
	})
	if len(prefixes) > in.opts.Top {
		prefixes = prefixes[:in.opts.Top]
	}
	rep.Prefixes = prefixes
	if n := len(rep.ModuleKeys); n > 0 {
		rep.Warnings = append(rep.Warnings, "module values are skipped; their memory is not estimated")
	}
}

// AuxValue returns the value of an auxiliary field, or nil.
func (r *Report) AuxValue(name string) []byte {
	for _, a := range r.Aux {
		if string(a.Name) == name {
			return a.Value
		}
	}
	return nil
}

// ctimeMillis is the dump's creation time (aux ctime, unix seconds) in ms, 0 when absent.
func ctimeMillis(v []byte) int64 {
	if v == nil {
		return 0
	}
	s, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || s <= 0 {
		return 0
	}
	return s * 1000
}
