package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// serverConfig is how both servers are started for a workload, and what is loaded into them
// before it runs. Workloads that share a config share a pair of servers.
type serverConfig struct {
	appendfsync string // always | everysec | no (Redis also gets appendonly yes)
	// maxmemory is Strata's hot tier budget ("" for the default share of RAM). Redis always
	// runs without a limit: it holds the whole data set in memory.
	maxmemory string
	// preloadKeys keys "key:%012d" (redis-benchmark's -r names) of preloadSize bytes are
	// written into both servers before the first workload, so GETs find what they ask for.
	preloadKeys, preloadSize int
}

// workload is one entry of the comparison: a load, run against both servers with one config.
type workload struct {
	name   string
	config serverConfig
	load   loadGenerator
}

// loadGenerator drives a server: redis-benchmark, the own key generator (keyGetLoad), or two
// loads at once (concurrentLoad).
type loadGenerator interface {
	// run drives the server at addr once and returns one result per measured command.
	run(ctx context.Context, o *compareOptions, addr string) ([]result, error)
}

// result is one measured command of one run.
type result struct {
	test      string  // the command, as redis-benchmark names it ("SET", "GET", "LPUSH" ...)
	opsPerSec float64 // requests per second
	p50, p99  float64 // latency in milliseconds
}

// bench is redis-benchmark's -c 50 -r 1000000 -d 100 with the given tests, pipeline and
// request count.
func bench(tests string, pipeline, requests int) redisBenchmark {
	return redisBenchmark{tests: tests, clients: 50, pipeline: pipeline, requests: requests, keyspace: 1_000_000, dataSize: 100}
}

// workloads is the table of comparisons; targets (below) are the ratios the issue asks for.
// dataScale multiplies the preloaded keyspaces (-data-scale, for a quick look).
func workloads(dataScale float64) []workload {
	keys := func(n int) int { return max(1000, int(float64(n)*dataScale)) }
	// inRAM: the data set (1M keys of 100 bytes, redis-benchmark's -r 1000000 -d 100) fits in
	// Strata's default budget.
	inRAM := serverConfig{appendfsync: "everysec", preloadKeys: keys(1_000_000), preloadSize: 100}
	// always: the same with appendfsync always on both.
	always := serverConfig{appendfsync: "always", preloadKeys: keys(1_000_000), preloadSize: 100}
	// tenTimes: 1.6M keys of 400 bytes (640 MB of values) against a 64 MB hot tier; Redis
	// holds all of it in RAM.
	tenTimes := serverConfig{appendfsync: "everysec", maxmemory: "64mb", preloadKeys: keys(1_600_000), preloadSize: 400}
	return []workload{
		{name: "GET -P 1", config: inRAM, load: bench("get", 1, 300_000)},
		{name: "SET -P 1", config: inRAM, load: bench("set", 1, 300_000)},
		{name: "GET -P 16", config: inRAM, load: bench("get", 16, 3_000_000)},
		{name: "SET -P 16", config: inRAM, load: bench("set", 16, 2_000_000)},
		// The collections issue's list (it holds the hot-tier issue's LPUSH, HSET, ZADD, SADD,
		// LRANGE_100).
		{name: "types -P 1", config: inRAM, load: bench("lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_600", 1, 200_000)},
		{name: "SET -P 1 always", config: always, load: bench("set", 1, 100_000)},
		{name: "GET, SET always", config: always, load: concurrentLoad{
			background: bench("set", 1, 0), foreground: bench("get", 1, 300_000)}},
		{name: "10x maxmemory", config: tenTimes, load: keyGetLoad{
			dist: "zipf", clients: 50, requests: 500_000, keys: tenTimes.preloadKeys, size: tenTimes.preloadSize}},
		{name: "10x maxmemory", config: tenTimes, load: keyGetLoad{
			dist: "uniform", clients: 50, requests: 300_000, keys: tenTimes.preloadKeys, size: tenTimes.preloadSize}},
		// EVALSHA of rate limiters (scripting.go), one key of 100k per call.
		{name: "evalsha -P 1", config: inRAM, load: scriptBenchmark{label: "EVALSHA ratelimit", keyPrefix: "rl:",
			script: rateLimitScript, args: []string{"60", "100"}, clients: 50, pipeline: 1, requests: 200_000, keyspace: 100_000}},
		{name: "evalsha -P 1", config: inRAM, load: scriptBenchmark{label: "EVALSHA tokenbucket", keyPrefix: "tb:",
			script: tokenBucketScript, args: []string{"1", "10", "1700000000"}, clients: 50, pipeline: 1, requests: 200_000, keyspace: 100_000}},
		{name: "evalsha -P 16", config: inRAM, load: scriptBenchmark{label: "EVALSHA ratelimit", keyPrefix: "rl:",
			script: rateLimitScript, args: []string{"60", "100"}, clients: 50, pipeline: 16, requests: 500_000, keyspace: 100_000}},
	}
}

// target is a ratio the issue asks of one row: strata/redis throughput at least minOps, or
// strata/redis p99 latency at most maxP99.
type target struct {
	workload, test string
	minOps, maxP99 float64
}

func targets() []target {
	return []target{
		{workload: "GET -P 1", test: "GET", minOps: 1.0},
		{workload: "GET -P 1", test: "GET", maxP99: 1.2},
		{workload: "SET -P 1", test: "SET", minOps: 1.0},
		{workload: "GET -P 16", test: "GET", minOps: 1.3},
		{workload: "SET -P 16", test: "SET", minOps: 1.0},
		{workload: "SET -P 1 always", test: "SET", minOps: 1.5},
		{workload: "GET, SET always", test: "GET during SET", minOps: 10},
		{workload: "10x maxmemory", test: "GET zipf", minOps: 0.7},
		{workload: "10x maxmemory", test: "GET uniform", minOps: 0.3},
	}
}

// profileLoad is what -cpuprofile records strata under: redis-benchmark's test (get or set)
// over the inRAM data, with pipeline depth -profile-pipeline.
func profileLoad(test string, pipeline int) redisBenchmark { return bench(test, pipeline, 0) }

// concurrentLoad runs a looping redis-benchmark in the background while the foreground load
// is measured: GETs while an appendfsync-always SET load keeps the log busy. Only the
// foreground is reported (its tests get " during " and the background's tests appended).
type concurrentLoad struct {
	background redisBenchmark
	foreground loadGenerator
}

func (l concurrentLoad) run(ctx context.Context, o *compareOptions, addr string) ([]result, error) {
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bg := exec.CommandContext(bctx, o.redisBenchmark, append(l.background.args(addr), "-l", "-q")...)
	if err := bg.Start(); err != nil {
		return nil, err
	}
	// Let the background load reach its pace first (a benchmark may sleep).
	time.Sleep(time.Second)
	res, err := l.foreground.run(ctx, o, addr)
	cancel()
	bg.Wait()
	for i := range res {
		res[i].test += " during " + strings.ToUpper(l.background.tests)
	}
	return res, err
}

// redisBenchmark runs redis-benchmark with --csv and reads its per-command lines.
type redisBenchmark struct {
	tests    string // -t
	clients  int    // -c
	pipeline int    // -P
	requests int    // -n (multiplied by -scale)
	keyspace int    // -r
	dataSize int    // -d
}

func (b redisBenchmark) args(addr string) []string {
	host, port, _ := strings.Cut(addr, ":")
	return []string{"-h", host, "-p", port, "-t", b.tests, "-c", strconv.Itoa(b.clients),
		"-P", strconv.Itoa(b.pipeline), "-r", strconv.Itoa(b.keyspace), "-d", strconv.Itoa(b.dataSize)}
}

// run runs redis-benchmark once. A test whose command the server does not know (a command
// group not merged yet) is dropped and the others run again: it is missing from the table.
func (b redisBenchmark) run(ctx context.Context, o *compareOptions, addr string) ([]result, error) {
	n := max(1000, int(float64(b.requests)*o.scale))
	for {
		args := append(b.args(addr), "-n", strconv.Itoa(n), "--csv")
		cmd := exec.CommandContext(ctx, o.redisBenchmark, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			return parseBenchmarkCSV(out)
		}
		msg := stderr.String() + string(out)
		if _, rest, ok := strings.Cut(msg, "ERR unknown command '"); ok {
			unknown, _, _ := strings.Cut(rest, "'")
			var kept []string
			for _, t := range strings.Split(b.tests, ",") {
				if !strings.HasPrefix(t, strings.ToLower(unknown)) {
					kept = append(kept, t)
				}
			}
			if len(kept) > 0 && len(kept) < len(strings.Split(b.tests, ",")) {
				fmt.Fprintf(os.Stderr, "(%s unknown to the server: skipped) ", unknown)
				b.tests = strings.Join(kept, ",")
				continue
			}
		}
		return nil, fmt.Errorf("redis-benchmark %s: %v: %s", strings.Join(args, " "), err, msg)
	}
}

// parseBenchmarkCSV reads redis-benchmark --csv output:
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
func parseBenchmarkCSV(out []byte) ([]result, error) {
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark output: %v\n%s", err, out)
	}
	var res []result
	for _, row := range rows {
		if len(row) < 7 || row[0] == "test" {
			continue
		}
		var nums [3]float64
		for i, col := range []int{1, 4, 6} {
			if nums[i], err = strconv.ParseFloat(row[col], 64); err != nil {
				return nil, fmt.Errorf("redis-benchmark output %q: %v", row, err)
			}
		}
		res = append(res, result{test: row[0], opsPerSec: nums[0], p50: nums[1], p99: nums[2]})
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("no results in redis-benchmark output:\n%s", out)
	}
	return res, nil
}
