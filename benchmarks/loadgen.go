package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The own load generator: GETs over a preloaded keyspace with a Zipfian or uniform key
// distribution, which redis-benchmark cannot draw (its -r is uniform and its keys need not
// exist). Keys are redis-benchmark's ("key:" and 12 digits), so a preload serves both.

// keyName appends the i-th key of the keyspace.
func keyName(dst []byte, i uint64) []byte {
	dst = append(dst, "key:"...)
	var digits [20]byte
	s := strconv.AppendUint(digits[:0], i, 10)
	for range 12 - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// valueOf appends the value stored under key i: size printable bytes drawn from i, so that a
// reader can check what it got and the bytes compress about as well as text does (not as
// well as redis-benchmark's run of 'x').
func valueOf(dst []byte, i uint64, size int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-:{}\"="
	x := i*0x9e3779b97f4a7c15 + 1
	for range size {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		dst = append(dst, alphabet[x%uint64(len(alphabet))])
	}
	return dst
}

// keyDist draws key indexes in [0, n).
type keyDist interface {
	next(r *rand.Rand) uint64
}

type uniformDist struct{ n uint64 }

func (u uniformDist) next(r *rand.Rand) uint64 { return r.Uint64N(u.n) }

// zipfDist is YCSB's scrambled Zipfian generator (Gray et al., "Quickly generating
// billion-record synthetic databases"), theta 0.99 by default as in YCSB: item ranks follow
// Zipf's law and each rank is hashed to a key, so the hot keys are spread over the keyspace
// instead of being its first ones.
type zipfDist struct {
	n                        uint64
	theta, alpha, zetan, eta float64
	twoTerm                  float64 // 1 + 0.5^theta
}

func newZipf(n uint64, theta float64) *zipfDist {
	var zetan float64
	for i := uint64(1); i <= n; i++ {
		zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	return &zipfDist{
		n: n, theta: theta, alpha: 1 / (1 - theta), zetan: zetan,
		eta:     (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/zetan),
		twoTerm: 1 + math.Pow(0.5, theta),
	}
}

func (z *zipfDist) rank(u float64) uint64 {
	uz := u * z.zetan
	switch {
	case uz < 1:
		return 0
	case uz < z.twoTerm:
		return 1
	}
	return min(uint64(float64(z.n)*math.Pow(z.eta*u-z.eta+1, z.alpha)), z.n-1)
}

func (z *zipfDist) next(r *rand.Rand) uint64 { return fnv64(z.rank(r.Float64())) % z.n }

// fnv64 is FNV-1a over the 8 bytes of x (YCSB's scrambling hash).
func fnv64(x uint64) uint64 {
	h := uint64(0xcbf29ce484222325)
	for range 8 {
		h ^= x & 0xff
		h *= 0x100000001b3
		x >>= 8
	}
	return h
}

// respConn is a minimal RESP client: enough to send commands and read replies.
type respConn struct {
	c net.Conn
	w *bufio.Writer
	r *bufio.Reader
}

func dialRESP(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, w: bufio.NewWriterSize(c, 64<<10), r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (rc *respConn) close() error { return rc.c.Close() }

// send buffers one command.
func (rc *respConn) send(args ...[]byte) {
	rc.w.WriteByte('*')
	rc.w.WriteString(strconv.Itoa(len(args)))
	rc.w.WriteString("\r\n")
	for _, a := range args {
		rc.w.WriteByte('$')
		rc.w.WriteString(strconv.Itoa(len(a)))
		rc.w.WriteString("\r\n")
		rc.w.Write(a)
		rc.w.WriteString("\r\n")
	}
}

// reply reads one reply: its type byte and, for a bulk string or simple/error line, its
// bytes (valid until the next read; nil for a null bulk). Arrays are read and discarded.
func (rc *respConn) reply(buf []byte) (byte, []byte, error) {
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 3 {
		return 0, nil, fmt.Errorf("bad reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-', ':':
		return kind, append(buf[:0], body...), nil
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < 0 {
			return kind, nil, err
		}
		buf = slices.Grow(buf[:0], n+2)[:n+2]
		if _, err := ioReadFull(rc.r, buf); err != nil {
			return kind, nil, err
		}
		return kind, buf[:n], nil
	case '*':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return kind, nil, err
		}
		for range max(n, 0) {
			if _, _, err := rc.reply(buf); err != nil {
				return kind, nil, err
			}
		}
		return kind, nil, nil
	}
	return kind, nil, fmt.Errorf("unknown reply type %q", kind)
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// do sends one command and reads its reply.
func (rc *respConn) do(buf []byte, args ...[]byte) (byte, []byte, error) {
	rc.send(args...)
	if err := rc.w.Flush(); err != nil {
		return 0, nil, err
	}
	return rc.reply(buf)
}

// info returns one field of INFO (empty when absent).
func infoField(addr, section, field string) (string, error) {
	rc, err := dialRESP(addr)
	if err != nil {
		return "", err
	}
	defer rc.close()
	_, body, err := rc.do(nil, []byte("INFO"), []byte(section))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return v, nil
		}
	}
	return "", nil
}

// preload writes keys [0, n) with values of size bytes, pipelined over a few connections.
func preload(ctx context.Context, addr string, n, size int) error {
	return pipelined(ctx, addr, 4, 256, n, func() func(i int) [][]byte {
		set := []byte("SET")
		var k, v []byte
		return func(i int) [][]byte {
			k, v = keyName(k[:0], uint64(i)), valueOf(v[:0], uint64(i), size)
			return [][]byte{set, k, v}
		}
	})
}

// pipelined sends commands 0..n-1 over conns connections (each takes a contiguous share),
// depth at a time, and fails at the first error reply. newCmd makes, once per connection, the
// function that builds command i (it may reuse its buffers from one call to the next).
func pipelined(ctx context.Context, addr string, conns, depth, n int, newCmd func() func(i int) [][]byte) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[c] = pipelineRange(ctx, addr, c*n/conns, (c+1)*n/conns, depth, newCmd())
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func pipelineRange(ctx context.Context, addr string, lo, hi, depth int, cmd func(i int) [][]byte) error {
	rc, err := dialRESP(addr)
	if err != nil {
		return err
	}
	defer rc.close()
	var buf []byte
	for i := lo; i < hi; {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		end := min(hi, i+depth)
		for j := i; j < end; j++ {
			rc.send(cmd(j)...)
		}
		if err := rc.w.Flush(); err != nil {
			return err
		}
		for ; i < end; i++ {
			kind, body, err := rc.reply(buf)
			if err != nil {
				return err
			}
			if kind == '-' {
				return fmt.Errorf("%s: %s", cmd(i)[0], body)
			}
			buf = body[:0]
		}
	}
	return nil
}

// keyGetLoad is the own load generator's GET workload: clients connections, each sending one
// GET at a time (-P 1) for keys drawn from dist over a preloaded keyspace, checking every
// value. It reports ops/s and the p50/p99 of the round trips it measured.
type keyGetLoad struct {
	dist     string // "zipf" | "uniform"
	clients  int
	requests int // multiplied by -scale
	keys     int // the preloaded keyspace
	size     int // its value size
}

func (l keyGetLoad) run(ctx context.Context, o *compareOptions, addr string) ([]result, error) {
	total := max(1000, int(float64(l.requests)*o.scale))
	var dist keyDist = uniformDist{uint64(l.keys)}
	if l.dist == "zipf" {
		dist = newZipf(uint64(l.keys), 0.99)
	}
	lat := make([][]time.Duration, l.clients)
	errs := make([]error, l.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[c], errs[c] = l.client(ctx, addr, dist, uint64(c), total/l.clients)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / 1e6 }
	return []result{{test: "GET " + l.dist, opsPerSec: float64(len(all)) / elapsed.Seconds(),
		p50: ms(0.5), p99: ms(0.99)}}, nil
}

func (l keyGetLoad) client(ctx context.Context, addr string, dist keyDist, seed uint64, n int) ([]time.Duration, error) {
	rc, err := dialRESP(addr)
	if err != nil {
		return nil, err
	}
	defer rc.close()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	get := []byte("GET")
	lat := make([]time.Duration, 0, n)
	var k, want, buf []byte
	for range n {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		i := dist.next(r)
		k = keyName(k[:0], i)
		t0 := time.Now()
		kind, body, err := rc.do(buf, get, k)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return nil, err
		}
		buf = body[:0]
		want = valueOf(want[:0], i, l.size)
		if kind != '$' || string(body) != string(want) {
			return nil, fmt.Errorf("GET %s: got %c %.40q, want the preloaded value", k, kind, body)
		}
	}
	return lat, nil
}
