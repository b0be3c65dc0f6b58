package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/server/servertest"
)

// BenchmarkPublish measures PUBLISH to 100 subscribers on Strata and on redis-server: one
// publisher pipelining 16 deep, 100 subscribers of the channel reading as fast as they can;
// the time runs until every subscriber has every message. It reports publishes/s of both,
// messages delivered/s, and Strata's time relative to Redis's. Both speak TCP on loopback
// (Redis's unix socket, the servertest default, is cheaper than any TCP server can be).
func BenchmarkPublish(b *testing.B) {
	const subscribers = 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	servertest.StartRedis(b, "--port", strconv.Itoa(port), "--bind", "127.0.0.1")
	redisAddr := "127.0.0.1:" + strconv.Itoa(port)
	redisDial := func(t testing.TB) *servertest.Conn { return servertest.Dial(t, "tcp", redisAddr) }
	strata := servertest.StartStrata(b, nil)
	payload := strings.Repeat("p", 16)
	msgLen := len(fmt.Sprintf("*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%d\r\n%s\r\n", len(payload), payload))
	measure := func(dial func(testing.TB) *servertest.Conn, n int) time.Duration {
		var wg sync.WaitGroup
		var ready sync.WaitGroup
		for i := 0; i < subscribers; i++ {
			c := dial(b)
			c.Do("SUBSCRIBE", "bench")
			wg.Add(1)
			ready.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				buf := make([]byte, 64<<10)
				want := n * msgLen
				for got := 0; got < want; {
					c.Net().SetReadDeadline(time.Now().Add(60 * time.Second))
					k, err := c.Net().Read(buf[:min(len(buf), want-got)])
					if err != nil && err != io.EOF {
						b.Error(err)
						return
					}
					got += k
				}
			}()
		}
		ready.Wait()
		pub := dial(b)
		start := time.Now()
		run(pub, n, func(int) []string { return []string{"PUBLISH", "bench", payload} })
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	tr := measure(redisDial, b.N)
	ts := measure(strata.Dial, b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.N)/ts.Seconds(), "strata-pub/s")
	b.ReportMetric(float64(b.N)/tr.Seconds(), "redis-pub/s")
	b.ReportMetric(float64(b.N*subscribers)/ts.Seconds(), "strata-msg/s")
	b.ReportMetric(ts.Seconds()/tr.Seconds(), "strata/redis")
}
