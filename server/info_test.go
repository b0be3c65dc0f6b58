package server_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/server/servertest"
)

// infoSections splits an INFO text into its sections (title -> field names in order) and
// checks the framing: "# Title" headers, "name:value" lines, CRLF endings, one blank line
// between sections.
func infoSections(t *testing.T, text string) (titles []string, fields map[string][]string, values map[string]string) {
	t.Helper()
	fields = map[string][]string{}
	values = map[string]string{}
	if text == "" {
		return nil, fields, values
	}
	if !strings.HasSuffix(text, "\r\n") {
		t.Fatalf("INFO text does not end with CRLF: %q", text[max(0, len(text)-40):])
	}
	cur := ""
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "# "):
			if i > 0 && lines[i-1] != "" {
				t.Fatalf("section %q not preceded by a blank line", line)
			}
			cur = line[2:]
			titles = append(titles, cur)
			fields[cur] = []string{}
		case line == "":
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "# ") {
				t.Fatalf("blank line not followed by a section header at line %d", i)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || cur == "" || strings.ContainsAny(line, "\n\r") {
				t.Fatalf("malformed INFO line %q", line)
			}
			fields[cur] = append(fields[cur], name)
			values[name] = value
		}
	}
	return titles, fields, values
}

func info(t *testing.T, c *servertest.Conn, args ...string) string {
	t.Helper()
	reply := parseValue(t, c.Do(append([]string{"INFO"}, args...)...))
	text, ok := reply.(string)
	if !ok {
		t.Fatalf("INFO %v: %v", args, reply)
	}
	return text
}

// TestInfoMatchesRedisLayout compares INFO's sections and field names, in order, with the
// real redis-server's: every field Redis prints is there, except the few Strata cannot
// honestly report, and Strata adds only strata_version.
func TestInfoMatchesRedisLayout(t *testing.T) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	rc, sc := r.Dial(t), s.Dial(t)
	for _, c := range []*servertest.Conn{rc, sc} { // give every dynamic section a line
		c.Do("SET", "k", "v", "EX", "100")
		c.Do("NOSUCHCOMMAND")
	}
	rTitles, rFields, _ := infoSections(t, info(t, rc, "everything"))
	sTitles, sFields, _ := infoSections(t, info(t, sc, "everything"))
	if strings.Join(sTitles, ",") != strings.Join(rTitles, ",") {
		t.Fatalf("sections %v, Redis %v", sTitles, rTitles)
	}
	absent := map[string]bool{"used_cpu_sys_main_thread": true, "used_cpu_user_main_thread": true}
	extra := map[string]bool{}
	for _, f := range []string{"version", "hot_keys", "hot_bytes", "hot_capacity", "hot_hits",
		"hot_misses", "go_heap", "disk_bytes", "compaction_debt", "compression_ratio",
		"pebble_block_cache", "pebble_memtables", "pebble_table_cache"} {
		extra["strata_"+f] = true
	}
	dynamic := map[string]bool{"Commandstats": true, "Errorstats": true, "Latencystats": true, "Keyspace": true}
	for _, title := range rTitles {
		if dynamic[title] {
			continue
		}
		var want, got []string
		for _, f := range rFields[title] {
			if !absent[f] {
				want = append(want, f)
			}
		}
		for _, f := range sFields[title] {
			if !extra[f] {
				got = append(got, f)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("section %s fields:\n  strata %v\n  redis  %v", title, got, want)
		}
	}
	for _, title := range []string{"Errorstats", "Keyspace"} {
		if strings.Join(sFields[title], " ") != strings.Join(rFields[title], " ") {
			t.Errorf("section %s: strata %v, redis %v", title, sFields[title], rFields[title])
		}
	}
}

func TestInfoSectionsAndValues(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	defaults := "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Errorstats,Cluster,Keyspace"
	all := "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Commandstats,Errorstats,Latencystats,Cluster,Keyspace"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, defaults},
		{[]string{"default"}, defaults},
		{[]string{"DEFAULT"}, defaults},
		{[]string{"all"}, all},
		{[]string{"everything"}, all},
		{[]string{"server"}, "Server"},
		{[]string{"CPU", "server"}, "Server,CPU"},
		{[]string{"keyspace", "nosuch", "clients"}, "Clients,Keyspace"},
		{[]string{"default", "commandstats"}, "Server,Clients,Memory,Persistence,Stats,Replication,CPU,Modules,Commandstats,Errorstats,Cluster,Keyspace"},
		{[]string{"nosuch"}, ""},
	} {
		titles, _, _ := infoSections(t, info(t, c, tc.args...))
		if got := strings.Join(titles, ","); got != tc.want {
			t.Errorf("INFO %v: sections %q, want %q", tc.args, got, tc.want)
		}
	}

	c.Do("SET", "a", "1")
	c.Do("SET", "b", "2", "EX", "1000")
	c.Do("GET", "a")
	c.Do("GET")                          // rejected: wrong arity
	c.Do("CONFIG", "SET", "nosuch", "1") // failed: error reply
	c.Do("SELECT", "5")
	c.Do("SET", "c", "3")
	c.Do("SELECT", "0")
	_, _, v := infoSections(t, info(t, c, "all"))
	for name, want := range map[string]string{
		"redis_version":       "7.0.15",
		"redis_mode":          "standalone",
		"role":                "master",
		"connected_clients":   "1",
		"maxclients":          "10000",
		"maxmemory":           "0",
		"maxmemory_human":     "0B",
		"maxmemory_policy":    "noeviction",
		"aof_enabled":         "0",
		"loading":             "0",
		"cluster_enabled":     "0",
		"db0":                 "keys=2,expires=1,avg_ttl=0",
		"db5":                 "keys=1,expires=0,avg_ttl=0",
		"errorstat_ERR":       "count=2",
		"cmdstat_get":         "calls=1,usec=" + field(v["cmdstat_get"], "usec") + ",usec_per_call=" + field(v["cmdstat_get"], "usec_per_call") + ",rejected_calls=1,failed_calls=0",
		"total_error_replies": "2",
		"tcp_port":            s.Addr[strings.LastIndexByte(s.Addr, ':')+1:],
	} {
		if v[name] != want {
			t.Errorf("%s: %q, want %q", name, v[name], want)
		}
	}
	if !strings.HasSuffix(v["cmdstat_config|set"], ",rejected_calls=0,failed_calls=1") {
		t.Errorf("cmdstat_config|set: %q", v["cmdstat_config|set"])
	}
	// The fields redis_exporter turns into metrics parse as numbers.
	for _, name := range []string{"uptime_in_seconds", "connected_clients", "blocked_clients", "used_memory",
		"used_memory_rss", "used_memory_peak", "total_system_memory", "mem_fragmentation_ratio",
		"rdb_changes_since_last_save", "rdb_last_bgsave_time_sec", "aof_enabled", "total_connections_received",
		"total_commands_processed", "instantaneous_ops_per_sec", "total_net_input_bytes", "rejected_connections",
		"expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses", "connected_slaves",
		"repl_backlog_size", "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "process_id", "hz"} {
		if _, err := strconv.ParseFloat(v[name], 64); err != nil {
			t.Errorf("%s=%q does not parse as a number", name, v[name])
		}
	}
	if n, _ := strconv.Atoi(v["total_commands_processed"]); n < 7 {
		t.Errorf("total_commands_processed %d", n)
	}
	if len(v["run_id"]) != 40 || len(v["master_replid"]) != 40 || v["run_id"] == v["master_replid"] {
		t.Errorf("run_id %q master_replid %q", v["run_id"], v["master_replid"])
	}

	// RESP3: a verbatim string.
	c.Do("HELLO", "3")
	if raw := c.Do("INFO", "cluster"); raw != "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n" {
		t.Errorf("RESP3 INFO: %q", raw)
	}

	// RESETSTAT: counters and per-command statistics start again.
	if got := c.Do("CONFIG", "RESETSTAT"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	_, fields, v := infoSections(t, info(t, c, "commandstats", "errorstats", "stats"))
	if got := strings.Join(fields["Commandstats"], " "); got != "cmdstat_config|resetstat" {
		t.Errorf("commandstats after RESETSTAT: %v", got)
	}
	if len(fields["Errorstats"]) != 0 || v["total_error_replies"] != "0" || v["total_connections_received"] != "0" {
		t.Errorf("stats after RESETSTAT: %v %v", fields["Errorstats"], v)
	}
}

func field(kv, name string) string {
	for _, part := range strings.Split(kv, ",") {
		if k, val, ok := strings.Cut(part, "="); ok && k == name {
			return val
		}
	}
	return ""
}

// TestInfoExpiredKeys: keys removed by active expiry are counted.
func TestInfoExpiredKeys(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Do("SET", "k", "v", "PX", "1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, v := infoSections(t, info(t, c, "stats"))
		if v["expired_keys"] == "1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired_keys %q after 10s", v["expired_keys"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisCliInfo: redis-cli reads INFO in both protocols.
func TestRedisCliInfo(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed")
	}
	s := servertest.StartStrata(t, nil)
	host, port, _ := strings.Cut(s.Addr, ":")
	for _, proto := range []string{"-2", "-3"} {
		out, err := exec.Command(cli, "-h", host, "-p", port, proto, "INFO", "server").CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %s INFO: %v\n%s", proto, err, out)
		}
		if !strings.HasPrefix(string(out), "# Server\r\nredis_version:7.0.15\r\n") {
			t.Errorf("redis-cli %s INFO server: %q", proto, out)
		}
	}
}

// TestInfoScriptCounts: INFO memory counts cached scripts, functions and libraries as Redis.
func TestInfoScriptCounts(t *testing.T) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	field := func(c *servertest.Conn, name string) string {
		info := parseValue(t, c.Do("INFO", "memory")).(string)
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				return v
			}
		}
		return "missing"
	}
	for _, c := range []*servertest.Conn{r.Dial(t), s.Dial(t)} {
		c.Do("SCRIPT", "LOAD", "return 1")
		c.Do("SCRIPT", "LOAD", "return 2")
		c.Do("FUNCTION", "LOAD", "#!lua name=infolib\nredis.register_function('f1', function() return 1 end)\nredis.register_function('f2', function() return 2 end)")
	}
	rc, sc := r.Dial(t), s.Dial(t)
	for _, f := range []string{"number_of_cached_scripts", "number_of_functions", "number_of_libraries"} {
		if want, got := field(rc, f), field(sc, f); want != got {
			t.Errorf("%s: redis %s, strata %s", f, want, got)
		}
	}
}
