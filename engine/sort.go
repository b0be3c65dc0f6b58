package engine

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// SORT and SORT_RO, as Redis 7.0's sort.c does them.
//
// BY and GET patterns name keys that are not among the command's keys: the caller must hold
// the global latch when they are used (the server decides that before locking, see
// SortArgs.ReadsOtherKeys), so that no command changes those keys while SORT reads them.
//
// Elements are read whole into memory, as Redis does: a list by index, a set's members in
// subkey order, a sorted set's members in score order (the score index).

// SortArgs are SORT's parsed options.
type SortArgs struct {
	By     []byte // BY pattern; nil sorts by the elements themselves
	NoSort bool   // BY without '*': keep the native order (LIMIT still applies)
	Gets   [][]byte
	// Offset and Count are LIMIT's arguments; Count < 0 means to the end.
	Offset, Count int64
	Desc, Alpha   bool
	Store         []byte // STORE destination, nil without STORE
}

// ReadsOtherKeys says whether the options read keys named by patterns (BY with '*', GET with
// '*'): the command must then run under the global latch.
func (a *SortArgs) ReadsOtherKeys() bool {
	if a.By != nil && !a.NoSort {
		return true
	}
	for _, g := range a.Gets {
		if bytes.IndexByte(CBytes(g), '*') >= 0 {
			return true
		}
	}
	return false
}

// SortValue is one value of SORT's result; OK is false for a GET whose key (or hash field)
// does not exist, which SORT answers as null.
type SortValue struct {
	V  []byte
	OK bool
}

type sortItem struct {
	elem  []byte
	score float64
	cmp   []byte // BY value for ALPHA with BY; nil when the key is missing
}

// Sort runs SORT on key. Without Store it returns the values; with Store it replaces the
// destination with a list of them (deleting it when there are none) and returns their count.
// A score that does not parse is ErrSortScores; a key that is not a list, set or sorted set is
// ErrWrongType.
func (t *Txn) Sort(key []byte, a SortArgs) ([]SortValue, int64, error) {
	ks, err := t.lookup(key)
	if err != nil {
		return nil, 0, err
	}
	typ := encoding.TypeList // a missing key sorts as an empty list
	var n int64
	if ks.live {
		typ = ks.meta.Type
		if typ != encoding.TypeList && typ != encoding.TypeSet && typ != encoding.TypeZSet {
			return nil, 0, ErrWrongType
		}
		n = int64(ks.meta.Count)
	}
	by, noSort, alpha := a.By, a.NoSort, a.Alpha
	if noSort && typ == encoding.TypeSet && a.Store != nil {
		// A set has no order of its own: what is stored must not depend on the layout.
		noSort, alpha, by = false, true, nil
	}

	start := max(a.Offset, 0)
	end := n - 1
	if a.Count >= 0 {
		end = start + a.Count - 1
		if end < start-1 { // overflow
			end = n - 1
		}
	}
	if start >= n {
		start, end = n-1, n-2
	}
	end = min(end, n-1)

	var items []sortItem
	if ks.live {
		items, err = t.sortElements(key, &ks.meta, noSort, a.Desc, start, end)
		if err != nil {
			return nil, 0, err
		}
	}
	if noSort && typ != encoding.TypeSet {
		// The native order was read already cut to [start, end].
		end -= start
		start = 0
	}

	if !noSort {
		badScore := false
		for i := range items {
			it := &items[i]
			val := it.elem
			if by != nil {
				v, ok, err := t.sortLookup(by, it.elem)
				if err != nil {
					return nil, 0, err
				}
				if !ok {
					continue
				}
				val = v
			}
			if alpha {
				if by != nil {
					it.cmp = val
				}
			} else if f, ok := parseSortScore(val); ok {
				it.score = f
			} else {
				badScore = true
			}
		}
		if badScore {
			return nil, 0, ErrSortScores
		}
		sortItems(items, by != nil, alpha, a.Desc, a.Store != nil)
	}

	count := max(end-start+1, 0)
	gets := int64(max(len(a.Gets), 1))
	out := make([]SortValue, 0, count*gets)
	for i := start; i <= end && i < int64(len(items)); i++ {
		if len(a.Gets) == 0 {
			out = append(out, SortValue{V: items[i].elem, OK: true})
			continue
		}
		for _, g := range a.Gets {
			v, ok, err := t.sortLookup(g, items[i].elem)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, SortValue{V: v, OK: ok})
		}
	}
	if a.Store == nil {
		return out, int64(len(out)), nil
	}
	return nil, int64(len(out)), t.storeList(a.Store, out)
}

// storeList replaces key with a list of vals (missing values stored as empty strings), or
// deletes it when vals is empty, as SORT ... STORE does.
func (t *Txn) storeList(key []byte, vals []SortValue) error {
	ks, err := t.lookup(key)
	if err != nil {
		return err
	}
	if len(vals) == 0 {
		t.deleteKey(key, &ks)
		return nil
	}
	h := &listHandle{key: key, ks: ks, f: encoding.ListFields{Head: encoding.ListStart, Tail: encoding.ListStart}}
	for _, v := range vals {
		t.push(h, v.V, false)
	}
	t.saveList(h)
	return nil
}

// sortElements reads the elements to sort. With noSort a list or sorted set is read in its
// own order (reversed for desc) and only positions [start, end]; otherwise everything.
func (t *Txn) sortElements(key []byte, m *encoding.Meta, noSort, desc bool, start, end int64) ([]sortItem, error) {
	var items []sortItem
	add := func(b []byte) bool {
		items = append(items, sortItem{elem: t.keep(b)})
		return true
	}
	cut := noSort && m.Type != encoding.TypeSet
	if cut && end < start {
		return nil, nil
	}
	switch m.Type {
	case encoding.TypeList:
		h, err := t.openList(key)
		if err != nil {
			return nil, err
		}
		lo, hi := h.f.Head, h.f.Tail
		if cut {
			if desc {
				lo, hi = h.f.Tail-uint64(end)-1, h.f.Tail-uint64(start)
			} else {
				lo, hi = h.f.Head+uint64(start), h.f.Head+uint64(end)+1
			}
		}
		err = t.scanList(h, lo, hi, cut && desc, func(_ uint64, v []byte) bool { return add(v) })
		return items, err
	case encoding.TypeSet:
		err := t.SMembers(key, func(n int) { items = make([]sortItem, 0, n) }, func(b []byte) { add(b) })
		return items, err
	case encoding.TypeZSet:
		if !cut {
			return items, t.zsetMembers(key, false, -1, add)
		}
		return items, t.zsetMembers(key, desc, end+1, func(b []byte) bool {
			if start > 0 {
				start--
				return true
			}
			return add(b)
		})
	}
	return nil, ErrWrongType
}

// zsetMembers calls fn with the members of the sorted set at key in order (reversed with rev),
// at most limit of them (-1: all), until fn returns false.
func (t *Txn) zsetMembers(key []byte, rev bool, limit int64, fn func(member []byte) bool) error {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return err
	}
	defer z.close()
	var it *pebble.Iterator
	if rev {
		it, err = z.seekPos(nil, false)
	} else {
		it, err = z.seekPos(encoding.ScoreMin, true)
	}
	if err != nil {
		return err
	}
	return z.walk(it, !rev, func(pos []byte) (bool, error) {
		if limit == 0 || !fn(pos[8:]) {
			return false, nil
		}
		limit--
		return limit != 0, nil
	})
}

// sortItems sorts as Redis's sortCompare: by score, ties by the elements' bytes; or ALPHA by
// the BY values (missing ones first) or the elements. Without STORE, ALPHA compares as C's
// strcoll in the C locale (up to a NUL byte); with STORE, as binary strings. The sort is
// stable, as glibc's qsort is.
func sortItems(items []sortItem, byPattern, alpha, desc, store bool) {
	text := func(b []byte) []byte {
		if store {
			return b
		}
		return CBytes(b)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		var c int
		switch {
		case !alpha:
			switch {
			case a.score > b.score:
				c = 1
			case a.score < b.score:
				c = -1
			default:
				c = bytes.Compare(a.elem, b.elem)
			}
		case byPattern:
			switch {
			case a.cmp == nil && b.cmp == nil:
				c = 0
			case a.cmp == nil:
				c = -1
			case b.cmp == nil:
				c = 1
			default:
				c = bytes.Compare(text(a.cmp), text(b.cmp))
			}
		default:
			c = bytes.Compare(text(a.elem), text(b.elem))
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
}

// CBytes is b as C sees it: up to the first NUL byte.
func CBytes(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// sortLookup is Redis's lookupKeyByPattern: "#" is the element itself; otherwise the first
// '*' of pattern is replaced by the element, and "->field" after it reads a hash field. A
// missing key, a key of the wrong type, a missing field or a pattern without '*' is not found.
func (t *Txn) sortLookup(pattern, elem []byte) ([]byte, bool, error) {
	cpat := CBytes(pattern)
	if len(cpat) == 1 && cpat[0] == '#' {
		return elem, true, nil
	}
	star := bytes.IndexByte(cpat, '*')
	if star < 0 {
		return nil, false, nil
	}
	var field []byte
	if f := bytes.Index(cpat[star+1:], []byte("->")); f >= 0 {
		f += star + 1
		if f+2 < len(cpat) { // a non-empty field name
			field = pattern[f+2:]
		}
	}
	post := pattern[star+1:]
	if field != nil {
		post = pattern[star+1 : len(pattern)-len(field)-2]
	}
	key := make([]byte, 0, star+len(elem)+len(post))
	key = append(append(append(key, pattern[:star]...), elem...), post...)
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return nil, false, err
	}
	var v []byte
	var ok bool
	switch {
	case field != nil && ks.meta.Type == encoding.TypeHash:
		v, ok, err = t.HGet(key, field)
	case field == nil && ks.meta.Type == encoding.TypeString:
		v, err = t.stringValue(key, &ks.meta)
		ok = err == nil
	}
	if ok && v == nil {
		v = []byte{} // found, if empty: not to be mistaken for missing
	}
	return v, ok, err
}

// parseSortScore parses a value to sort by as Redis's SORT does with strtod: leading spaces
// are skipped, the whole rest must be a number (hex and inf included, nan not), the empty
// string is 0, and a value out of a double's normal range is refused (ERANGE).
func parseSortScore(b []byte) (float64, bool) {
	s := string(CBytes(b))
	if s == "" {
		return 0, true
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if s == "" || strings.ContainsRune(s, '_') {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	hex := len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')
	if hex && !strings.ContainsAny(body, "pP") {
		s += "p0"
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	if a := math.Abs(f); (a != 0 && a < 0x1p-1022) || (a == 0 && nonZeroMantissa(body, hex)) {
		return 0, false // underflow: strtod sets ERANGE
	}
	return f, true
}

// nonZeroMantissa says whether a number's digits before its exponent are not all zero.
func nonZeroMantissa(body string, hex bool) bool {
	if hex {
		body = body[2:]
	}
	for _, c := range body {
		switch {
		case c == '.':
		case c >= '1' && c <= '9', hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
			return true
		case c == '0':
		default:
			return false // the exponent (or "inf")
		}
	}
	return false
}
