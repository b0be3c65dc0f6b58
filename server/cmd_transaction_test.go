package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

const (
	replyOK      = "+OK\r\n"
	replyQueued  = "+QUEUED\r\n"
	replyAborted = "*-1\r\n"
)

// watchedExec runs MULTI, PING, EXEC on c and returns EXEC's reply.
func watchedExec(t *testing.T, c *servertest.Conn) string {
	t.Helper()
	expect(t, c, replyOK, "MULTI")
	expect(t, c, replyQueued, "PING")
	return c.Do("EXEC")
}

// TestWatchSeesOtherClients: a change by another client (a command, a transaction, a flush,
// a swap) between WATCH and EXEC aborts; a change to another key or database does not.
func TestWatchSeesOtherClients(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c1, c2 := s.Dial(t), s.Dial(t)
	const ran = "*1\r\n+PONG\r\n"

	cases := []struct {
		name  string
		setup [][]string // run by c2 before WATCH
		other [][]string // run by c2 between WATCH and EXEC
		want  string
	}{
		{"set", [][]string{{"SET", "k", "1"}}, [][]string{{"SET", "k", "2"}}, replyAborted},
		{"del", [][]string{{"SET", "k", "1"}}, [][]string{{"DEL", "k"}}, replyAborted},
		{"create", [][]string{{"DEL", "k"}}, [][]string{{"SET", "k", "1"}}, replyAborted},
		{"incr", nil, [][]string{{"INCR", "k"}}, replyAborted},
		{"expire", [][]string{{"SET", "k", "1"}}, [][]string{{"EXPIRE", "k", "100"}}, replyAborted},
		{"rename away", [][]string{{"SET", "k", "1"}}, [][]string{{"RENAME", "k", "j"}}, replyAborted},
		{"rename onto", [][]string{{"SET", "j", "1"}}, [][]string{{"RENAME", "j", "k"}}, replyAborted},
		{"other key", [][]string{{"SET", "k", "1"}}, [][]string{{"SET", "j", "2"}}, ran},
		{"other db", [][]string{{"SET", "k", "1"}},
			[][]string{{"SELECT", "1"}, {"SET", "k", "2"}, {"SELECT", "0"}}, ran},
		{"move in", [][]string{{"DEL", "k"}, {"SELECT", "1"}, {"SET", "k", "1"}, {"SELECT", "0"}},
			[][]string{{"SELECT", "1"}, {"MOVE", "k", "0"}, {"SELECT", "0"}}, replyAborted},
		{"transaction", nil, [][]string{{"MULTI"}, {"SET", "k", "x"}, {"EXEC"}}, replyAborted},
		{"discarded transaction", nil, [][]string{{"MULTI"}, {"SET", "k", "x"}, {"DISCARD"}}, ran},
		{"read", [][]string{{"SET", "k", "1"}}, [][]string{{"GET", "k"}, {"EXISTS", "k"}}, ran},
		{"no-op write", [][]string{{"SET", "k", "1"}}, [][]string{{"SET", "k", "2", "NX"}, {"DEL", "nosuch"}}, ran},
		{"flushall existing", [][]string{{"SET", "k", "1"}}, [][]string{{"FLUSHALL"}}, replyAborted},
		{"flushall missing", [][]string{{"DEL", "k"}}, [][]string{{"FLUSHALL"}}, ran},
		{"flushdb existing", [][]string{{"SET", "k", "1"}}, [][]string{{"FLUSHDB"}}, replyAborted},
		{"flushdb other db", [][]string{{"SET", "k", "1"}},
			[][]string{{"SELECT", "1"}, {"FLUSHDB"}, {"SELECT", "0"}}, ran},
		{"swapdb existing here", [][]string{{"FLUSHALL"}, {"SET", "k", "1"}}, [][]string{{"SWAPDB", "0", "1"}}, replyAborted},
		{"swapdb existing there", [][]string{{"FLUSHALL"}, {"SELECT", "1"}, {"SET", "k", "1"}, {"SELECT", "0"}},
			[][]string{{"SWAPDB", "1", "0"}}, replyAborted},
		{"swapdb missing in both", [][]string{{"FLUSHALL"}, {"SET", "j", "1"}}, [][]string{{"SWAPDB", "0", "1"}}, ran},
		{"swapdb of other dbs", [][]string{{"FLUSHALL"}, {"SET", "k", "1"}}, [][]string{{"SWAPDB", "2", "3"}}, ran},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range tc.setup {
				c2.Do(cmd...)
			}
			expect(t, c1, replyOK, "WATCH", "k")
			for _, cmd := range tc.other {
				c2.Do(cmd...)
			}
			if got := watchedExec(t, c1); got != tc.want {
				t.Fatalf("EXEC: %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWatchExpiry: a watched key that expires before EXEC aborts it, whether EXEC finds it
// still stored (lazy expiry) or active expiry removed it; a key already expired when WATCH
// ran does not.
func TestWatchExpiry(t *testing.T) {
	for _, hz := range []int{1, 100} { // active expiry once a second, or 100 times a second
		t.Run(fmt.Sprintf("hz=%d", hz), func(t *testing.T) {
			s := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Hz = hz })
			c := s.Dial(t)
			expect(t, c, replyOK, "SET", "k", "v", "PX", "30")
			expect(t, c, replyOK, "WATCH", "k")
			waitExpired(t, c, "k")
			stored := c.Do("DBSIZE") // ":1": EXEC meets it stored but expired
			if got := watchedExec(t, c); got != replyAborted {
				t.Fatalf("key expired after WATCH (dbsize %q): EXEC %q, want abort", stored, got)
			}

			expect(t, c, replyOK, "SET", "k", "v", "PX", "1")
			waitExpired(t, c, "k")
			expect(t, c, replyOK, "WATCH", "k")
			if got := watchedExec(t, c); got != "*1\r\n+PONG\r\n" {
				t.Fatalf("key expired before WATCH: EXEC %q, want it run", got)
			}

			// Already expired at WATCH time, then written: a change.
			expect(t, c, replyOK, "SET", "k", "v", "PX", "1")
			waitExpired(t, c, "k")
			expect(t, c, replyOK, "WATCH", "k")
			expect(t, c, replyOK, "SET", "k", "new")
			if got := watchedExec(t, c); got != replyAborted {
				t.Fatalf("expired key rewritten: EXEC %q, want abort", got)
			}
		})
	}
}

// waitExpired waits until key's TTL has run out (PTTL answers -2).
func waitExpired(t *testing.T, c *servertest.Conn, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Do("PTTL", key) != ":-2\r\n" {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not expire", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWatchActiveExpiry: active expiry removing a watched key that was live at WATCH time
// aborts the transaction of another client.
func TestWatchActiveExpiry(t *testing.T) {
	s := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Hz = 100 })
	c1, c2 := s.Dial(t), s.Dial(t)
	expect(t, c2, replyOK, "SET", "k", "v", "PX", "20")
	expect(t, c1, replyOK, "WATCH", "k")
	deadline := time.Now().Add(10 * time.Second)
	for c2.Do("DBSIZE") != ":0\r\n" { // removed by the expirer, not by a read
		if time.Now().After(deadline) {
			t.Fatal("active expiry did not remove the key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := watchedExec(t, c1); got != replyAborted {
		t.Fatalf("EXEC: %q, want abort", got)
	}
}

// TestQueuedArgumentsCopied: a long pipeline of queued commands sent in one write, larger than
// the read buffer, keeps every argument intact until EXEC.
func TestQueuedArgumentsCopied(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	const n = 300
	value := func(i int) string { return strings.Repeat(strconv.Itoa(i%10), 500+i) }
	var pipe []byte
	pipe = append(pipe, servertest.EncodeCommand("MULTI")...)
	for i := range n {
		pipe = append(pipe, servertest.EncodeCommand("SET", fmt.Sprintf("key:%d", i), value(i))...)
	}
	pipe = append(pipe, servertest.EncodeCommand("EXEC")...)
	if _, err := c.Net().Write(pipe); err != nil {
		t.Fatal(err)
	}
	if got := c.Read(); got != replyOK {
		t.Fatalf("MULTI: %q", got)
	}
	for i := range n {
		if got := c.Read(); got != replyQueued {
			t.Fatalf("SET %d: %q", i, got)
		}
	}
	if got := c.Read(); got != "*300\r\n"+strings.Repeat(replyOK, n) {
		t.Fatalf("EXEC: %q", got)
	}
	for i := range n {
		want := fmt.Sprintf("$%d\r\n%s\r\n", len(value(i)), value(i))
		if got := c.Do("GET", fmt.Sprintf("key:%d", i)); got != want {
			t.Fatalf("key:%d = %.40q..., want %.40q...", i, got, want)
		}
	}
}

func newGoRedis(t *testing.T, s *servertest.Strata, poolSize int) *redis.Client {
	rc := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: poolSize, MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// TestTransfersConserveTotal: many clients move amounts between accounts with optimistic
// WATCH/GET/MULTI/SET/EXEC transactions, retrying when EXEC aborts. If an update were lost
// (EXEC running on values another client changed after WATCH), the total would drift.
func TestTransfersConserveTotal(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const (
		accounts  = 8
		clients   = 12
		transfers = 60
		initial   = 1000
	)
	rc := newGoRedis(t, s, clients)
	ctx := context.Background()
	for i := range accounts {
		if err := rc.Set(ctx, fmt.Sprintf("acct:%d", i), initial, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg      sync.WaitGroup
		retries sync.Map
	)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range transfers {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				a, b := fmt.Sprintf("acct:%d", from), fmt.Sprintf("acct:%d", to)
				amount := rng.IntN(50)
				for attempt := 0; ; attempt++ {
					err := rc.Watch(ctx, func(tx *redis.Tx) error {
						va, err := tx.Get(ctx, a).Int()
						if err != nil {
							return err
						}
						vb, err := tx.Get(ctx, b).Int()
						if err != nil {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, a, va-amount, 0)
							p.Set(ctx, b, vb+amount, 0)
							return nil
						})
						return err
					}, a, b)
					if err == nil {
						break
					}
					if !errors.Is(err, redis.TxFailedErr) {
						t.Errorf("transfer: %v", err)
						return
					}
					n, _ := retries.LoadOrStore(w, new(int))
					*n.(*int)++
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range accounts {
		v, err := rc.Get(ctx, fmt.Sprintf("acct:%d", i)).Int()
		if err != nil {
			t.Fatal(err)
		}
		total += v
	}
	if total != accounts*initial {
		t.Fatalf("total %d, want %d: an update was lost", total, accounts*initial)
	}
	aborted := 0
	retries.Range(func(_, v any) bool { aborted += *v.(*int); return true })
	t.Logf("%d transfers, %d aborted and retried", clients*transfers, aborted)
}

// TestIncrInMultiExact: INCRs inside MULTI/EXEC from many clients add up exactly, and a second
// counter incremented in the same transactions always equals the first.
func TestIncrInMultiExact(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const clients, rounds = 16, 100
	rc := newGoRedis(t, s, clients)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "counter")
					p.Incr(ctx, "mirror")
					return nil
				})
				if err != nil {
					t.Errorf("EXEC: %v", err)
					return
				}
				if a, b := cmds[0].(*redis.IntCmd).Val(), cmds[1].(*redis.IntCmd).Val(); a != b {
					t.Errorf("one transaction saw counter %d and mirror %d", a, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, key := range []string{"counter", "mirror"} {
		if n, err := rc.Get(ctx, key).Int(); err != nil || n != clients*rounds {
			t.Fatalf("%s = %d (%v), want %d", key, n, err, clients*rounds)
		}
	}
}

// TestExecIsNotInterleaved: while one client runs transactions that write many keys, other
// clients reading those keys (MGET, or their own transactions) see every key from the same
// transaction, never a mix.
func TestExecIsNotInterleaved(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const keys, rounds, readers = 50, 40, 4
	rc := newGoRedis(t, s, readers+1)
	ctx := context.Background()
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("k%d", i)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for r := 1; r <= rounds; r++ {
			_, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range names {
					p.Set(ctx, k, r, 0)
					p.Incr(ctx, k+":n")
				}
				return nil
			})
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	}()
	check := func(who string, vals []any) bool {
		first := vals[0]
		for i, v := range vals {
			if v != first {
				t.Errorf("%s saw %v at %s and %v at %s", who, first, names[0], v, names[i])
				return false
			}
		}
		return true
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if r%2 == 0 {
					vals, err := rc.MGet(ctx, names...).Result()
					if err != nil {
						t.Errorf("MGET: %v", err)
						return
					}
					if !check("MGET", vals) {
						return
					}
					continue
				}
				cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
					for _, k := range names {
						p.Get(ctx, k+":n")
					}
					return nil
				})
				if err != nil && !errors.Is(err, redis.Nil) {
					t.Errorf("reader EXEC: %v", err)
					return
				}
				vals := make([]any, len(cmds))
				for i, c := range cmds {
					vals[i] = c.(*redis.StringCmd).Val()
				}
				if !check("EXEC", vals) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := rc.Get(ctx, "k0:n").Int(); err != nil || n != rounds {
		t.Fatalf("k0:n = %d (%v), want %d", n, err, rounds)
	}
}

// TestExecWithGlobalCommand: a transaction holding FLUSHDB (the global latch) and one with
// SELECT run all their commands in one step.
func TestExecWithGlobalCommand(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	for _, cmd := range [][]string{{"MULTI"}, {"SET", "a", "1"}, {"FLUSHDB"}, {"SET", "b", "2"},
		{"SELECT", "1"}, {"SET", "c", "3"}} {
		c.Do(cmd...)
	}
	if got := c.Do("EXEC"); got != "*5\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
	expect(t, c, "$1\r\n3\r\n", "GET", "c") // still in database 1
	expect(t, c, replyOK, "SELECT", "0")
	expect(t, c, "*1\r\n$1\r\nb\r\n", "KEYS", "*")
}

// TestClientListShowsTransaction: CLIENT LIST's multi field counts the queued commands and its
// flags show x in MULTI and d once a watched key changed, as Redis 7.0 prints them.
func TestClientListShowsTransaction(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c1, c2 := s.Dial(t), s.Dial(t)
	id := strings.TrimSuffix(strings.TrimPrefix(c1.Do("CLIENT", "ID"), ":"), "\r\n")
	line := func() map[string]string {
		t.Helper()
		l := clientList(t, c2, "ID", id)
		if len(l) != 1 {
			t.Fatalf("CLIENT LIST ID %s: %v", id, l)
		}
		return l[0]
	}
	check := func(flags, multi string) {
		t.Helper()
		if l := line(); l["flags"] != flags || l["multi"] != multi {
			t.Fatalf("flags=%s multi=%s, want flags=%s multi=%s", l["flags"], l["multi"], flags, multi)
		}
	}
	check("N", "-1")
	expect(t, c1, replyOK, "WATCH", "k")
	expect(t, c1, replyOK, "MULTI")
	check("x", "0")
	expect(t, c1, replyQueued, "SET", "a", "1")
	expect(t, c1, replyQueued, "GET", "a")
	check("x", "2")
	expect(t, c2, replyOK, "SET", "k", "1")
	check("xd", "2")
	// A doomed transaction keeps no more commands (as Redis).
	expect(t, c1, replyQueued, "GET", "a")
	check("xd", "2")
	expect(t, c1, replyAborted, "EXEC")
	check("N", "-1")
	expect(t, c1, replyOK, "WATCH", "k")
	expect(t, c2, replyOK, "SET", "k", "2")
	check("d", "-1")
	expect(t, c1, replyOK, "UNWATCH")
	check("N", "-1")
}

// TestWatchesReleased: UNWATCH, EXEC, DISCARD, RESET and a closed connection leave nothing in
// the WATCH registry.
func TestWatchesReleased(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	watched := func(want int64) {
		t.Helper()
		if got := s.WatchedKeys(); got != want {
			t.Fatalf("registry holds %d watched keys, want %d", got, want)
		}
	}
	expect(t, c, replyOK, "WATCH", "a", "b", "a")
	expect(t, c, replyOK, "WATCH", "c")
	watched(3)
	expect(t, c, replyOK, "UNWATCH")
	watched(0)
	for _, end := range [][]string{{"EXEC"}, {"DISCARD"}, {"RESET"}} {
		expect(t, c, replyOK, "WATCH", "a", "b")
		c.Do("MULTI")
		watched(2)
		c.Do(end...)
		watched(0)
	}
	other := s.Dial(t)
	expect(t, other, replyOK, "WATCH", "a", "b")
	watched(2)
	other.Net().Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.WatchedKeys() != 0 { // the server notices the close on its own goroutine
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection still watches %d keys", s.WatchedKeys())
		}
		time.Sleep(time.Millisecond)
	}
}
