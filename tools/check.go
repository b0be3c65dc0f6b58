package tools

import (
	"bufio"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/stratadb/strata/rdb"
)

// CheckOptions configures Check.
type CheckOptions struct {
	// Now is the time keys are counted as already expired at (redis-check-rdb uses the
	// clock); zero means time.Now().
	Now      time.Time
	Progress Progress
}

// DBCheck is what Check counted in one database.
type DBCheck struct {
	DB             int
	Keys           int64
	Expires        int64
	AlreadyExpired int64
	// HintKeys and HintExpires are the RESIZEDB size hints the file gave, -1 when none.
	HintKeys, HintExpires int64
}

// CheckReport is the verdict of Check on one file.
type CheckReport struct {
	Path       string
	Size       int64
	Version    int
	Valkey     bool
	Aux        []AuxField
	DBs        []DBCheck
	Functions  int
	ModuleKeys map[string]int64
	ModuleAux  []string
	// Checksum is the stored CRC64; ChecksumStatus says whether it was verified.
	Checksum       uint64
	ChecksumStatus string
	// DupsUnchecked counts the collections too big to be checked for duplicates whole.
	DupsUnchecked int64
	// Read is how many bytes the reader consumed; Trailing the bytes after the RDB's end.
	Read     int64
	Trailing int64
	// Err is the first problem; nil when the file is sound. ErrOffset is its byte offset
	// and ErrKey the key being read (when ErrInKey).
	Err       error
	ErrOffset int64
	ErrKey    []byte
	ErrInKey  bool
}

// OK reports whether the file is sound.
func (c *CheckReport) OK() bool { return c.Err == nil }

// Keys is the number of keys read.
func (c *CheckReport) Keys() int64 {
	var n int64
	for _, db := range c.DBs {
		n += db.Keys
	}
	return n
}

// Check reads a whole RDB file as redis-check-rdb does: every structure is walked and
// bounds-checked, every key decoded, empty collections refused, stream consumer groups
// cross-checked (streamGroupCheck), and the CRC64 compared at the end. It stops at the
// first problem and reports its byte offset and key. Sets, sorted sets and hashes are
// checked for duplicate members, as Redis checks them when it loads them (dupCheck), up to
// two million elements per key.
func Check(path string, opts CheckOptions) *CheckReport {
	rep := &CheckReport{Path: path, ModuleKeys: map[string]int64{}}
	f, err := os.Open(path)
	if err != nil {
		rep.Err = err
		return rep
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		rep.Err = err
		return rep
	}
	if st.IsDir() {
		rep.Err = fmt.Errorf("%s is a directory, not an RDB file", path)
		return rep
	}
	rep.Size = st.Size()
	checkRDB(rep, f, opts)
	return rep
}

// checkRDB reads an RDB file of rep.Size bytes from in and fills in the verdict.
func checkRDB(rep *CheckReport, in io.Reader, opts CheckOptions) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rd, err := rdb.NewReader(in, &rdb.ReaderOptions{Size: rep.Size})
	if err != nil {
		rep.Err = err
		return
	}
	rep.Version, rep.Valkey = rd.Version(), rd.Valkey()
	dbs := map[int]*DBCheck{}
	db := func(n int) *DBCheck {
		d := dbs[n]
		if d == nil {
			d = &DBCheck{DB: n, HintKeys: -1, HintExpires: -1}
			dbs[n] = d
		}
		return d
	}
	var groups streamGroupCheck
	var dups dupCheck
	nowMs := now.UnixMilli()
	countKey := func(ev *rdb.Event) {
		d := db(ev.DB)
		d.Keys++
		if at := ev.Header.ExpireAt; at != 0 {
			d.Expires++
			if at < nowMs {
				d.AlreadyExpired++
			}
		}
	}
	pump := newPump(rd, opts.Progress)
	defer pump.finish()
	for {
		var ev *rdb.Event
		if ev, err = pump.next(); ev == nil || err != nil {
			break
		}
		switch ev.Kind {
		case rdb.KindAux:
			rep.Aux = append(rep.Aux, AuxField{slices.Clone(ev.Field), slices.Clone(ev.Value)})
		case rdb.KindSelectDB:
			db(ev.DB)
		case rdb.KindResizeDB:
			d := db(ev.DB)
			d.HintKeys, d.HintExpires = int64(ev.DBSize), int64(ev.ExpiresSize)
		case rdb.KindKey:
			countKey(ev)
			groups.reset()
			dups.start(&ev.Header)
		case rdb.KindSetMember, rdb.KindHashField, rdb.KindZSetMember:
			if what := dups.add(ev); what != "" {
				err = &rdb.CorruptError{Offset: rd.Offset(), Key: string(ev.Key), InKey: true,
					What: dups.encoding, Detail: what, Err: rdb.ErrCorrupt}
			}
		case rdb.KindEndKey:
			if dups.over {
				rep.DupsUnchecked++
			}
		case rdb.KindStreamGroup, rdb.KindStreamPending, rdb.KindStreamConsumer:
			if detail := groups.add(ev); detail != "" {
				err = &rdb.CorruptError{Offset: rd.Offset(), Key: string(ev.Key), InKey: true,
					What: "stream consumer group", Detail: detail, Err: rdb.ErrCorrupt}
			}
		case rdb.KindModuleSkipped:
			if ev.Key == nil {
				rep.ModuleAux = append(rep.ModuleAux, ev.Module)
			} else {
				countKey(ev)
				rep.ModuleKeys[ev.Module]++
			}
		case rdb.KindFunction:
			rep.Functions++
		case rdb.KindEOF:
			rep.Checksum = ev.Checksum
			switch {
			case rep.Version < 5:
				rep.ChecksumStatus = "none (RDB versions before 5 have no checksum)"
			case ev.Checksum == 0:
				rep.ChecksumStatus = "not computed (the file was saved with rdbchecksum no)"
			default:
				rep.ChecksumStatus = fmt.Sprintf("OK (%#016x)", ev.Checksum)
			}
		}
		if err != nil {
			break
		}
	}
	rep.Read = rd.Offset()
	for _, d := range dbs {
		rep.DBs = append(rep.DBs, *d)
	}
	slices.SortFunc(rep.DBs, func(a, b DBCheck) int { return a.DB - b.DB })
	if err != nil {
		rep.Err = err
		var ce *rdb.CorruptError
		if errors.As(err, &ce) {
			rep.ErrOffset, rep.ErrKey, rep.ErrInKey = ce.Offset, []byte(ce.Key), ce.InKey
		} else {
			rep.ErrOffset = rep.Read
		}
		return
	}
	rep.Trailing = rep.Size - rep.Read
}

// streamGroupCheck holds what Redis cross-checks when it loads a stream's consumer
// groups: group names are unique, a group's pending entries are unique, and every entry a
// consumer owns is one of its group's pending entries, once. It holds one group's pending
// entries at a time.
type streamGroupCheck struct {
	names     map[string]bool
	pending   map[rdb.StreamID]bool
	consumers map[string]bool
	group     []byte
}

func (g *streamGroupCheck) reset() {
	clear(g.names)
	clear(g.pending)
	clear(g.consumers)
}

// add checks one event and returns what is wrong with it, or "".
func (g *streamGroupCheck) add(ev *rdb.Event) string {
	if g.names == nil {
		g.names, g.pending, g.consumers = map[string]bool{}, map[rdb.StreamID]bool{}, map[string]bool{}
	}
	switch ev.Kind {
	case rdb.KindStreamGroup:
		if g.names[string(ev.Group.Name)] {
			return fmt.Sprintf("duplicated consumer group name %q", ev.Group.Name)
		}
		g.names[string(ev.Group.Name)] = true
		g.group = append(g.group[:0], ev.Group.Name...)
		clear(g.pending)
		clear(g.consumers)
	case rdb.KindStreamPending:
		id := ev.Pending.ID
		if g.pending[id] {
			return fmt.Sprintf("group %q lists pending entry %d-%d twice", g.group, id.Ms, id.Seq)
		}
		g.pending[id] = true
	case rdb.KindStreamConsumer:
		c := &ev.Consumer
		if g.consumers[string(c.Name)] {
			return fmt.Sprintf("group %q has consumer %q twice", g.group, c.Name)
		}
		g.consumers[string(c.Name)] = true
		seen := make(map[rdb.StreamID]bool, len(c.Pending))
		for _, id := range c.Pending {
			if _, ok := g.pending[id]; !ok {
				return fmt.Sprintf("consumer %q of group %q owns %d-%d, which is not among the group's pending entries",
					c.Name, g.group, id.Ms, id.Seq)
			}
			if seen[id] {
				return fmt.Sprintf("consumer %q of group %q owns %d-%d twice", c.Name, g.group, id.Ms, id.Seq)
			}
			seen[id] = true
		}
	}
	return ""
}

// The budget of the duplicate check for one collection: past it the rest of the
// collection is not checked (CheckReport.DupsUnchecked counts such keys).
const dupMaxElements = 1 << 21

// dupCheck finds a member of a set or sorted set, or a field of a hash, that comes twice in
// one key. It keeps a 128-bit fingerprint of each element (two 64-bit hashes with random
// seeds), not the element: 16 bytes an element whatever its size, no allocation per
// element, and two different elements share a fingerprint with a probability of about
// n^2/2^129, 10^-26 for two million elements.
type dupCheck struct {
	encoding string
	seeds    [2]maphash.Seed
	seen     map[[2]uint64]struct{}
	active   bool
	over     bool
}

func (d *dupCheck) start(h *rdb.KeyHeader) {
	if d.seen == nil {
		d.seen = map[[2]uint64]struct{}{}
		d.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	}
	switch n := len(d.seen); {
	case n > 1024 || d.over:
		// Clearing costs what the map once held: a big collection's map is not kept for
		// the small ones after it.
		d.seen = map[[2]uint64]struct{}{}
	case n > 0:
		clear(d.seen)
	}
	d.encoding, d.over = h.Encoding, false
	d.active = h.Type == rdb.TypeSet || h.Type == rdb.TypeZSet || h.Type == rdb.TypeHash
}

// add returns what is wrong with the element, or "".
func (d *dupCheck) add(ev *rdb.Event) string {
	if !d.active || d.over {
		return ""
	}
	b, what := ev.Value, "member"
	if ev.Kind == rdb.KindHashField {
		b, what = ev.Field, "field"
	}
	fp := [2]uint64{maphash.Bytes(d.seeds[0], b), maphash.Bytes(d.seeds[1], b)}
	if _, dup := d.seen[fp]; dup {
		return fmt.Sprintf("%s %q comes twice", what, b)
	}
	if len(d.seen) >= dupMaxElements {
		d.over = true
		d.seen = map[[2]uint64]struct{}{}
		return ""
	}
	d.seen[fp] = struct{}{}
	return ""
}

// Write prints the report.
func (c *CheckReport) Write(out io.Writer) error {
	w := bufio.NewWriter(out)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-13s", label)
		fmt.Fprintf(w, format, args...)
		w.WriteByte('\n')
	}
	line("file", "%s (%d bytes)", c.Path, c.Size)
	if c.Version > 0 {
		family := ""
		if c.Valkey {
			family = " (Valkey)"
		}
		line("rdb version", "%d%s", c.Version, family)
	}
	for _, a := range c.Aux {
		line("aux", "%s = %s", displayText(a.Name, 200), displayText(a.Value, 200))
	}
	for _, d := range c.DBs {
		s := fmt.Sprintf("%s, %d with an expiry (%d already expired)",
			countNoun(d.Keys, "key", "keys"), d.Expires, d.AlreadyExpired)
		if d.HintKeys >= 0 && (d.HintKeys != d.Keys || d.HintExpires != d.Expires) && c.Err == nil {
			s += fmt.Sprintf("; its RESIZEDB hint said %d and %d", d.HintKeys, d.HintExpires)
		}
		line("db "+strconv.Itoa(d.DB), "%s", s)
	}
	if c.Functions > 0 {
		line("functions", "%s", countNoun(int64(c.Functions), "library", "libraries"))
	}
	for _, name := range sortedKeys(c.ModuleKeys) {
		line("module", "%s: %s skipped (the module is needed to decode them)", name,
			countNoun(c.ModuleKeys[name], "value", "values"))
	}
	for _, name := range c.ModuleAux {
		line("module aux", "%s: skipped", name)
	}
	if c.Err != nil {
		line("FAILED", "%v", c.Err)
		line("offset", "%d", c.ErrOffset)
		if c.ErrInKey {
			line("key", "%s", strconv.Quote(string(c.ErrKey)))
		}
		line("keys read", "%d before the problem", c.Keys())
		return w.Flush()
	}
	line("checksum", "%s", c.ChecksumStatus)
	if c.DupsUnchecked > 0 {
		line("note", "%s of more than %d elements checked for duplicate members in part",
			countNoun(c.DupsUnchecked, "collection", "collections"), dupMaxElements)
	}
	if c.Trailing > 0 {
		line("note", "%d bytes follow the end of the RDB (an AOF tail after a preamble?)", c.Trailing)
	}
	line("OK", "%s in %s, %d bytes read", countNoun(c.Keys(), "key", "keys"),
		countNoun(int64(len(c.DBs)), "database", "databases"), c.Read)
	return w.Flush()
}
