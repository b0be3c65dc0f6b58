package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// waitDone waits for the server to finish shutting down (a bound, not a sleep).
func waitDone(t *testing.T, s *servertest.Strata) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not shut down")
	}
}

func reopen(t *testing.T, dir string) *servertest.Strata {
	return servertest.StartStrata(t, func(c *conf.Config) { c.Dir = dir })
}

func TestShutdownCommand(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)

	// A snapshot that cannot be written (a directory stands where dump.rdb goes): the shutdown
	// is refused and the server keeps running.
	blocker := filepath.Join(s.Dir, "dump.rdb")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := c.Do("SHUTDOWN", "SAVE"); got != "-ERR Errors trying to SHUTDOWN. Check logs.\r\n" {
		t.Fatalf("SHUTDOWN SAVE: %q", got)
	}
	if got := c.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING after a refused SHUTDOWN: %q", got)
	}

	// The commands before SHUTDOWN in the same pipeline are answered; SHUTDOWN itself is not,
	// and nothing after it runs.
	c.Net().Write([]byte(string(servertest.EncodeCommand("SET", "a", "1")) +
		string(servertest.EncodeCommand("SHUTDOWN")) +
		string(servertest.EncodeCommand("SET", "b", "2"))))
	if got := c.Read(); got != "+OK\r\n" {
		t.Fatalf("SET before SHUTDOWN: %q", got)
	}
	if got, err := c.ReadErr(30 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("after SHUTDOWN: reply %q, error %v; want the connection closed", got, err)
	}
	waitDone(t, s)

	s2 := reopen(t, s.Dir)
	c2 := s2.Dial(t)
	if got := c2.Do("GET", "a"); got != "$1\r\n1\r\n" {
		t.Fatalf("GET a after restart: %q", got)
	}
	if got := c2.Do("GET", "b"); got != "$-1\r\n" {
		t.Fatalf("GET b (sent after SHUTDOWN) after restart: %q", got)
	}

	// SAVE FORCE: the failed snapshot does not stop the shutdown.
	c2.Send("SHUTDOWN", "SAVE", "NOW", "FORCE")
	if got, err := c2.ReadErr(30 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("SHUTDOWN SAVE NOW FORCE: reply %q, error %v", got, err)
	}
	waitDone(t, s2)
}

// TestShutdownInFlight shuts the server down under a pipelined write load: every command
// either runs and is answered, or is refused whole (not applied, not answered). After a
// restart, a key is there exactly when its SET was acknowledged.
func TestShutdownInFlight(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const writers, pipeline, threshold = 6, 16, 1500
	var acked atomic.Int64
	enough := make(chan struct{})
	var enoughOnce sync.Once

	type result struct{ sent, acked []string }
	results := make([]result, writers)
	var wg sync.WaitGroup
	for w := range writers {
		c := s.Dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			for i := 0; ; i += pipeline {
				var batch []byte
				var keys []string
				for j := i; j < i+pipeline; j++ {
					k := fmt.Sprintf("k-%d-%d", w, j)
					keys = append(keys, k)
					batch = append(batch, servertest.EncodeCommand("SET", k, "v-"+k)...)
				}
				r.sent = append(r.sent, keys...)
				if _, err := c.Net().Write(batch); err != nil {
					return
				}
				for _, k := range keys {
					got, err := c.ReadErr(30 * time.Second)
					if err != nil {
						return
					}
					if got != "+OK\r\n" {
						t.Errorf("SET %s: %q", k, got)
						return
					}
					r.acked = append(r.acked, k)
					if acked.Add(1) >= threshold {
						enoughOnce.Do(func() { close(enough) })
					}
				}
			}
		}()
	}
	<-enough
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	s2 := reopen(t, s.Dir)
	c := s2.Dial(t)
	total, refused := 0, 0
	for _, r := range results {
		isAcked := map[string]bool{}
		for _, k := range r.acked {
			isAcked[k] = true
		}
		for _, k := range r.sent {
			got := c.Do("GET", k)
			want := "$-1\r\n"
			if isAcked[k] {
				want = fmt.Sprintf("$%d\r\nv-%s\r\n", len(k)+2, k)
				total++
			} else {
				refused++
			}
			if got != want {
				t.Fatalf("GET %s after restart: %q, want %q (acknowledged: %v)", k, got, want, isAcked[k])
			}
		}
	}
	t.Logf("%d acknowledged SETs all present; %d unanswered SETs all absent", total, refused)
	if !strings.HasPrefix(c.Do("PING"), "+PONG") {
		t.Fatal("restarted server does not answer")
	}
}
