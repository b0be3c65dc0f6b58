package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// BenchmarkStreams measures stream commands on Strata and redis-server side by side, one
// connection each, pipelined: ops/s of both and Strata's time relative to Redis's.
//
//	go test ./benchmarks -run '^$' -bench Streams -benchtime 50000x
func BenchmarkStreams(b *testing.B) {
	redis := servertest.StartRedis(b)
	strata := servertest.StartStrata(b, nil)
	value := strings.Repeat("v", 100)
	for _, c := range []struct {
		name  string
		setup int // entries added to bench:filled first
		cmd   func(i int) []string
	}{
		{"XADD", 0, func(int) []string { return []string{"XADD", "bench:xadd", "*", "field", value} }},
		{"XADD-MAXLEN~1000", 0, func(int) []string {
			return []string{"XADD", "bench:capped", "MAXLEN", "~", "1000", "*", "field", value}
		}},
		{"XRANGE-COUNT-10", 100_000, func(i int) []string {
			return []string{"XRANGE", "bench:filled", strconv.Itoa(1 + i*7%99_000), "+", "COUNT", "10"}
		}},
		{"XREADGROUP-COUNT-10+XACK", 100_000, nil}, // below: read 10, acknowledge them
		{"XLEN", 100_000, func(int) []string { return []string{"XLEN", "bench:filled"} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc, sc := dialResp(b, redis.Dial(b)), dialResp(b, strata.Dial(b))
			if c.setup > 0 {
				for _, conn := range []*skipConn{rc, sc} {
					runResp(b, conn, 1, func(int) []string { return []string{"DEL", "bench:filled"} })
					fillStream(b, conn, "bench:filled", c.setup, value)
				}
			}
			cmd := c.cmd
			if cmd == nil {
				// XREADGROUP of 10 entries then XACK of the 10 IDs it had: one op is the pair.
				for _, conn := range []*skipConn{rc, sc} {
					runResp(b, conn, 1, func(int) []string { return []string{"XGROUP", "CREATE", "bench:filled", "g", "0"} })
				}
				cmd = func(i int) []string {
					if i%2 == 0 {
						return []string{"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "bench:filled", ">"}
					}
					args := []string{"XACK", "bench:filled", "g"}
					base := (i/2)*10 + 1
					for j := 0; j < 10; j++ {
						args = append(args, strconv.Itoa(base+j)+"-0")
					}
					return args
				}
			}
			b.ResetTimer()
			tr := runResp(b, rc, b.N, cmd)
			ts := runResp(b, sc, b.N, cmd)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(b.N)/ts.Seconds(), "strata-ops/s")
			b.ReportMetric(float64(b.N)/tr.Seconds(), "redis-ops/s")
			b.ReportMetric(ts.Seconds()/tr.Seconds(), "strata/redis")
		})
	}
}

// skipConn is a pipelining client that reads replies with a buffered reader and skips their
// contents, so that multi-bulk replies (XRANGE, XREADGROUP) cost the client little.
type skipConn struct {
	nc  net.Conn
	rd  *bufio.Reader
	out []byte
}

func dialResp(b *testing.B, c *servertest.Conn) *skipConn {
	return &skipConn{nc: c.Net(), rd: bufio.NewReaderSize(c.Net(), 1<<16)}
}

// skip reads one reply and returns its first line (for checks).
func (c *skipConn) skip(b testing.TB) string {
	line, err := c.rd.ReadSlice('\n')
	if err != nil || len(line) < 3 {
		b.Fatalf("read reply: %v", err)
	}
	first := string(line)
	n, _ := strconv.Atoi(string(line[1 : len(line)-2]))
	switch line[0] {
	case '$':
		if n >= 0 {
			if _, err := c.rd.Discard(n + 2); err != nil {
				b.Fatal(err)
			}
		}
	case '*', '%', '~':
		if line[0] == '%' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			c.skip(b)
		}
	case '-':
		b.Fatalf("error reply: %s", line)
	}
	return first
}

// runResp sends n commands made by cmd, pipeline at a time, and returns the time taken.
func runResp(b testing.TB, c *skipConn, n int, cmd func(i int) []string) time.Duration {
	start := time.Now()
	for i := 0; i < n; i += pipeline {
		k := min(pipeline, n-i)
		c.out = c.out[:0]
		for j := 0; j < k; j++ {
			c.out = append(c.out, servertest.EncodeCommand(cmd(i+j)...)...)
		}
		if _, err := c.nc.Write(c.out); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < k; j++ {
			c.skip(b)
		}
	}
	return time.Since(start)
}

// fillStream adds entries 1-0 .. n-0 to key, 100 per pipelined round.
func fillStream(b testing.TB, c *skipConn, key string, n int, value string) {
	runResp(b, c, n, func(i int) []string { return []string{"XADD", key, strconv.Itoa(i+1) + "-0", "field", value} })
}

// BenchmarkStreamScale is the scale check: a stream of STRATA_STREAM_ENTRIES entries (default
// one million; the bar is 10 million) on Strata with maxmemory 64mb, next to redis-server. It
// reports XADD and XREADGROUP(+XACK) throughput of both, Strata's process memory and disk use,
// and Redis's memory. Run once:
//
//	STRATA_STREAM_ENTRIES=10000000 go test ./benchmarks -run '^$' -bench StreamScale -benchtime 1x -timeout 2h
func BenchmarkStreamScale(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("STRATA_STREAM_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("STRATA_STREAM_ENTRIES=%q", s)
		}
		n = v
	}
	redis := servertest.StartRedis(b)
	strata := servertest.StartStrata(b, func(c *conf.Config) { c.MaxMemory = 64 << 20 })
	value := strings.Repeat("v", 64)
	for i := 0; i < b.N; i++ {
		for _, side := range []struct {
			name string
			c    *servertest.Conn
		}{{"redis", redis.Dial(b)}, {"strata", strata.Dial(b)}} {
			c := dialResp(b, side.c)
			key := "scale:" + strconv.Itoa(i)
			add := runResp(b, c, n, func(j int) []string {
				return []string{"XADD", key, strconv.Itoa(j+1) + "-0", "sensor", strconv.Itoa(j % 1000), "reading", value}
			})
			runResp(b, c, 1, func(int) []string { return []string{"XGROUP", "CREATE", key, "g", "0"} })
			// Consume everything in batches of 100, acknowledging each batch.
			rounds := (n + 99) / 100
			read := runResp(b, c, 2*rounds, func(j int) []string {
				if j%2 == 0 {
					return []string{"XREADGROUP", "GROUP", "g", "worker", "COUNT", "100", "STREAMS", key, ">"}
				}
				args := []string{"XACK", key, "g"}
				for k := (j/2)*100 + 1; k <= min((j/2)*100+100, n); k++ {
					args = append(args, strconv.Itoa(k)+"-0")
				}
				return args
			})
			if got := side.c.Do("XPENDING", key, "g"); !strings.HasPrefix(got, "*4\r\n:0\r\n") {
				b.Fatalf("%s: entries left pending: %q", side.name, got)
			}
			b.ReportMetric(float64(n)/add.Seconds(), side.name+"-xadd/s")
			b.ReportMetric(float64(n)/read.Seconds(), side.name+"-read+ack-entries/s")
			if side.name == "redis" {
				b.ReportMetric(float64(connInfoInt(side.c, "memory", "used_memory"))/(1<<20), "redis-used-MiB")
			} else {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "strata-heap-MiB")
				b.ReportMetric(float64(rssBytes())/(1<<20), "process-rss-MiB")
				b.ReportMetric(float64(dirBytes(strata.Dir))/(1<<20), "strata-disk-MiB")
			}
			side.c.Do("DEL", key)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// connInfoInt reads one numeric field of an INFO section.
func connInfoInt(c *servertest.Conn, section, field string) int64 {
	for _, line := range strings.Split(c.Do("INFO", section), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// rssBytes is this process's resident set (Strata runs in it; the client is small).
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func dirBytes(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}
