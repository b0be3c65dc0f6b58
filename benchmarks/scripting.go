package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Scripts measured side by side: EVALSHA of a rate limiter, the most common use of EVAL in
// the field. Each declares its one key, so Strata runs it holding that key's lock only.
const (
	// rateLimitScript is a fixed window: INCR the window's counter, give it a TTL when it is
	// new, refuse past the limit.
	rateLimitScript = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return 0 end
return 1`
	// tokenBucketScript refills a bucket by elapsed time and takes one token.
	tokenBucketScript = `local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate, cap, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + (now - ts) * rate)
local ok = 0
if tokens >= 1 then tokens = tokens - 1 ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], 60)
return ok`
)

// scriptBenchmark loads a script on the server and runs redis-benchmark with EVALSHA of it,
// on one random key per call out of keyspace.
type scriptBenchmark struct {
	label     string   // the result's name
	keyPrefix string   // the keys' prefix, so that workloads of different types do not share keys
	script    string   // the Lua source
	args      []string // ARGV
	clients   int
	pipeline  int
	requests  int
	keyspace  int
}

func (b scriptBenchmark) run(ctx context.Context, o *compareOptions, addr string) ([]result, error) {
	sha, err := scriptLoad(addr, b.script)
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(addr, ":")
	n := max(1000, int(float64(b.requests)*o.scale))
	args := []string{"-h", host, "-p", port, "-c", strconv.Itoa(b.clients), "-P", strconv.Itoa(b.pipeline),
		"-r", strconv.Itoa(b.keyspace), "-n", strconv.Itoa(n), "--csv",
		"EVALSHA", sha, "1", b.keyPrefix + "{__rand_int__}"}
	args = append(args, b.args...)
	cmd := exec.CommandContext(ctx, o.redisBenchmark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %s: %v: %s%s", strings.Join(args, " "), err, stderr.String(), out)
	}
	res, err := parseBenchmarkCSV(out)
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].test = b.label
	}
	return res, nil
}

// scriptLoad sends SCRIPT LOAD and returns the SHA1 the server answers.
func scriptLoad(addr, script string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	cmd := fmt.Sprintf("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$%d\r\n%s\r\n", len(script), script)
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(head, "$40") {
		return "", errors.New("SCRIPT LOAD: " + strings.TrimSpace(head))
	}
	sha, err := rd.ReadString('\n')
	return strings.TrimSpace(sha), err
}
