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
	dataScale      float64
	cpuProfile     string
	profileSeconds int
	profilePipe    int
	redisServer    string
	redisBenchmark string
	keep           bool
	strataEnv      []string // extra STRATA_* settings for every Strata started
	// fsyncDelay, when set, runs each server under strace, which adds it to every fsync and
	// fdatasync the server makes: a disk whose syncs take milliseconds, for both alike.
	fsyncDelay time.Duration
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
	strataBin, err := buildStrata(root, work)
	if err != nil {
		return err
	}
	printMachine(o)

	// Group the selected workloads by server config: one pair of servers per config.
	var configs []serverConfig
	byConfig := map[serverConfig][]workload{}
	for _, w := range workloads(o.dataScale) {
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
		if cfg.preloadKeys > 0 {
			for _, kind := range serverKinds {
				if err := preloadServer(ctx, servers[kind], cfg); err != nil {
					stopAll(servers)
					return err
				}
			}
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
			for _, test := range []string{"get", "set"} {
				if err := profileStrata(ctx, servers["strata"], strataBin, test, o); err != nil {
					stopAll(servers)
					return err
				}
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
		rs, ss := samples[name][test]["redis"], samples[name][test]["strata"]
		if len(rs) == 0 || len(ss) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d runs\t%d runs\t-\t\t\t\n", name, test, len(rs), len(ss))
			continue
		}
		r, s := median(rs), median(ss)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.2f\t%.3f/%.3f\t%.3f/%.3f\t\n", name, test,
			r.opsPerSec, s.opsPerSec, s.opsPerSec/r.opsPerSec, r.p50, r.p99, s.p50, s.p99)
	}
	tw.Flush()

	fmt.Printf("\ntargets (strata/redis)\n\n")
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcommand\tmeasure\tratio\ttarget\t\t")
	for _, tg := range targets() {
		rs := samples[tg.workload][tg.test]
		if len(rs["redis"]) == 0 || len(rs["strata"]) == 0 {
			continue
		}
		r, s := median(rs["redis"]), median(rs["strata"])
		measure, ratio, ok, want := "ops/s", s.opsPerSec/r.opsPerSec, false, ""
		if tg.maxP99 > 0 {
			measure, ratio = "p99", s.p99/r.p99
			ok, want = ratio <= tg.maxP99, fmt.Sprintf("<= %.1f", tg.maxP99)
		} else {
			ok, want = ratio >= tg.minOps, fmt.Sprintf(">= %.1f", tg.minOps)
		}
		verdict := "met"
		if !ok {
			verdict = "SHORT"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%s\t\n", tg.workload, tg.test, measure, ratio, want, verdict)
	}
	tw.Flush()
	fmt.Printf("\nload average after: %s\n", loadAverage())
}

// preloadServer writes the config's keyspace into s. On Strata with a hot tier smaller than
// the data, it then waits (bounded) for Pebble's compactions to catch up, so that the runs
// measure reads rather than the tail of the load.
func preloadServer(ctx context.Context, s *serverProc, cfg serverConfig) error {
	start := time.Now()
	if err := preload(ctx, s.addr, cfg.preloadKeys, cfg.preloadSize); err != nil {
		return fmt.Errorf("preloading %s: %w", s.kind, err)
	}
	fmt.Fprintf(os.Stderr, "preloaded %s with %d keys of %d bytes in %s\n", s.kind, cfg.preloadKeys,
		cfg.preloadSize, time.Since(start).Round(time.Millisecond))
	if s.kind != "strata" {
		return nil
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		debt, err := infoField(s.addr, "memory", "strata_compaction_debt")
		if err != nil {
			return err
		}
		if debt == "0" || debt == "" {
			break
		}
	}
	return nil
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

// buildStrata builds cmd/strata of the module at root into dir.
func buildStrata(root, dir string) (string, error) {
	bin := filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", bin, "./cmd/strata")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building strata: %w", err)
	}
	return bin, nil
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
	dir       string // strata only: its data and strata.log
	exited    chan struct{}
	traced    bool        // cmd is strace running the server (-fsync-delay)
	server    *os.Process // the server itself, which stop signals
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
		env := append([]string(nil), o.strataEnv...)
		if cfg.maxmemory != "" {
			env = append(env, "STRATA_MAXMEMORY="+cfg.maxmemory)
		}
		return startStrata(dir, strataBin, port, cfg.appendfsync, env, o.slowSyncs)
	}
	o.slowSyncs(s)
	return s, s.launch(dir)
}

// startStrata starts strata on port with its data, log (strata.log) and profiler address
// under dir. As Redis in these runs it takes no snapshots, and a full hot tier evicts
// (Strata's default policy is noeviction); env adds STRATA_* settings (or GODEBUG).
func startStrata(dir, strataBin string, port int, appendfsync string, env []string, prepare func(*serverProc)) (*serverProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &serverProc{kind: "strata", addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, exited: make(chan struct{})}
	pp, err := freePort()
	if err != nil {
		return nil, err
	}
	s.pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
	s.cmd = exec.Command(strataBin, "server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", filepath.Join(dir, "data"), "--appendfsync", appendfsync, "--debug-pprof-addr", s.pprofAddr)
	s.cmd.Env = append(append(os.Environ(), "STRATA_SAVE=", "STRATA_MAXMEMORY_POLICY=allkeys-lru"), env...)
	logf, err := os.Create(filepath.Join(dir, "strata.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stderr = logf
	if prepare != nil {
		prepare(s)
	}
	return s, s.launch(dir)
}

// slowSyncs wraps s's command in strace when -fsync-delay is set (see compareOptions).
// With --seccomp-bpf only the two sync calls stop in strace; every other system call runs as
// it would. The server, not strace, is then the process stop signals (launch finds it).
func (o *compareOptions) slowSyncs(s *serverProc) {
	if o.fsyncDelay <= 0 {
		return
	}
	us := strconv.FormatInt(o.fsyncDelay.Microseconds(), 10)
	args := append([]string{"-f", "--seccomp-bpf", "-o", os.DevNull,
		"-e", "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:delay_exit=" + us, "--"}, s.cmd.Args...)
	cmd := exec.Command("strace", args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr
	s.cmd, s.traced = cmd, true
}

// launch starts the prepared command and waits until the server answers.
func (s *serverProc) launch(dir string) error {
	kind := s.kind
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", kind, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	s.server = s.cmd.Process
	err := s.waitPing(30 * time.Second)
	if err == nil && s.traced {
		// strace's one child is the server: signalling strace would only detach it.
		var b []byte
		pid := s.cmd.Process.Pid
		if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			var child int
			if _, err = fmt.Sscan(string(b), &child); err == nil {
				s.server, err = os.FindProcess(child)
			}
		}
	}
	if err != nil {
		s.stop()
		return fmt.Errorf("%s did not start (logs in %s): %w", kind, dir, err)
	}
	return nil
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
	s.server.Signal(syscall.SIGTERM)
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
// redis-benchmark loops on the profiled load (test is get or set), then prints `go tool pprof
// -top` of it. The profile is saved to -cpuprofile with the test's name added before the
// extension.
func profileStrata(ctx context.Context, s *serverProc, strataBin, test string, o compareOptions) error {
	load := profileLoad(test, o.profilePipe)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bench := exec.CommandContext(ctx, o.redisBenchmark, append(load.args(s.addr), "-l", "-q")...)
	if err := bench.Start(); err != nil {
		return err
	}
	defer bench.Wait()
	name := strings.ToUpper(test)
	fmt.Fprintf(os.Stderr, "profiling strata for %ds under %s -c %d -P %d ...\n", o.profileSeconds, name, load.clients, load.pipeline)
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprofAddr, o.profileSeconds)
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the profile: %s", resp.Status)
	}
	ext := filepath.Ext(o.cpuProfile)
	path := strings.TrimSuffix(o.cpuProfile, ext) + "-" + test + ext
	f, err := os.Create(path)
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
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", strataBin, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v\n%s", err, top)
	}
	fmt.Printf("\nCPU profile of strata under %s -c %d -P %d saved to %s\n\n%s\n", name, load.clients, load.pipeline, path, top)
	return nil
}
