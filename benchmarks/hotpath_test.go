package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// BenchmarkServerHotPath measures what one GET or SET costs an in-process server, end to end
// through the network stack (loopback), dispatch, the hot tier and Pebble, with pipelines of
// 1 and 16 commands over 4 connections. allocs/op counts every allocation of the process
// (server and client; the client allocates nothing per command), so it is the server's
// per-command garbage; ns/op is wall time and moves with the machine's load, so compare it
// only within one run. The keyspace (100k keys of 100 bytes) is preloaded.
//
//	go test -run '^$' -bench ServerHotPath -benchtime 200000x ./benchmarks/
//	go test -run '^$' -bench ServerHotPath/SET/P16 -cpuprofile set.pprof ./benchmarks/
func BenchmarkServerHotPath(b *testing.B) {
	const keys, size, conns = 100_000, 100, 4
	s := servertest.StartStrata(b, func(c *conf.Config) { c.Save = "" })
	if err := preload(context.Background(), s.Addr, keys, size); err != nil {
		b.Fatal(err)
	}
	for _, cmd := range []string{"GET", "SET"} {
		for _, pipeline := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/P%d", cmd, pipeline), func(b *testing.B) {
				b.ReportAllocs()
				var wg sync.WaitGroup
				errs := make([]error, conns)
				b.ResetTimer()
				for c := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs[c] = drive(s.Addr, cmd, pipeline, b.N/conns, keys, size, uint64(c))
					}()
				}
				wg.Wait()
				b.StopTimer()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// drive sends n commands (GET or SET of random keys among keys) in pipelines of depth.
func drive(addr, cmd string, depth, n, keys, size int, seed uint64) error {
	rc, err := dialRESP(addr)
	if err != nil {
		return err
	}
	defer rc.close()
	r := rand.New(rand.NewPCG(seed, 1))
	name := []byte(cmd)
	var k, v, buf []byte
	for sent := 0; sent < n; {
		batch := min(depth, n-sent)
		for range batch {
			i := r.Uint64N(uint64(keys))
			k = keyName(k[:0], i)
			if cmd == "SET" {
				v = valueOf(v[:0], i, size)
				rc.send(name, k, v)
			} else {
				rc.send(name, k)
			}
		}
		if err := rc.w.Flush(); err != nil {
			return err
		}
		for range batch {
			kind, body, err := rc.reply(buf)
			if err != nil {
				return err
			}
			if kind == '-' {
				return fmt.Errorf("%s: %s", cmd, body)
			}
			buf = body[:0]
		}
		sent += batch
	}
	return nil
}
