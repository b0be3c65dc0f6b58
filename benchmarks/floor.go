package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The floor: what the simplest Go server does on this machine, beside redis-server and Strata,
// under the same redis-benchmark load (GET -P 1, 50 clients).
//
// Why: Strata's GET -P 1 ratio stayed near 0.7 whatever its command path cost, and the kernel
// counts (syscalls.sh) blamed the runtime: a second read per request, wake-ups, context
// switches. Two questions follow, and this measures both. How fast can any Go server answer
// here, doing nothing but a map lookup? And would serving connections from an epoll loop of
// our own (as Redis does) instead of a goroutine per connection (redcon's model) close the gap?
// The floor servers run in a child process of this program (so each gets its own GOMAXPROCS):
//
//	goroutines  a goroutine per connection, net.Conn reads and writes, as redcon serves
//	epoll       one goroutine running epoll_wait, read and write on non-blocking sockets
//
// Each is run with GOMAXPROCS 2 (Go's default on this machine) and 1, and so is Strata.

func floorMain(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	var o compareOptions
	runs := fs.Int("runs", 3, "rounds; each server runs once per round and the median is reported")
	requests := fs.Int("n", 200000, "GET requests per run")
	pipeline := fs.Int("P", 1, "redis-benchmark -P")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.redisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	fs.Parse(args)
	o.scale = 1

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "strata-floor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	strataBin, err := buildStrata(root, tmp)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	printMachine(o)

	type entry struct {
		name string
		proc *serverProc
	}
	var servers []entry
	defer func() {
		for _, s := range servers {
			s.proc.stop()
		}
	}()
	add := func(name string, start func(dir string, port int) (*serverProc, error)) error {
		port, err := freePort()
		if err != nil {
			return err
		}
		p, err := start(filepath.Join(tmp, name), port)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		servers = append(servers, entry{name, p})
		return nil
	}
	if err := add("redis", func(dir string, _ int) (*serverProc, error) {
		return startServer("redis", serverConfig{appendfsync: "everysec"}, dir, strataBin, o)
	}); err != nil {
		return err
	}
	for _, procs := range []string{"2", "1"} {
		if err := add("strata GOMAXPROCS="+procs, func(dir string, port int) (*serverProc, error) {
			return startStrata(dir, strataBin, port, "everysec", []string{"GOMAXPROCS=" + procs}, nil)
		}); err != nil {
			return err
		}
		for _, mode := range []string{"goroutines", "epoll"} {
			if err := add(mode+" GOMAXPROCS="+procs, func(dir string, port int) (*serverProc, error) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, err
				}
				addr := "127.0.0.1:" + strconv.Itoa(port)
				p := &serverProc{kind: "floor " + mode, addr: addr, exited: make(chan struct{})}
				p.cmd = exec.Command(self, "floor-server", "-mode", mode, "-addr", addr)
				p.cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
				p.cmd.Stderr = os.Stderr
				return p, p.launch(dir)
			}); err != nil {
				return err
			}
		}
	}

	ctx := context.Background()
	for _, s := range servers {
		fill := redisBenchmark{tests: "set", clients: 50, pipeline: 16, requests: 1000000, keyspace: 1000000, dataSize: 100}
		if _, err := fill.run(ctx, &o, s.proc.addr); err != nil {
			return fmt.Errorf("%s: filling: %w", s.name, err)
		}
	}
	get := redisBenchmark{tests: "get", clients: 50, pipeline: *pipeline, requests: *requests, keyspace: 1000000, dataSize: 100}
	samples := make(map[string][]result)
	for run := 1; run <= *runs; run++ {
		for _, s := range servers {
			rs, err := get.run(ctx, &o, s.proc.addr)
			if err != nil || len(rs) == 0 {
				return fmt.Errorf("%s: %v", s.name, err)
			}
			fmt.Printf("run %d/%d  %-24s GET %.0f/s p99 %.2f ms\n", run, *runs, s.name, rs[0].opsPerSec, rs[0].p99)
			samples[s.name] = append(samples[s.name], rs[0])
		}
	}
	redis := median(samples["redis"])
	fmt.Printf("\nGET -P %d, 50 clients, medians of %d (ratios to redis-server)\n", *pipeline, *runs)
	fmt.Printf("| server | GET/s | ratio | p99 ms | p99 ratio |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, s := range servers {
		m := median(samples[s.name])
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %.2f |\n", s.name, m.opsPerSec, m.opsPerSec/redis.opsPerSec, m.p99, m.p99/redis.p99)
	}
	return nil
}

// floorServerMain runs a floor server (the child process floorMain starts).
func floorServerMain(args []string) error {
	fs := flag.NewFlagSet("floor-server", flag.ExitOnError)
	mode := fs.String("mode", "goroutines", "goroutines | epoll")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	st := &floorStore{m: make(map[string][]byte)}
	if *mode == "epoll" {
		return st.serveEpoll(ln.(*net.TCPListener))
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go st.serveConn(c)
	}
}

// floorStore is the floor servers' whole database: one map under a lock.
type floorStore struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// serveConn is the goroutine-per-connection server: read, answer every whole command, write.
func (st *floorStore) serveConn(c net.Conn) {
	defer c.Close()
	var in, out []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		in = append(in, buf[:n]...)
		var used int
		out, used = st.answer(out[:0], in)
		in = append(in[:0], in[used:]...)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// serveEpoll is the event-loop server: the listener's goroutine hands each connection's
// socket to one loop goroutine, which waits in epoll_wait and serves what is ready.
func (st *floorStore) serveEpoll(ln *net.TCPListener) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	pending := make(map[int][]byte) // fd -> unanswered input
	files := make(map[int]*os.File) // keeps each socket's file (and so its fd) open
	go func() {
		events := make([]unix.EpollEvent, 128)
		buf := make([]byte, 16<<10)
		var out []byte
		for {
			n, err := unix.EpollWait(ep, events, -1)
			if err != nil {
				continue // EINTR
			}
			for _, ev := range events[:n] {
				fd := int(ev.Fd)
				r, err := unix.Read(fd, buf)
				if errors.Is(err, unix.EAGAIN) {
					continue
				}
				mu.Lock()
				if r <= 0 {
					unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
					files[fd].Close()
					delete(files, fd)
					delete(pending, fd)
					mu.Unlock()
					continue
				}
				in := append(pending[fd], buf[:r]...)
				var used int
				out, used = st.answer(out[:0], in)
				pending[fd] = append(in[:0], in[used:]...)
				mu.Unlock()
				// Replies here are small; a partial write would need EPOLLOUT, which a floor
				// measurement can do without.
				unix.Write(fd, out)
			}
		}
	}()
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return err
		}
		f, err := c.File() // a blocking duplicate of the socket
		c.Close()
		if err != nil {
			continue
		}
		fd := int(f.Fd())
		unix.SetNonblock(fd, true)
		mu.Lock()
		files[fd], pending[fd] = f, nil
		mu.Unlock()
		unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	}
}

// answer appends the replies to every whole command at the start of in (RESP arrays, as
// redis-benchmark sends) and reports how many bytes they took.
func (st *floorStore) answer(out, in []byte) ([]byte, int) {
	used := 0
	var args [][]byte
	for {
		var n int
		args, n = parseRESPArray(args[:0], in[used:])
		if n == 0 {
			return out, used
		}
		used += n
		switch {
		case len(args) == 2 && bytes.EqualFold(args[0], []byte("get")):
			st.mu.RLock()
			v, ok := st.m[string(args[1])]
			if ok {
				out = append(strconv.AppendInt(append(out, '$'), int64(len(v)), 10), '\r', '\n')
				out = append(append(out, v...), '\r', '\n')
			}
			st.mu.RUnlock()
			if !ok {
				out = append(out, "$-1\r\n"...)
			}
		case len(args) == 3 && bytes.EqualFold(args[0], []byte("set")):
			v := bytes.Clone(args[2])
			st.mu.Lock()
			st.m[string(args[1])] = v
			st.mu.Unlock()
			out = append(out, "+OK\r\n"...)
		case len(args) > 0 && bytes.EqualFold(args[0], []byte("config")):
			out = append(out, "*0\r\n"...)
		default:
			out = append(out, "+PONG\r\n"...)
		}
	}
}

// parseRESPArray parses one whole "*<n>\r\n$<len>\r\n<bytes>\r\n..." command at the start of
// b, returning its arguments (slices of b) and its length; 0 when b does not hold all of it.
// Inline commands (redis-benchmark's PING) are one line.
func parseRESPArray(args [][]byte, b []byte) ([][]byte, int) {
	line := func(p int) (int, int) { // the integer after b[p]'s prefix byte, and the next offset
		e := bytes.IndexByte(b[p:], '\n')
		if e < 2 {
			return 0, 0
		}
		v, err := strconv.Atoi(string(b[p+1 : p+e-1]))
		if err != nil {
			return 0, 0
		}
		return v, p + e + 1
	}
	if len(b) == 0 {
		return args, 0
	}
	if b[0] != '*' {
		e := bytes.IndexByte(b, '\n')
		if e < 0 {
			return args, 0
		}
		return append(args, bytes.Fields(b[:e])...), e + 1
	}
	n, p := line(0)
	if p == 0 {
		return args, 0
	}
	for range n {
		if p >= len(b) || b[p] != '$' {
			return args, 0
		}
		var l int
		if l, p = line(p); p == 0 || p+l+2 > len(b) {
			return args, 0
		}
		args = append(args, b[p:p+l])
		p += l + 2
	}
	return args, p
}
