package main

import (
	"strconv"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// BenchmarkTransaction measures MULTI/EXEC and WATCH on Strata and redis-server side by side,
// one connection each, pipelined 16 deep: a plain SET (with and without another client
// watching an unrelated key, which is what the WATCH registry's hooks cost every writer), a
// MULTI of 10 INCRs, and the optimistic WATCH/GET/MULTI/SET/EXEC round. One op is one
// command for SET and one transaction (all its commands) for the others.
//
//	go test -run '^$' -bench Transaction -benchtime 20000x ./benchmarks/
func BenchmarkTransaction(b *testing.B) {
	redis := servertest.StartRedis(b)
	strata := servertest.StartStrata(b, nil)
	key := func(i int) string { return "bench:k" + strconv.Itoa(i%1000) }
	incrs := [][]string{{"MULTI"}}
	for j := 0; j < 10; j++ {
		incrs = append(incrs, []string{"INCR", "bench:n" + strconv.Itoa(j)})
	}
	incrs = append(incrs, []string{"EXEC"})
	for _, c := range []struct {
		name    string
		watcher bool // another connection watches a key nobody writes
		cmds    func(i int) [][]string
	}{
		{"SET", false, func(i int) [][]string { return [][]string{{"SET", key(i), "v"}} }},
		{"SET-while-watched", true, func(i int) [][]string { return [][]string{{"SET", key(i), "v"}} }},
		{"MULTI-10xINCR-EXEC", false, func(int) [][]string { return incrs }},
		{"WATCH-GET-MULTI-SET-EXEC", false, func(i int) [][]string {
			k := key(i)
			return [][]string{{"WATCH", k}, {"GET", k}, {"MULTI"}, {"SET", k, strconv.Itoa(i)}, {"EXEC"}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc, sc := redis.Dial(b), strata.Dial(b)
			if c.watcher {
				for _, t := range []*servertest.Conn{redis.Dial(b), strata.Dial(b)} {
					if got := t.Do("WATCH", "bench:unwritten"); got != "+OK\r\n" {
						b.Fatalf("WATCH: %q", got)
					}
				}
			}
			each := func() func(i int) []string {
				// Flatten the transactions into one command stream for run.
				var pending [][]string
				return func(i int) []string {
					if len(pending) == 0 {
						pending = c.cmds(i)
					}
					next := pending[0]
					pending = pending[1:]
					return next
				}
			}
			n := b.N * len(c.cmds(0))
			b.ResetTimer()
			tr := run(rc, n, each())
			ts := run(sc, n, each())
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(b.N)/ts.Seconds(), "strata-ops/s")
			b.ReportMetric(float64(b.N)/tr.Seconds(), "redis-ops/s")
			b.ReportMetric(ts.Seconds()/tr.Seconds(), "strata/redis")
		})
	}
}
