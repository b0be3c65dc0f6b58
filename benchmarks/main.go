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
	if len(os.Args) < 2 || os.Args[1] != "compare" {
		fmt.Fprintln(os.Stderr, "usage: go run ./benchmarks compare [flags]  (-h for the flags)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	var o compareOptions
	fs.IntVar(&o.runs, "runs", 3, "runs of each workload against each server (the median is reported)")
	fs.StringVar(&o.only, "only", "", "run only the workloads whose name contains this")
	fs.Float64Var(&o.scale, "scale", 1, "multiply every workload's request count (0.1 for a quick look)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "save a CPU profile of strata under the profiled workload to this file (e.g. strata-set.cpu.pprof)")
	fs.IntVar(&o.profileSeconds, "profile-seconds", 10, "length of the CPU profile")
	fs.IntVar(&o.profilePipe, "profile-pipeline", 16, "redis-benchmark -P of the profiled SET load")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.redisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories (logs, data) and print where they are")
	fs.Parse(os.Args[2:])
	if err := compare(o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
