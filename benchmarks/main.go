// Command benchmarks runs Strata side by side with redis-server on this machine and reports
// the ratios: timing lives here, never in tests.
//
//	go run ./benchmarks compare [flags]
//
// compare builds strata from the tree, starts it and a redis-server (each with its own
// temporary directory and port, both with appendfsync everysec; Redis with appendonly yes),
// runs every workload of the table in workloads.go against both, interleaved (redis, strata,
// redis, strata ...), takes the median of the runs, and prints ops/s, p50 and p99 latency and
// the Strata/Redis ratio of each. With -cpuprofile it also records a CPU profile of Strata
// under one workload (through strata's --debug-pprof-addr) and prints `go tool pprof -top`.
//
//	go run ./benchmarks floor [-P 16]
//
// floor runs GET against redis-server, Strata and the simplest Go servers (floor.go), each Go
// one at GOMAXPROCS 2 and 1: the ceiling any Go server reaches on this machine.
//
// The numbers are only comparable within one run: the servers and the load generator share
// the machine (and, on a shared machine, with whatever else runs), which is why each workload
// runs against both servers in turn and the report gives ratios and the load average.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	sub := map[string]func([]string) error{
		"compare": compareMain, "strings": scaleStrings, "collection": scaleCollection, "gc": scaleGC,
		"compression": compressionMain, "floor": floorMain, "floor-server": floorServerMain,
	}
	if len(os.Args) < 2 || sub[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: go run ./benchmarks compare|strings|collection|gc|compression|floor [flags]  (-h for the flags)")
		os.Exit(2)
	}
	if err := sub[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
		os.Exit(1)
	}
}

func compareMain(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	var o compareOptions
	fs.IntVar(&o.runs, "runs", 3, "runs of each workload against each server (the median is reported)")
	fs.StringVar(&o.only, "only", "", "run only the workloads whose name contains this")
	fs.Float64Var(&o.scale, "scale", 1, "multiply every workload's request count (0.1 for a quick look)")
	fs.Float64Var(&o.dataScale, "data-scale", 1, "multiply the preloaded keyspaces (0.1 for a quick look; the 10x-maxmemory rows then fit in the tier)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "save CPU profiles of strata under GET and under SET (e.g. strata.pprof: strata-get.pprof, strata-set.pprof)")
	fs.IntVar(&o.profileSeconds, "profile-seconds", 10, "length of the CPU profile")
	fs.IntVar(&o.profilePipe, "profile-pipeline", 16, "redis-benchmark -P of the profiled GET and SET loads")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.redisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories (logs, data) and print where they are")
	fs.DurationVar(&o.fsyncDelay, "fsync-delay", 0, "run both servers under strace, which adds this to every fsync (2ms: a disk whose syncs take milliseconds; the always rows are the ones it changes)")
	fs.Func("strata-env", "a setting for every Strata started, as NAME=value (STRATA_BLOOM_BITS_PER_KEY=0); repeatable",
		func(v string) error { o.strataEnv = append(o.strataEnv, v); return nil })
	fs.Parse(args)
	return compare(o)
}
