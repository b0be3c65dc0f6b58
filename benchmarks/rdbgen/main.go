// Command rdbgen writes a large RDB file for benchmarking `strata inspect` and `strata
// check` against redis-check-rdb: a mix of small keys of every type under a few dozen key
// prefixes (what a cache or a session store holds), plus one huge key, up to a target
// size. It uses the rdb package's Writer, so the file is what Redis 7.0 would write
// (RDB 10, LZF compression, CRC64), and redis-server loads it.
//
//	go run ./benchmarks/rdbgen -o /tmp/big.rdb -size 3g -big 1g -big-type hash
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/tools"
)

func main() {
	out := flag.String("o", "big.rdb", "output file")
	sizeArg := flag.String("size", "3g", "approximate file size (k, kb, m, mb, g, gb suffixes)")
	bigArg := flag.String("big", "1g", "approximate bytes of the one huge key (0 for none)")
	bigType := flag.String("big-type", "hash", "type of the huge key: hash, list, set, zset or string")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	size, err := tools.ParseByteSize(*sizeArg)
	if err != nil {
		fail(err)
	}
	big, err := tools.ParseByteSize(*bigArg)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	n, keys, err := generate(*out, size, big, *bigType, *seed)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes, %d keys in %s\n", *out, n, keys, time.Since(start).Round(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rdbgen:", err)
	os.Exit(1)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// gen produces values: windows of a random text (which LZF barely shrinks) and, one value
// in four, repetitive text (which it does), as real data mixes both.
type gen struct {
	rng  *rand.Rand
	text []byte
	w    *rdb.Writer
	db   int
	keys int64
}

func (g *gen) value(n int) []byte {
	if n <= 0 {
		return nil
	}
	if g.rng.IntN(4) == 0 {
		return []byte(strings.Repeat("abcdefgh", n/8+1)[:n])
	}
	off := g.rng.IntN(len(g.text) - n)
	return g.text[off : off+n]
}

func (g *gen) write(ev rdb.Event) error { return g.w.Write(&ev) }

func (g *gen) key(name string, typ rdb.ValueType, n int64, expireAt int64, elems func() error) error {
	g.keys++
	if err := g.write(rdb.Event{Kind: rdb.KindKey, DB: g.db, Key: []byte(name),
		Header: rdb.KeyHeader{Type: typ, Len: n, ExpireAt: expireAt, Idle: -1, Freq: -1}}); err != nil {
		return err
	}
	if err := elems(); err != nil {
		return err
	}
	return g.write(rdb.Event{Kind: rdb.KindEndKey, DB: g.db, Key: []byte(name)})
}

func (g *gen) smallKey(i int64) error {
	r := g.rng
	switch r.IntN(10) {
	case 0, 1, 2: // session strings with a TTL
		return g.key(fmt.Sprintf("session:%016x", r.Uint64()), rdb.TypeString, -1, 1900000000000+int64(r.IntN(1e9)), func() error {
			return g.write(rdb.Event{Kind: rdb.KindString, Value: g.value(20 + r.IntN(200))})
		})
	case 3, 4: // cached pages
		return g.key(fmt.Sprintf("cache:page:%d", i), rdb.TypeString, -1, 0, func() error {
			return g.write(rdb.Event{Kind: rdb.KindString, Value: g.value(200 + r.IntN(4000))})
		})
	case 5, 6: // user hashes
		n := 4 + r.IntN(20)
		return g.key(fmt.Sprintf("user:%d", i), rdb.TypeHash, int64(n), 0, func() error {
			for j := 0; j < n; j++ {
				if err := g.write(rdb.Event{Kind: rdb.KindHashField, Field: []byte("field" + strconv.Itoa(j)), Value: g.value(1 + r.IntN(60))}); err != nil {
					return err
				}
			}
			return nil
		})
	case 7: // feeds
		n := 5 + r.IntN(300)
		return g.key(fmt.Sprintf("feed:%d", i), rdb.TypeList, int64(n), 0, func() error {
			for j := 0; j < n; j++ {
				if err := g.write(rdb.Event{Kind: rdb.KindListItem, Value: g.value(10 + r.IntN(50))}); err != nil {
					return err
				}
			}
			return nil
		})
	case 8: // tags and follower ids
		n := 3 + r.IntN(700)
		return g.key(fmt.Sprintf("tags:%d", i), rdb.TypeSet, int64(n), 0, func() error {
			base := r.IntN(1 << 30)
			for j := 0; j < n; j++ { // members are unique: Redis refuses a set with duplicates
				v := []byte(strconv.Itoa(base + j))
				if j%5 == 0 {
					v = append(append(g.value(8), ':'), v...)
				}
				if err := g.write(rdb.Event{Kind: rdb.KindSetMember, Value: v}); err != nil {
					return err
				}
			}
			return nil
		})
	default: // leaderboards
		n := 5 + r.IntN(400)
		return g.key(fmt.Sprintf("rank:%d", i), rdb.TypeZSet, int64(n), 0, func() error {
			for j := 0; j < n; j++ {
				m := append(append(g.value(6+r.IntN(20)), ':'), strconv.Itoa(j)...) // ':' is not in the text
				if err := g.write(rdb.Event{Kind: rdb.KindZSetMember, Value: m, Score: float64(r.IntN(1e6)) / 10}); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// bigKey writes the one huge key, about size bytes of element data.
func (g *gen) bigKey(size int64, typ string) error {
	r := g.rng
	const elem = 100
	n := size / elem
	switch typ {
	case "hash":
		return g.key("big:hash", rdb.TypeHash, n, 0, func() error {
			var f []byte
			for j := int64(0); j < n; j++ {
				f = strconv.AppendInt(append(f[:0], "field:"...), j, 10)
				if err := g.write(rdb.Event{Kind: rdb.KindHashField, Field: f, Value: g.value(elem - len(f))}); err != nil {
					return err
				}
			}
			return nil
		})
	case "list", "set":
		t, kind := rdb.TypeList, rdb.KindListItem
		if typ == "set" {
			t, kind = rdb.TypeSet, rdb.KindSetMember
		}
		return g.key("big:"+typ, t, n, 0, func() error {
			var v []byte
			for j := int64(0); j < n; j++ {
				v = strconv.AppendInt(append(append(v[:0], g.value(elem-12)...), ':'), j, 10)
				if err := g.write(rdb.Event{Kind: kind, Value: v}); err != nil {
					return err
				}
			}
			return nil
		})
	case "zset":
		return g.key("big:zset", rdb.TypeZSet, n, 0, func() error {
			var v []byte
			for j := int64(0); j < n; j++ {
				v = strconv.AppendInt(append(append(v[:0], g.value(elem-20)...), ':'), j, 10)
				if err := g.write(rdb.Event{Kind: rdb.KindZSetMember, Value: v, Score: r.Float64()}); err != nil {
					return err
				}
			}
			return nil
		})
	case "string":
		if size > 512<<20 {
			return fmt.Errorf("a string holds at most 512 MB")
		}
		v := make([]byte, size)
		for i := range v {
			v[i] = g.text[i%len(g.text)]
		}
		return g.key("big:string", rdb.TypeString, -1, 0, func() error {
			return g.write(rdb.Event{Kind: rdb.KindString, Value: v})
		})
	}
	return fmt.Errorf("unknown type %q", typ)
}

func generate(path string, size, big int64, bigType string, seed uint64) (int64, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cw := &countingWriter{w: bufio.NewWriterSize(f, 1<<20)}
	w, err := rdb.NewWriter(cw, &rdb.WriterOptions{RedisVer: "7.0.15", TempDir: os.TempDir()})
	if err != nil {
		return 0, 0, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	text := make([]byte, 4<<20)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-_"
	for i := range text {
		text[i] = alphabet[rng.IntN(len(alphabet))]
	}
	g := &gen{rng: rng, text: text, w: w}
	half := (size - big) / 2
	var i int64
	for cw.n < half {
		if err := g.smallKey(i); err != nil {
			return 0, 0, err
		}
		i++
	}
	if big > 0 {
		g.db = 0
		if err := g.bigKey(big, bigType); err != nil {
			return 0, 0, err
		}
	}
	g.db = 1
	for cw.n < size {
		if err := g.smallKey(i); err != nil {
			return 0, 0, err
		}
		i++
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	if err := cw.w.Flush(); err != nil {
		return 0, 0, err
	}
	return cw.n, g.keys, f.Close()
}
