package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratadb/strata/engine"
)

// The scale subcommands measure what the issue asks to hold at sizes no CI test can afford:
//
//	go run ./benchmarks strings      1.5M SETs of 400 bytes with maxmemory 64mb: peak RSS, every key read back
//	go run ./benchmarks collection   a 10M-member hash, set or sorted set with maxmemory 64mb: ops/s and peak RSS
//	go run ./benchmarks gc           10M small keys in the hot tier: GC pauses and GC CPU (GODEBUG=gctrace=1)
//
// Each builds strata, starts it in a temporary directory and reads its peak resident set
// (VmHWM) from /proc.

type scaleOptions struct {
	maxmemory string
	boundMB   int64
	keep      bool
}

func (o *scaleOptions) register(fs *flag.FlagSet, maxmemory string, boundMB int64) {
	fs.StringVar(&o.maxmemory, "maxmemory", maxmemory, "strata's maxmemory (the hot tier's budget)")
	fs.Int64Var(&o.boundMB, "bound", boundMB, "the peak RSS (MB) the run must stay under")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
}

// scaleServer builds and starts strata for a scale run; stop it and remove the directory
// with the returned function.
func scaleServer(o *scaleOptions, env ...string) (*serverProc, func(), error) {
	work, err := os.MkdirTemp("", "strata-scale-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if o.keep {
			fmt.Println("work directory:", work)
		} else {
			os.RemoveAll(work)
		}
	}
	root, err := moduleRoot()
	if err == nil {
		var bin string
		if bin, err = buildStrata(root, work); err == nil {
			var port int
			if port, err = freePort(); err == nil {
				env = append(env, "STRATA_MAXMEMORY="+o.maxmemory)
				var s *serverProc
				if s, err = startStrata(filepath.Join(work, "server"), bin, port, "everysec", env, nil); err == nil {
					fmt.Printf("strata pid %d, maxmemory %s, load average %s\n", s.cmd.Process.Pid, o.maxmemory, loadAverage())
					return s, func() { s.stop(); cleanup() }, nil
				}
			}
		}
	}
	cleanup()
	return nil, nil, err
}

// procStatus reads a field of /proc/pid/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10 // kB
			}
		}
	}
	return 0
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

// memoryReport prints the server's peak RSS against the bound and the parts INFO knows.
func memoryReport(s *serverProc, boundMB int64) bool {
	pid := s.cmd.Process.Pid
	hwm, rss := procStatus(pid, "VmHWM"), procStatus(pid, "VmRSS")
	fmt.Printf("RSS now %s, peak (VmHWM) %s, bound %d MB\n", mb(rss), mb(hwm), boundMB)
	for _, f := range []string{"strata_hot_keys", "strata_hot_bytes", "strata_hot_capacity", "strata_go_heap",
		"strata_pebble_block_cache", "strata_pebble_memtables", "strata_pebble_table_cache", "strata_disk_bytes"} {
		if v, err := infoField(s.addr, "memory", f); err == nil && v != "" {
			fmt.Printf("  %-28s %s\n", f, v)
		}
	}
	ok := hwm <= boundMB<<20
	if ok {
		fmt.Println("peak RSS within the bound")
	} else {
		fmt.Println("PEAK RSS OVER THE BOUND")
	}
	return ok
}

// scaleStrings: 1.5M SETs of 400-byte values against a 64 MB tier (about ten times the
// budget), then every key read back and checked.
func scaleStrings(args []string) error {
	fs := flag.NewFlagSet("strings", flag.ExitOnError)
	var o scaleOptions
	o.register(fs, "64mb", 512)
	keys := fs.Int("keys", 1_500_000, "keys to SET")
	size := fs.Int("size", 400, "value size")
	fs.Parse(args)
	s, stop, err := scaleServer(&o)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	start := time.Now()
	const step = 250_000
	for lo := 0; lo < *keys; lo += step {
		hi := min(*keys, lo+step)
		err := pipelined(ctx, s.addr, 4, 256, hi-lo, func() func(i int) [][]byte {
			set := []byte("SET")
			var k, v []byte
			return func(i int) [][]byte {
				k, v = keyName(k[:0], uint64(lo+i)), valueOf(v[:0], uint64(lo+i), *size)
				return [][]byte{set, k, v}
			}
		})
		if err != nil {
			return err
		}
		fmt.Printf("%8d keys  %6.1fs  RSS %s\n", hi, time.Since(start).Seconds(), mb(procStatus(s.cmd.Process.Pid, "VmRSS")))
	}
	fmt.Printf("SET: %d keys of %d bytes in %s (%.0f/s)\n", *keys, *size, time.Since(start).Round(time.Millisecond),
		float64(*keys)/time.Since(start).Seconds())
	start = time.Now()
	bad := 0
	var mu sync.Mutex
	err = pipelinedReplies(ctx, s.addr, 4, 256, *keys, func() (func(i int) [][]byte, func(i int, kind byte, body []byte)) {
		get := []byte("GET")
		var k, want []byte
		return func(i int) [][]byte { k = keyName(k[:0], uint64(i)); return [][]byte{get, k} },
			func(i int, kind byte, body []byte) {
				want = valueOf(want[:0], uint64(i), *size)
				if kind != '$' || string(body) != string(want) {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
	})
	if err != nil {
		return err
	}
	fmt.Printf("GET: every key read back in %s: %d wrong\n", time.Since(start).Round(time.Millisecond), bad)
	ok := memoryReport(s, o.boundMB)
	if bad > 0 || !ok {
		return fmt.Errorf("%d wrong values; peak RSS within the bound: %v", bad, ok)
	}
	return nil
}

// pipelinedReplies is pipelined with a check of every reply: newCmd returns, per connection,
// the command builder and the reply checker.
func pipelinedReplies(ctx context.Context, addr string, conns, depth, n int,
	newCmd func() (func(i int) [][]byte, func(i int, kind byte, body []byte))) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, check := newCmd()
			rc, err := dialRESP(addr)
			if err != nil {
				errs[c] = err
				return
			}
			defer rc.close()
			lo, hi := c*n/conns, (c+1)*n/conns
			var buf []byte
			for i := lo; i < hi && ctx.Err() == nil; {
				end := min(hi, i+depth)
				for j := i; j < end; j++ {
					rc.send(cmd(j)...)
				}
				if errs[c] = rc.w.Flush(); errs[c] != nil {
					return
				}
				for ; i < end; i++ {
					kind, body, err := rc.reply(buf)
					if err != nil {
						errs[c] = err
						return
					}
					check(i, kind, body)
					buf = body[:0]
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// collectionKind says how to build and query one Redis type holding n members.
type collectionKind struct {
	add    func(key []byte, members [][]byte, i0 int) [][]byte // a command adding members (numbered from i0)
	point  func(key, member []byte) [][]byte                   // a point read
	write  func(key, member []byte, i int) [][]byte            // a point write
	ranges []func(key []byte, r *rand.Rand, n int) [][]byte    // bounded range reads
}

func collectionKinds() map[string]collectionKind {
	b := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i := range s {
			out[i] = []byte(s[i])
		}
		return out
	}
	score := func(i int) string { return strconv.Itoa(i * 3) }
	return map[string]collectionKind{
		"hash": {
			add: func(key []byte, members [][]byte, i0 int) [][]byte {
				cmd := [][]byte{[]byte("HSET"), key}
				for _, m := range members {
					cmd = append(cmd, m, []byte("value-"+string(m)))
				}
				return cmd
			},
			point: func(key, member []byte) [][]byte { return [][]byte{[]byte("HGET"), key, member} },
			write: func(key, member []byte, i int) [][]byte {
				return [][]byte{[]byte("HSET"), key, member, []byte("new-" + strconv.Itoa(i))}
			},
		},
		"set": {
			add: func(key []byte, members [][]byte, i0 int) [][]byte {
				return append([][]byte{[]byte("SADD"), key}, members...)
			},
			point: func(key, member []byte) [][]byte { return [][]byte{[]byte("SISMEMBER"), key, member} },
			write: func(key, member []byte, i int) [][]byte { return [][]byte{[]byte("SADD"), key, member} },
		},
		"zset": {
			add: func(key []byte, members [][]byte, i0 int) [][]byte {
				cmd := [][]byte{[]byte("ZADD"), key}
				for j, m := range members {
					cmd = append(cmd, []byte(score(i0+j)), m)
				}
				return cmd
			},
			point: func(key, member []byte) [][]byte { return [][]byte{[]byte("ZSCORE"), key, member} },
			write: func(key, member []byte, i int) [][]byte {
				return [][]byte{[]byte("ZADD"), key, []byte(strconv.Itoa(i)), member}
			},
			ranges: []func(key []byte, r *rand.Rand, n int) [][]byte{
				func(key []byte, r *rand.Rand, n int) [][]byte {
					at := r.IntN(n)
					return append(b("ZRANGE"), key, []byte(strconv.Itoa(at)), []byte(strconv.Itoa(at+9)))
				},
				func(key []byte, r *rand.Rand, n int) [][]byte {
					lo := r.IntN(3 * n)
					return append(b("ZRANGEBYSCORE"), append([][]byte{key}, b(strconv.Itoa(lo), strconv.Itoa(lo+30), "LIMIT", "0", "10")...)...)
				},
			},
		},
	}
}

// scaleCollection builds one collection of -members members against a 64 MB tier, then
// measures point reads, point writes and bounded range reads on it, with the peak RSS.
func scaleCollection(args []string) error {
	fs := flag.NewFlagSet("collection", flag.ExitOnError)
	var o scaleOptions
	o.register(fs, "64mb", 512)
	typ := fs.String("type", "zset", "hash | set | zset")
	members := fs.Int("members", 10_000_000, "members of the collection")
	seconds := fs.Int("seconds", 10, "length of each measured load")
	fs.Parse(args)
	kind, ok := collectionKinds()[*typ]
	if !ok {
		return fmt.Errorf("unknown type %q", *typ)
	}
	s, stop, err := scaleServer(&o)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	key := []byte("big:" + *typ)
	member := func(dst []byte, i int) []byte { return strconv.AppendInt(append(dst, "member:"...), int64(i), 10) }
	const perCmd = 100
	start := time.Now()
	const step = 1_000_000
	for lo := 0; lo < *members; lo += step {
		hi := min(*members, lo+step)
		err := pipelined(ctx, s.addr, 2, 16, (hi-lo+perCmd-1)/perCmd, func() func(i int) [][]byte {
			return func(i int) [][]byte {
				var ms [][]byte
				for j := lo + i*perCmd; j < min(hi, lo+(i+1)*perCmd); j++ {
					ms = append(ms, member(nil, j))
				}
				return kind.add(key, ms, lo+i*perCmd)
			}
		})
		if err != nil {
			return err
		}
		fmt.Printf("%9d members  %6.1fs  RSS %s\n", hi, time.Since(start).Seconds(), mb(procStatus(s.cmd.Process.Pid, "VmRSS")))
	}
	fmt.Printf("built %s of %d members in %s (%.0f members/s)\n", *typ, *members, time.Since(start).Round(time.Millisecond),
		float64(*members)/time.Since(start).Seconds())
	loads := []struct {
		name string
		cmd  func(r *rand.Rand, i int) [][]byte
	}{
		{"point read", func(r *rand.Rand, i int) [][]byte { return kind.point(key, member(nil, r.IntN(*members))) }},
		{"point write", func(r *rand.Rand, i int) [][]byte { return kind.write(key, member(nil, r.IntN(*members)), i) }},
	}
	for j, rf := range kind.ranges {
		loads = append(loads, struct {
			name string
			cmd  func(r *rand.Rand, i int) [][]byte
		}{fmt.Sprintf("range %d", j+1), func(r *rand.Rand, i int) [][]byte { return rf(key, r, *members) }})
	}
	for _, l := range loads {
		n, err := timedLoad(ctx, s.addr, 16, time.Duration(*seconds)*time.Second, l.cmd)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		fmt.Printf("%-12s %s: %.0f ops/s (16 connections, -P 1)\n", l.name, l.cmd(rand.New(rand.NewPCG(1, 1)), 0)[0],
			float64(n)/float64(*seconds))
	}
	if !memoryReport(s, o.boundMB) {
		return fmt.Errorf("peak RSS over the bound")
	}
	return nil
}

// timedLoad runs cmd (one at a time per connection) on conns connections for d and returns
// how many commands completed.
func timedLoad(ctx context.Context, addr string, conns int, d time.Duration, cmd func(r *rand.Rand, i int) [][]byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	counts := make([]int, conns)
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := dialRESP(addr)
			if err != nil {
				errs[c] = err
				return
			}
			defer rc.close()
			r := rand.New(rand.NewPCG(uint64(c), 3))
			var buf []byte
			for i := 0; ctx.Err() == nil; i++ {
				kind, body, err := rc.do(buf, cmd(r, i)...)
				if err != nil {
					errs[c] = err
					return
				}
				if kind == '-' {
					errs[c] = fmt.Errorf("%s", body)
					return
				}
				buf = body[:0]
				counts[c]++
			}
		}()
	}
	wg.Wait()
	total := 0
	for c := range conns {
		if errs[c] != nil {
			return 0, errs[c]
		}
		total += counts[c]
	}
	return total, nil
}

// gctraceLine matches Go's GODEBUG=gctrace=1 lines:
// gc 12 @3.456s 2%: 0.021+1.2+0.015 ms clock, 0.04+0.5/1.1/0+0.03 ms cpu, 40->41->20 MB, 42 MB goal, ...
var gctraceLine = regexp.MustCompile(`^gc (\d+) @([\d.]+)s (\d+)%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, .* (\d+)->(\d+)->(\d+) MB`)

// scaleGC loads -keys small keys into a hot tier big enough to hold them all, then runs GETs,
// and reports what the collector cost from strata's gctrace: the stop-the-world pauses (sweep
// termination + mark termination) and the share of CPU the GC took, with the live heap.
func scaleGC(args []string) error {
	fs := flag.NewFlagSet("gc", flag.ExitOnError)
	var o scaleOptions
	o.register(fs, "3gb", 4096)
	keys := fs.Int("keys", 10_000_000, "small keys to cache")
	seconds := fs.Int("seconds", 20, "length of the GET load")
	fs.Parse(args)
	s, stop, err := scaleServer(&o, "GODEBUG=gctrace=1")
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	start := time.Now()
	err = pipelined(ctx, s.addr, 4, 256, *keys, func() func(i int) [][]byte {
		set := []byte("SET")
		var k, v []byte
		return func(i int) [][]byte {
			k, v = keyName(k[:0], uint64(i)), strconv.AppendInt(v[:0], int64(i), 10)
			return [][]byte{set, k, v}
		}
	})
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	fmt.Printf("SET: %d small keys in %s\n", *keys, loaded.Round(time.Millisecond))
	hot, _ := infoField(s.addr, "memory", "strata_hot_keys")
	fmt.Printf("hot tier keys: %s\n", hot)
	n, err := timedLoad(ctx, s.addr, 16, time.Duration(*seconds)*time.Second, func(r *rand.Rand, i int) [][]byte {
		return [][]byte{[]byte("GET"), keyName(nil, r.Uint64N(uint64(*keys)))}
	})
	if err != nil {
		return err
	}
	fmt.Printf("GET: %.0f ops/s for %ds (16 connections)\n", float64(n)/float64(*seconds), *seconds)
	memoryReport(s, o.boundMB)
	return summarizeGCTrace(filepath.Join(s.dir, "strata.log"), loaded.Seconds())
}

// summarizeGCTrace reads gctrace lines from strata's log and prints, for the load phase and
// for the rest, the collections, the longest and mean stop-the-world pause, and the GC's
// share of CPU (gctrace's cumulative percentage at the phase's last collection).
func summarizeGCTrace(path string, loadSeconds float64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	type phase struct {
		name       string
		n          int
		maxPause   float64
		sumPause   float64
		cpuPercent int
		liveMB     int
	}
	phases := []*phase{{name: "loading"}, {name: "serving"}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := gctraceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[2], 64)
		p := phases[0]
		if at > loadSeconds {
			p = phases[1]
		}
		stw1, _ := strconv.ParseFloat(m[4], 64)
		stw2, _ := strconv.ParseFloat(m[6], 64)
		p.n++
		p.maxPause = max(p.maxPause, stw1+stw2)
		p.sumPause += stw1 + stw2
		p.cpuPercent, _ = strconv.Atoi(m[3])
		p.liveMB, _ = strconv.Atoi(m[9])
	}
	for _, p := range phases {
		if p.n == 0 {
			fmt.Printf("%s: no collection\n", p.name)
			continue
		}
		fmt.Printf("%s: %d collections, stop-the-world pause max %.3f ms, mean %.3f ms; GC CPU %d%% of the process so far; live heap %d MB\n",
			p.name, p.n, p.maxPause, p.sumPause/float64(p.n), p.cpuPercent, p.liveMB)
	}
	return sc.Err()
}

// waitCompactions waits until Pebble has had no flush or compaction running for a few polls
// in a row (a benchmark may poll), at most a minute.
func waitCompactions(e *engine.Engine) {
	quiet := 0
	for deadline := time.Now().Add(time.Minute); quiet < 5 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m := e.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprint("getrusage: ", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
