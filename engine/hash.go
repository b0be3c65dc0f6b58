package engine

import (
	"math"
	"math/big"
	"strconv"

	"github.com/stratadb/strata/encoding"
)

// Hashes: one subkey per field holding its value (see members.go).

func (t *Txn) openHash(key []byte, c *coll) error { return t.openColl(key, encoding.TypeHash, c) }

// HSet sets the fields of pairs (field, value, field, value ...) and returns how many of them
// are new. A field given twice takes its last value and counts once.
func (t *Txn) HSet(key []byte, pairs [][]byte) (int64, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return 0, err
	}
	c.create(encoding.TypeHash)
	var added int64
	for i := 0; i+1 < len(pairs); i += 2 {
		exists, err := c.has(pairs[i])
		if err != nil {
			return 0, err
		}
		if !exists {
			added++
			c.m.Count++
		}
		c.put(pairs[i], pairs[i+1])
	}
	c.save()
	return added, nil
}

// HSetNX sets field only when it does not exist, and says whether it did.
func (t *Txn) HSetNX(key, field, value []byte) (bool, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return false, err
	}
	exists, err := c.has(field)
	if err != nil || exists {
		return false, err
	}
	c.create(encoding.TypeHash)
	c.put(field, value)
	c.m.Count++
	c.save()
	return true, nil
}

// HGet returns field's value; false when the key or the field does not exist.
func (t *Txn) HGet(key, field []byte) ([]byte, bool, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return nil, false, err
	}
	return c.get(field)
}

// HMGet calls fn with the value of each field in order (ok false for a missing one). A type
// error is returned before fn is called.
func (t *Txn) HMGet(key []byte, fields [][]byte, fn func(value []byte, ok bool)) error {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return err
	}
	for _, f := range fields {
		v, ok, err := c.get(f)
		if err != nil {
			return err
		}
		fn(v, ok)
	}
	return nil
}

// HDel removes fields and returns how many existed; the key goes with its last field.
func (t *Txn) HDel(key []byte, fields [][]byte) (int64, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return 0, err
	}
	return c.removeAll(fields)
}

// HLen is the number of fields (0 for a missing key).
func (t *Txn) HLen(key []byte) (int64, error) {
	var c coll
	err := t.openHash(key, &c)
	return int64(c.m.Count), err
}

// HExists says whether field exists.
func (t *Txn) HExists(key, field []byte) (bool, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return false, err
	}
	return c.has(field)
}

// HStrLen is the length of field's value (0 when missing).
func (t *Txn) HStrLen(key, field []byte) (int64, error) {
	v, _, err := t.HGet(key, field)
	return int64(len(v)), err
}

// HGetAll calls start with the number of fields, then fn with every field and value in field
// order. A type error is returned before start is called.
func (t *Txn) HGetAll(key []byte, start func(n int), fn func(field, value []byte)) error {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return err
	}
	start(int(c.m.Count))
	return c.eachCounted(fn)
}

// HIncrBy adds incr to the integer in field (0 when missing) and returns the result.
func (t *Txn) HIncrBy(key, field []byte, incr int64) (int64, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return 0, err
	}
	v, exists, err := c.get(field)
	if err != nil {
		return 0, err
	}
	var cur int64
	if exists {
		var ok bool
		if cur, ok = parseStrictInt(v); !ok {
			return 0, ErrHashNotInteger
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return 0, ErrOverflow
	}
	cur += incr
	c.create(encoding.TypeHash)
	var buf [20]byte
	c.put(field, strconv.AppendInt(buf[:0], cur, 10))
	if !exists {
		c.m.Count++
	}
	c.save()
	return cur, nil
}

// HIncrByFloat adds incr to the number in field (0 when missing) in long double arithmetic,
// stores the result as Redis writes it (see AppendLongDoubleHuman) and returns that text.
func (t *Txn) HIncrByFloat(key, field []byte, incr *big.Float) ([]byte, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return nil, err
	}
	v, exists, err := c.get(field)
	if err != nil {
		return nil, err
	}
	cur := new(big.Float)
	if exists {
		var ok bool
		if cur, ok = ParseLongDouble(v); !ok {
			return nil, ErrHashNotFloat
		}
	}
	sum, ok := AddLongDouble(cur, incr)
	if !ok {
		return nil, ErrNaNOrInfinity
	}
	out := t.keep(AppendLongDoubleHuman(nil, sum))
	c.create(encoding.TypeHash)
	c.put(field, out)
	if !exists {
		c.m.Count++
	}
	c.save()
	return out, nil
}

// HRandField returns one random field and its value; false when the key does not exist.
func (t *Txn) HRandField(key []byte) (field, value []byte, found bool, err error) {
	var c coll
	if err := t.openHash(key, &c); err != nil || !c.found {
		return nil, nil, false, err
	}
	p, err := c.randomOne()
	return p.member, p.value, err == nil, err
}

// HRandFieldCount is HRANDFIELD with a count: see RandomCount.
func (t *Txn) HRandFieldCount(key []byte, count int64, start func(n int), fn func(field, value []byte)) error {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return err
	}
	return c.randomCount(count, start, fn)
}

// randomCount answers HRANDFIELD and SRANDMEMBER with a count as Redis does: count >= 0 asks
// for that many distinct elements (the whole collection when it has no more), a negative
// count for -count elements that may repeat, in random order. start is called with the
// number of elements first.
func (c *coll) randomCount(count int64, start func(n int), fn func(member, value []byte)) error {
	switch {
	case !c.found || count == 0:
		start(0)
		return nil
	case count < 0:
		start(int(-count))
		return c.randomPicks(uint64(-count), false, fn)
	case count == 1:
		start(1)
		return c.randomPicks(1, false, fn)
	case uint64(count) >= c.m.Count:
		start(int(c.m.Count))
		return c.eachCounted(fn)
	}
	start(int(count))
	return c.randomPicks(uint64(count), true, fn)
}

// HScan continues an HSCAN (see coll.scan).
func (t *Txn) HScan(key []byte, cursor uint64, pattern []byte, count int, fn func(field, value []byte)) (uint64, error) {
	var c coll
	if err := t.openHash(key, &c); err != nil {
		return 0, err
	}
	return c.scan(cursor, pattern, count, fn)
}
