package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// serverConfig is how both servers are started for a workload. Workloads that share a config
// share a pair of servers.
type serverConfig struct {
	appendfsync string // always | everysec | no (Redis also gets appendonly yes)
}

// workload is one entry of the comparison: a load, run against both servers with one config.
type workload struct {
	name   string
	config serverConfig
	load   loadGenerator
}

// loadGenerator drives a server. redis-benchmark is the first; a Zipfian key generator, or
// a latency-only probe, are further implementations.
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

var (
	everysec = serverConfig{appendfsync: "everysec"}
)

// workloads is the table of comparisons. Add an entry for a new workload: LPUSH, HSET, ZADD
// (tests: "lpush", "hset", "zadd"), appendfsync always (config: serverConfig{"always"}), or a
// different generator.
func workloads() []workload {
	return []workload{
		{name: "get,set -P 1", config: everysec, load: redisBenchmark{
			tests: "get,set", clients: 50, pipeline: 1, requests: 200_000, keyspace: 1_000_000, dataSize: 100}},
		{name: "get,set -P 16", config: everysec, load: redisBenchmark{
			tests: "get,set", clients: 50, pipeline: 16, requests: 1_000_000, keyspace: 1_000_000, dataSize: 100}},
		// EVALSHA of rate limiters (scripting.go), one key of 100k per call.
		{name: "evalsha -P 1", config: everysec, load: scriptBenchmark{label: "EVALSHA ratelimit", keyPrefix: "rl:",
			script: rateLimitScript, args: []string{"60", "100"}, clients: 50, pipeline: 1, requests: 200_000, keyspace: 100_000}},
		{name: "evalsha -P 1", config: everysec, load: scriptBenchmark{label: "EVALSHA tokenbucket", keyPrefix: "tb:",
			script: tokenBucketScript, args: []string{"1", "10", "1700000000"}, clients: 50, pipeline: 1, requests: 200_000, keyspace: 100_000}},
		{name: "evalsha -P 16", config: everysec, load: scriptBenchmark{label: "EVALSHA ratelimit", keyPrefix: "rl:",
			script: rateLimitScript, args: []string{"60", "100"}, clients: 50, pipeline: 16, requests: 500_000, keyspace: 100_000}},
	}
}

// profileLoad is what -cpuprofile records strata under: SET, as the pipelined table entry
// (-P sets the pipeline depth through -profile-pipeline).
func profileLoad(pipeline int) redisBenchmark {
	return redisBenchmark{tests: "set", clients: 50, pipeline: pipeline, keyspace: 1_000_000, dataSize: 100}
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

func (b redisBenchmark) run(ctx context.Context, o *compareOptions, addr string) ([]result, error) {
	n := max(1000, int(float64(b.requests)*o.scale))
	args := append(b.args(addr), "-n", strconv.Itoa(n), "--csv")
	cmd := exec.CommandContext(ctx, o.redisBenchmark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return parseBenchmarkCSV(out)
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
