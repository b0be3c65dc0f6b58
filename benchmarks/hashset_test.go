// Go benchmarks that run Strata and redis-server side by side on the same workload and report
// both, with their ratio. Run: go test ./benchmarks -bench . -benchtime 20000x
package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/stratadb/strata/server/servertest"
)

// pipeline is how many commands go out before their replies are read.
const pipeline = 16

// run sends n commands made by cmd over c, pipeline at a time, and returns the time taken.
func run(c *servertest.Conn, n int, cmd func(i int) []string) time.Duration {
	start := time.Now()
	for i := 0; i < n; i += pipeline {
		k := min(pipeline, n-i)
		for j := 0; j < k; j++ {
			c.Send(cmd(i + j)...)
		}
		for j := 0; j < k; j++ {
			c.Read()
		}
	}
	return time.Since(start)
}

// BenchmarkHashSet measures single-key hash and set commands on Strata and on redis-server
// over one connection each, pipelined 16 deep: ops/s of both and Strata's time relative to
// Redis's (the ratio is what to watch; the machine's load moves both).
func BenchmarkHashSet(b *testing.B) {
	redis := servertest.StartRedis(b)
	strata := servertest.StartStrata(b, nil)
	const members = 100_000
	member := func(i int) string { return "member:" + strconv.Itoa(i%members) }
	for _, c := range []struct {
		name  string
		setup bool // fill the key with members first
		cmd   func(i int) []string
	}{
		{"SADD", false, func(i int) []string { return []string{"SADD", "bench:sadd", member(i)} }},
		{"HSET", false, func(i int) []string { return []string{"HSET", "bench:hset", member(i), "value"} }},
		{"SISMEMBER", true, func(i int) []string { return []string{"SISMEMBER", "bench:set", member(i * 7)} }},
		{"HGET", true, func(i int) []string { return []string{"HGET", "bench:hash", member(i * 7)} }},
		{"SCARD", true, func(int) []string { return []string{"SCARD", "bench:set"} }},
		{"SRANDMEMBER", true, func(int) []string { return []string{"SRANDMEMBER", "bench:set"} }},
		{"PFADD", false, func(i int) []string { return []string{"PFADD", "bench:hll", member(i)} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc, sc := redis.Dial(b), strata.Dial(b)
			if c.setup {
				fill := func(i int) []string {
					cmd, key := "SADD", "bench:set"
					if i%2 == 1 {
						cmd, key = "HSET", "bench:hash"
					}
					args := []string{cmd, key}
					for j := i / 2 * 100; j < i/2*100+100; j++ {
						args = append(args, member(j))
						if cmd == "HSET" {
							args = append(args, "value")
						}
					}
					return args
				}
				run(rc, 2*members/100, fill)
				run(sc, 2*members/100, fill)
			}
			b.ResetTimer()
			tr := run(rc, b.N, c.cmd)
			ts := run(sc, b.N, c.cmd)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(b.N)/ts.Seconds(), "strata-ops/s")
			b.ReportMetric(float64(b.N)/tr.Seconds(), "redis-ops/s")
			b.ReportMetric(ts.Seconds()/tr.Seconds(), "strata/redis")
		})
	}
}
