package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type compareOptions struct {
	runs           int
	only           string
	scale          float64
	cpuProfile     string
	profileSeconds int
	profilePipe    int
	redisServer    string
	redisBenchmark string
	keep           bool
}

// serverKinds are the servers compared, in the order each workload runs against them.
var serverKinds = []string{"redis", "strata"}

func compare(o compareOptions) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "strata-compare-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	strataBin := filepath.Join(work, "strata")
	build := exec.Command("go", "build", "-o", strataBin, "./cmd/strata")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building strata: %w", err)
	}
	printMachine(o)

	// Group the selected workloads by server config: one pair of servers per config.
	var configs []serverConfig
	byConfig := map[serverConfig][]workload{}
	for _, w := range workloads() {
		if !strings.Contains(w.name, o.only) {
			continue
		}
		if _, ok := byConfig[w.config]; !ok {
			configs = append(configs, w.config)
		}
		byConfig[w.config] = append(byConfig[w.config], w)
	}
	if len(configs) == 0 {
		return fmt.Errorf("no workload matches %q", o.only)
	}

	// samples[workload][test][server] are the runs' results.
	samples := map[string]map[string]map[string][]result{}
	var order []string // workload/test rows in the order they were first measured
	for i, cfg := range configs {
		servers := map[string]*serverProc{}
		for _, kind := range serverKinds {
			s, err := startServer(kind, cfg, filepath.Join(work, fmt.Sprintf("%s-%d", kind, i)), strataBin, o)
			if err != nil {
				stopAll(servers)
				return err
			}
			servers[kind] = s
		}
		for run := range o.runs {
			for _, w := range byConfig[cfg] {
				for _, kind := range serverKinds {
					fmt.Fprintf(os.Stderr, "run %d/%d  %-16s %-7s ", run+1, o.runs, w.name, kind)
					res, err := w.load.run(ctx, &o, servers[kind].addr)
					if err != nil {
						stopAll(servers)
						return fmt.Errorf("%s against %s: %w", w.name, kind, err)
					}
					for _, r := range res {
						fmt.Fprintf(os.Stderr, " %s %.0f/s", r.test, r.opsPerSec)
						if samples[w.name] == nil {
							samples[w.name] = map[string]map[string][]result{}
						}
						if samples[w.name][r.test] == nil {
							samples[w.name][r.test] = map[string][]result{}
							order = append(order, w.name+"\x00"+r.test)
						}
						samples[w.name][r.test][kind] = append(samples[w.name][r.test][kind], r)
					}
					fmt.Fprintln(os.Stderr)
				}
			}
		}
		if o.cpuProfile != "" && i == 0 {
			if err := profileStrata(ctx, servers["strata"], strataBin, o); err != nil {
				stopAll(servers)
				return err
			}
		}
		if err := stopAll(servers); err != nil {
			return err
		}
	}
	printTable(samples, order, o)
	return nil
}

// median returns the result with the median ops/s (the upper one of an even count), with its
// own latencies.
func median(rs []result) result {
	s := append([]result(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].opsPerSec < s[j].opsPerSec })
	return s[len(s)/2]
}

func printTable(samples map[string]map[string]map[string][]result, order []string, o compareOptions) {
	fmt.Printf("\nmedian of %d runs each (ops/s; latency p50/p99 in ms)\n\n", o.runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcommand\tredis ops/s\tstrata ops/s\tstrata/redis\tredis p50/p99\tstrata p50/p99\t")
	for _, key := range order {
		name, test, _ := strings.Cut(key, "\x00")
		r, s := median(samples[name][test]["redis"]), median(samples[name][test]["strata"])
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.2f\t%.3f/%.3f\t%.3f/%.3f\t\n", name, test,
			r.opsPerSec, s.opsPerSec, s.opsPerSec/r.opsPerSec, r.p50, r.p99, s.p50, s.p99)
	}
	tw.Flush()
	fmt.Printf("\nload average after: %s\n", loadAverage())
}

func printMachine(o compareOptions) {
	redisVersion, _ := exec.Command(o.redisServer, "--version").Output()
	fmt.Printf("machine: %d CPUs, %s/%s, load average before: %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, loadAverage())
	fmt.Printf("%s", redisVersion)
	fmt.Println("servers and redis-benchmark share this machine: compare the ratios, not the absolute numbers")
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the strata module")
	}
	return filepath.Dir(mod), nil
}

// serverProc is a server process started for the comparison.
type serverProc struct {
	kind      string
	cmd       *exec.Cmd
	addr      string
	pprofAddr string // strata only
	exited    chan struct{}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startServer(kind string, cfg serverConfig, dir, strataBin string, o compareOptions) (*serverProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &serverProc{kind: kind, addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	switch kind {
	case "redis":
		s.cmd = exec.Command(o.redisServer, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--dir", dir, "--appendonly", "yes", "--appendfsync", cfg.appendfsync, "--save", "",
			"--logfile", filepath.Join(dir, "redis.log"))
	case "strata":
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
		s.cmd = exec.Command(strataBin, "server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--dir", filepath.Join(dir, "data"), "--appendfsync", cfg.appendfsync,
			"--debug-pprof-addr", s.pprofAddr)
		logf, err := os.Create(filepath.Join(dir, "strata.log"))
		if err != nil {
			return nil, err
		}
		s.cmd.Stderr = logf
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitPing(30 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not start (logs in %s): %w", kind, dir, err)
	}
	return s, nil
}

// waitPing polls until the server answers PING: a benchmark may poll, a test may not.
func (s *serverProc) waitPing(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("PING\r\n"))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && line == "+PONG\r\n" {
				return nil
			}
			err = fmt.Errorf("PING: %q %v", line, rerr)
		}
		select {
		case <-s.exited:
			return errors.New("exited")
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server with SIGTERM (both shut down cleanly on it).
func (s *serverProc) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop on SIGTERM", s.kind)
	}
}

func stopAll(servers map[string]*serverProc) error {
	var first error
	for _, s := range servers {
		if err := s.stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// profileStrata records a CPU profile of strata (through its --debug-pprof-addr) while
// redis-benchmark loops on the profiled load, then prints `go tool pprof -top` of it.
func profileStrata(ctx context.Context, s *serverProc, strataBin string, o compareOptions) error {
	load := profileLoad(o.profilePipe)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bench := exec.CommandContext(ctx, o.redisBenchmark, append(load.args(s.addr), "-l", "-q")...)
	if err := bench.Start(); err != nil {
		return err
	}
	defer bench.Wait()
	fmt.Fprintf(os.Stderr, "profiling strata for %ds under SET -c %d -P %d ...\n", o.profileSeconds, load.clients, load.pipeline)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprofAddr, o.profileSeconds)
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the profile: %s", resp.Status)
	}
	f, err := os.Create(o.cpuProfile)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cancel()
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", strataBin, o.cpuProfile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v\n%s", err, top)
	}
	fmt.Printf("\nCPU profile of strata under SET -c %d -P %d saved to %s\n\n%s\n", load.clients, load.pipeline, o.cpuProfile, top)
	return nil
}
