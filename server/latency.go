package server

import (
	"math/bits"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// The latency monitor (LATENCY LATEST, HISTORY, GRAPH, DOCTOR, RESET) and the per-command
// latency histograms (LATENCY HISTOGRAM, INFO latencystats), as Redis 7.0 keeps them.
//
// Events are recorded when they last at least latency-monitor-threshold milliseconds (0
// turns the monitor off). Strata measures these, honestly:
//
//	command        a command that is not flagged fast: its handler and its commit, not the
//	               time it waited for its key locks (Redis, single threaded, never waits)
//	fast-command   the same for commands flagged fast
//	expire-cycle   one tick of active expiry (the engine's expirer)
//
// Redis's fork, AOF and eviction events have no counterpart: Strata never forks, its log is
// Pebble's write-ahead log, and eviction only drops cached copies.
//
// Each event keeps its last 160 samples, at most one per second (the largest), and its all
// time maximum, exactly as Redis's latencyTimeSeries.

const (
	latencyTSLen     = 160 // samples kept per event (Redis's LATENCY_TS_LEN)
	latencyGraphCols = 80
)

type latencySample struct {
	time    int64 // unix seconds; 0: an empty slot
	latency int64 // milliseconds
}

type latencySeries struct {
	idx     int
	max     int64
	samples [latencyTSLen]latencySample
}

// latencyMonitor holds the event time series.
type latencyMonitor struct {
	threshold atomic.Int64 // latency-monitor-threshold, ms

	mu     sync.Mutex
	events map[string]*latencySeries
}

func newLatencyMonitor() *latencyMonitor {
	return &latencyMonitor{events: map[string]*latencySeries{}}
}

// addIfNeeded records a sample of event when it reaches the threshold (Redis's
// latencyAddSampleIfNeeded).
func (l *latencyMonitor) addIfNeeded(event string, d time.Duration) {
	th := l.threshold.Load()
	ms := d.Milliseconds()
	if th == 0 || ms < th {
		return
	}
	l.add(event, ms, time.Now().Unix())
}

// add records one sample: a sample in the same second as the previous one only raises it.
func (l *latencyMonitor) add(event string, ms, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.events[event]
	if ts == nil {
		ts = &latencySeries{}
		l.events[event] = ts
	}
	ts.max = max(ts.max, ms)
	prev := &ts.samples[(ts.idx+latencyTSLen-1)%latencyTSLen]
	if prev.time == now {
		prev.latency = max(prev.latency, ms)
		return
	}
	ts.samples[ts.idx] = latencySample{time: now, latency: ms}
	ts.idx = (ts.idx + 1) % latencyTSLen
}

// reset drops the named events (all of them when names is empty) and says how many it
// dropped. Names match without case, as Redis's strcasecmp.
func (l *latencyMonitor) reset(names [][]byte) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(names) == 0 {
		n := len(l.events)
		clear(l.events)
		return n
	}
	n := 0
	for _, name := range names {
		for ev := range l.events {
			if strings.EqualFold(ev, string(name)) {
				delete(l.events, ev)
				n++
			}
		}
	}
	return n
}

// eventNames returns the recorded events in name order (Redis answers in its dict's order,
// which is arbitrary).
func (l *latencyMonitor) eventNames() []string {
	names := make([]string, 0, len(l.events))
	for ev := range l.events {
		names = append(names, ev)
	}
	sort.Strings(names)
	return names
}

// ---- LATENCY ----

var latencyHelp = []string{
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"GRAPH <event>",
	"    Return an ASCII latency graph for the <event> class.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
}

func latencyCommand() *Command {
	const tips = "nondeterministic_output request_policy:all_nodes response_policy:special"
	sub := func(name string, arity int, h func(*Ctx), summary, complexity, since string) *Command {
		return &Command{Name: name, Arity: arity, Flags: "admin noscript loading stale", Lock: LockNone,
			Tips: tips, Handler: h, Since: since, Summary: summary, Complexity: complexity}
	}
	reset := sub("reset", -2, cmdLatencyReset, "Reset latency data for one or more events.", "O(1)", "2.8.13")
	reset.Tips = "request_policy:all_nodes response_policy:all_succeeded"
	return &Command{Name: "latency", Arity: -2, Lock: LockNone,
		Group: "server", Since: "2.8.13", Summary: "A container for latency diagnostics commands",
		Complexity: "Depends on subcommand.",
		Subs: subs("latency",
			sub("doctor", 2, cmdLatencyDoctor, "Return a human readable latency analysis report.", "O(1)", "2.8.13"),
			sub("graph", 3, cmdLatencyGraph, "Return a latency graph for the event.", "O(1)", "2.8.13"),
			&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
				Handler: func(x *Ctx) { x.help("LATENCY", latencyHelp) },
				Since:   "2.8.13", Summary: "Show helpful text about the different subcommands.", Complexity: "O(1)"},
			sub("histogram", -2, cmdLatencyHistogram,
				"Return the cumulative distribution of latencies of a subset of commands or all.",
				"O(N) where N is the number of commands with latency information being retrieved.", "7.0.0"),
			sub("history", 3, cmdLatencyHistory, "Return timestamp-latency samples for the event.", "O(1)", "2.8.13"),
			sub("latest", 2, cmdLatencyLatest, "Return the latest latency samples for all events.", "O(1)", "2.8.13"),
			reset,
		)}
}

func cmdLatencyLatest(x *Ctx) {
	l := x.s.latency
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.eventNames()
	x.ArrayLen(len(names))
	for _, ev := range names {
		ts := l.events[ev]
		last := ts.samples[(ts.idx+latencyTSLen-1)%latencyTSLen]
		x.ArrayLen(4)
		x.BulkString(ev)
		x.Int(last.time)
		x.Int(last.latency)
		x.Int(ts.max)
	}
}

func cmdLatencyHistory(x *Ctx) {
	l := x.s.latency
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.events[x.Arg(2)]
	if ts == nil {
		x.ArrayLen(0)
		return
	}
	var samples []latencySample
	for j := 0; j < latencyTSLen; j++ {
		if s := ts.samples[(ts.idx+j)%latencyTSLen]; s.time != 0 {
			samples = append(samples, s)
		}
	}
	x.ArrayLen(len(samples))
	for _, s := range samples {
		x.ArrayLen(2)
		x.Int(s.time)
		x.Int(s.latency)
	}
}

func cmdLatencyReset(x *Ctx) { x.Int(int64(x.s.latency.reset(x.Args[2:]))) }

func cmdLatencyGraph(x *Ctx) {
	l := x.s.latency
	l.mu.Lock()
	ts := l.events[x.Arg(2)]
	var graph string
	if ts != nil {
		graph = latencyGraph(x.Arg(2), ts, time.Now().Unix())
	}
	l.mu.Unlock()
	if ts == nil {
		x.Error(engine.ErrNoLatencySamples(x.Arg(2)))
		return
	}
	x.Verbatim("txt", graph)
}

// latencyGraph draws an event's samples as Redis's latencyCommandGenSparkeline does: a
// header, a rule, and a sparkline four rows high labelled with each sample's age.
func latencyGraph(event string, ts *latencySeries, now int64) string {
	var seq sparkline
	var lo, hi int64
	for j := 0; j < latencyTSLen; j++ {
		s := ts.samples[(ts.idx+j)%latencyTSLen]
		if s.time == 0 {
			continue
		}
		if len(seq.values) == 0 {
			lo, hi = s.latency, s.latency
		} else {
			lo, hi = min(lo, s.latency), max(hi, s.latency)
		}
		elapsed := now - s.time
		var label string
		switch {
		case elapsed < 60:
			label = strconv.FormatInt(elapsed, 10) + "s"
		case elapsed < 3600:
			label = strconv.FormatInt(elapsed/60, 10) + "m"
		case elapsed < 3600*24:
			label = strconv.FormatInt(elapsed/3600, 10) + "h"
		default:
			label = strconv.FormatInt(elapsed/(3600*24), 10) + "d"
		}
		seq.add(float64(s.latency), label)
	}
	var b strings.Builder
	b.WriteString(event + " - high " + strconv.FormatInt(hi, 10) + " ms, low " + strconv.FormatInt(lo, 10) +
		" ms (all time high " + strconv.FormatInt(ts.max, 10) + " ms)\n")
	b.WriteString(strings.Repeat("-", latencyGraphCols) + "\n")
	b.WriteString(seq.render(latencyGraphCols, 4))
	return b.String()
}

// sparkline is Redis's ASCII sparkline (sparkline.c) in its filled style.
type sparkline struct {
	values   []float64
	labels   []string
	min, max float64
	nlabels  int
}

func (s *sparkline) add(v float64, label string) {
	if len(s.values) == 0 {
		s.min, s.max = v, v
	} else if v < s.min {
		s.min = v
	} else if v > s.max {
		s.max = v
	}
	s.values = append(s.values, v)
	s.labels = append(s.labels, label)
	if label != "" {
		s.nlabels++
	}
}

func (s *sparkline) render(columns, rows int) string {
	var out []byte
	for j := 0; j < len(s.values); j += columns {
		if j != 0 {
			out = append(out, '\n')
		}
		out = s.renderRange(out, rows, j, min(columns, len(s.values)-j))
	}
	return string(out)
}

func (s *sparkline) renderRange(out []byte, rows, offset, n int) []byte {
	const charsetFill = "_o#"
	const labelMarginTop = 1
	relmax := s.max - s.min
	if relmax == 0 {
		relmax = 1
	}
	steps := len(charsetFill) * rows
	chars := make([]byte, n)
	for row := 0; ; row++ {
		loop := false
		for j := range chars {
			chars[j] = ' '
		}
		for j := 0; j < n; j++ {
			relval := s.values[offset+j] - s.min
			// C's (int)(relval*steps)/relmax, truncated again on assignment.
			step := int(float64(int(relval*float64(steps))) / relmax)
			step = min(max(step, 0), steps-1)
			if row < rows {
				loop = true
				charidx := step - (rows-row-1)*len(charsetFill)
				if charidx >= 0 && charidx < len(charsetFill) {
					chars[j] = charsetFill[charidx]
				} else if charidx >= len(charsetFill) {
					chars[j] = '|'
				}
				continue
			}
			if s.nlabels > 0 && row-rows < labelMarginTop {
				loop = true
				break
			}
			if label := s.labels[offset+j]; label != "" {
				if c := row - rows - labelMarginTop; len(label) > c {
					loop = true
					chars[j] = label[c]
				}
			}
		}
		if !loop {
			return out
		}
		out = append(out, chars...)
		out = append(out, '\n')
	}
}

func cmdLatencyDoctor(x *Ctx) {
	s := x.s
	s.cfgMu.RLock()
	slowlog, hz, fsync := s.cfg.SlowlogLogSlowerThan, s.cfg.Hz, s.cfg.AppendFsync
	s.cfgMu.RUnlock()
	x.Verbatim("txt", s.latency.report(slowlog, hz, fsync == "always", anonHugePages() > 0))
}

// report is LATENCY DOCTOR's text: Redis's createLatencyReport, over the events Strata
// records.
func (l *latencyMonitor) report(slowlogSlowerThan int64, hz int, fsyncAlways, thp bool) string {
	threshold := l.threshold.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 && threshold == 0 {
		return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. " +
			"You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. " +
			"If we weren't in a deep space mission I'd suggest to take a look at " +
			"https://redis.io/topics/latency-monitor.\n"
	}
	var b strings.Builder
	var slowlogEnabled, slowlogTuning, slowlogInspect, scheduler, hzAdvice, largeObjects, relaxFsync bool
	advices := 0
	now := time.Now().Unix()
	for i, ev := range l.eventNames() {
		ts := l.events[ev]
		if i == 0 {
			b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
		}
		st := analyzeLatency(ts, now)
		period := strconv.FormatFloat(float64(st.period)/float64(st.samples), 'f', 2, 64)
		b.WriteString(strconv.Itoa(i+1) + ". " + ev + ": " + strconv.Itoa(st.samples) +
			" latency spikes (average " + strconv.FormatInt(st.avg, 10) + "ms, mean deviation " +
			strconv.FormatInt(st.mad, 10) + "ms, period " + period + " sec). Worst all time event " +
			strconv.FormatInt(ts.max, 10) + "ms.")
		switch strings.ToLower(ev) {
		case "command":
			if slowlogSlowerThan < 0 {
				slowlogEnabled = true
				advices++
			} else if slowlogSlowerThan/1000 > threshold {
				slowlogTuning = true
				advices++
			}
			slowlogInspect, largeObjects = true, true
			advices += 2
		case "fast-command":
			scheduler = true
			advices++
		case "aof-fsync-always":
			relaxFsync = true
			advices++
		case "expire-cycle":
			hzAdvice, largeObjects = true, true
			advices += 2
		}
		b.WriteString("\n")
	}
	if thp {
		advices++
	}
	switch {
	case len(l.events) == 0 && advices == 0:
		b.WriteString("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n")
	case advices == 0:
		b.WriteString("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n")
	default:
		b.WriteString("\nI have a few advices for you:\n\n")
		ms := strconv.FormatInt(threshold*1000, 10)
		if slowlogEnabled {
			b.WriteString("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than " + ms + "'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n")
		}
		if slowlogTuning {
			b.WriteString("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than " + ms + "'.\n")
		}
		if slowlogInspect {
			b.WriteString("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n")
		}
		if scheduler {
			b.WriteString("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n" +
				"  1) Lower the system load.\n" +
				"  2) Use a computer / VM just for Redis if you are running other software in the same system.\n" +
				"  3) Check if you have a \"noisy neighbour\" problem.\n" +
				"  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n" +
				"  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n")
		}
		if relaxFsync && fsyncAlways {
			b.WriteString("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n")
		}
		if hzAdvice && hz < 100 {
			b.WriteString("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n")
		}
		if largeObjects {
			b.WriteString("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n")
		}
		if thp {
			b.WriteString("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n")
		}
	}
	return b.String()
}

type latencyStats struct {
	samples        int
	avg, mad       int64
	period         int64
	minimum, maxim int64
}

// analyzeLatency computes an event's average, mean deviation and sampling period, as
// Redis's analyzeLatencyForEvent does (integer arithmetic included).
func analyzeLatency(ts *latencySeries, now int64) latencyStats {
	var st latencyStats
	var sum int64
	for _, s := range ts.samples {
		if s.time == 0 {
			continue
		}
		st.samples++
		if st.samples == 1 {
			st.minimum, st.maxim = s.latency, s.latency
		} else {
			st.minimum, st.maxim = min(st.minimum, s.latency), max(st.maxim, s.latency)
		}
		sum += s.latency
		if st.period == 0 || s.time < st.period {
			st.period = s.time
		}
	}
	if st.samples == 0 {
		return st
	}
	st.avg = sum / int64(st.samples)
	st.period = max(now-st.period, 1)
	var dev int64
	for _, s := range ts.samples {
		if s.time == 0 {
			continue
		}
		d := st.avg - s.latency
		if d < 0 {
			d = -d
		}
		dev += d
	}
	st.mad = dev / int64(st.samples)
	return st
}

// anonHugePages is the process's AnonHugePages in bytes (Redis's THPGetAnonHugePagesSize);
// 0 when unknown.
func anonHugePages() int64 {
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// ---- per-command latency histograms ----

// A commandHistogram is the histogram Redis 7.0 keeps per command when latency-tracking is
// on: an HdrHistogram of durations in nanoseconds from 1 ns to 1 s with two significant
// digits, which is 23 buckets of 128 sub-buckets (128 values below 256 ns, then ranges
// doubling with each bucket). Durations are measured in microseconds and recorded times
// 1000, as Redis records them; counts are atomic so that commands record concurrently.
type commandHistogram struct {
	counts [histCountsLen]atomic.Int64 // the total is their sum, counted when read
}

const (
	histMinValue      = 1
	histMaxValue      = 1_000_000_000
	histSubHalfMag    = 7 // log2 of the sub-bucket half count for 2 significant digits
	histSubHalfCount  = 1 << histSubHalfMag
	histSubCount      = 2 * histSubHalfCount
	histBucketCount   = 23 // buckets needed to reach histMaxValue
	histCountsLen     = (histBucketCount + 1) * histSubHalfCount
	histFirstLogLevel = 1024 // LATENCY HISTOGRAM's first bucket, in ns
)

func histBucket(v int64) (bucket, sub int) {
	bucket = 64 - bits.LeadingZeros64(uint64(v|(histSubCount-1))) - (histSubHalfMag + 1)
	return bucket, int(v >> bucket)
}

func histIndex(v int64) int {
	b, sb := histBucket(v)
	return (b+1)<<histSubHalfMag + sb - histSubHalfCount
}

func histValueAt(i int) int64 {
	b := i>>histSubHalfMag - 1
	sb := i&(histSubHalfCount-1) + histSubHalfCount
	if b < 0 {
		sb -= histSubHalfCount
		b = 0
	}
	return int64(sb) << b
}

func histLowestEquivalent(v int64) int64 {
	b, sb := histBucket(v)
	return int64(sb) << b
}

func histRangeSize(v int64) int64 {
	b, sb := histBucket(v)
	if sb >= histSubCount {
		b++
	}
	return 1 << b
}

func histHighestEquivalent(v int64) int64 { return histLowestEquivalent(v) + histRangeSize(v) - 1 }

// record adds one duration.
func (h *commandHistogram) record(d time.Duration) {
	v := min(max(d.Microseconds()*1000, histMinValue), histMaxValue)
	h.counts[histIndex(v)].Add(1)
}

// snapshot copies the counts and returns their total.
func (h *commandHistogram) snapshot(counts *[histCountsLen]int64) int64 {
	var total int64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	return total
}

// valueAtPercentile is hdr_value_at_percentile: the highest value equivalent to the one
// below which p percent of the recorded values fall.
func (h *commandHistogram) valueAtPercentile(p float64) int64 {
	var counts [histCountsLen]int64
	total := h.snapshot(&counts)
	want := int64(min(p, 100)/100*float64(total) + 0.5)
	want = max(want, 1)
	var cum int64
	for i, n := range counts {
		cum += n
		if cum >= want {
			v := histValueAt(i)
			if p == 0 {
				return histLowestEquivalent(v)
			}
			return histHighestEquivalent(v)
		}
	}
	return 0
}

// cumulative returns LATENCY HISTOGRAM's buckets: walking the log-scale reporting levels
// 1024 ns, 2048 ns ... (hdr_iter_log_init(h, 1024, 2)), the upper bound of each level in
// microseconds and the number of values up to it, for the levels where that number grew.
func (h *commandHistogram) cumulative() (calls int64, buckets [][2]int64) {
	var counts [histCountsLen]int64
	total := h.snapshot(&counts)
	idx, cum, value, highest := -1, int64(0), int64(0), int64(0)
	level := int64(histFirstLogLevel)
	levelLowest := histLowestEquivalent(level)
	move := func() bool {
		idx++
		if idx >= histCountsLen {
			return false
		}
		cum += counts[idx]
		value = histValueAt(idx)
		highest = histHighestEquivalent(value)
		return true
	}
	next := func() bool {
		if cum >= total && (idx >= histCountsLen || histValueAt(idx+1) <= levelLowest) {
			return false
		}
		for {
			if value >= levelLowest {
				level *= 2
				levelLowest = histLowestEquivalent(level)
				return true
			}
			if !move() {
				return true
			}
		}
	}
	var prev int64
	for next() {
		if cum > prev {
			buckets = append(buckets, [2]int64{highest / 1000, cum})
		}
		prev = cum
	}
	return total, buckets
}

// histogram returns the command's histogram, making it on first use.
func (st *cmdStats) histogram() *commandHistogram {
	if h := st.hist.Load(); h != nil {
		return h
	}
	st.hist.CompareAndSwap(nil, new(commandHistogram))
	return st.hist.Load()
}

// latencyTarget is a command whose histogram LATENCY HISTOGRAM or INFO reports.
func eachCommand(t *Table, fn func(cmd *Command)) {
	for _, c := range t.All() {
		fn(c)
		for _, s := range c.SubList() {
			fn(s)
		}
	}
}

func cmdLatencyHistogram(x *Ctx) {
	var found []*Command
	if len(x.Args) == 2 {
		eachCommand(x.s.cmds, func(cmd *Command) {
			if cmd.stats.hist.Load() != nil {
				found = append(found, cmd)
			}
		})
	} else {
		for _, name := range x.Args[2:] {
			cmd := x.s.cmds.lookupFullName(string(name))
			if cmd == nil {
				continue
			}
			if cmd.stats.hist.Load() != nil {
				found = append(found, cmd)
			}
			for _, sub := range cmd.SubList() {
				if sub.stats.hist.Load() != nil {
					found = append(found, sub)
				}
			}
		}
	}
	x.MapLen(len(found))
	for _, cmd := range found {
		calls, buckets := cmd.stats.hist.Load().cumulative()
		x.BulkString(cmd.Name)
		x.MapLen(2)
		x.BulkString("calls")
		x.Int(calls)
		x.BulkString("histogram_usec")
		x.MapLen(len(buckets))
		for _, b := range buckets {
			x.Int(b[0])
			x.Int(b[1])
		}
	}
}

// infoLatencyStats writes INFO's latencystats section: the configured percentiles of every
// command that has a histogram, in microseconds with three decimals.
func (s *Server) infoLatencyStats(b *infoBuf) {
	s.cfgMu.RLock()
	on, text := s.cfg.LatencyTracking, s.cfg.LatencyPercentiles
	s.cfgMu.RUnlock()
	if !on {
		return
	}
	var percentiles []float64
	var names []string
	for _, f := range strings.Fields(text) {
		p, _ := conf.ParsePercentile(f)
		percentiles = append(percentiles, p)
		names = append(names, f)
	}
	var line []byte
	eachCommand(s.cmds, func(cmd *Command) {
		h := cmd.stats.hist.Load()
		if h == nil {
			return
		}
		line = line[:0]
		for i, p := range percentiles {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, 'p')
			line = append(line, names[i]...)
			line = append(line, '=')
			line = strconv.AppendFloat(line, float64(h.valueAtPercentile(p))/1000, 'f', 3, 64)
		}
		b.add("latency_percentiles_usec_"+infoSafeName(cmd.Name), string(line))
	})
}
