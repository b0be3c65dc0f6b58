package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The histogram's bucket arithmetic is HdrHistogram's for 1 ns .. 1 s at two significant
// digits, the one Redis 7.0 uses: these are values Redis reports.
func TestHistogramEquivalentValues(t *testing.T) {
	cases := []struct{ v, lowest, highest int64 }{
		{1, 1, 1},
		{255, 255, 255},
		{1000, 1000, 1003},    // INFO's p50=1.003 for a 1 µs command
		{19000, 18944, 19071}, // p50=19.071
		{32768, 32768, 33023}, // LATENCY HISTOGRAM's 33 µs bucket
		{1_000_000_000, 998244352, 1002438655},
	}
	for _, c := range cases {
		if lo, hi := histLowestEquivalent(c.v), histHighestEquivalent(c.v); lo != c.lowest || hi != c.highest {
			t.Errorf("%d: [%d, %d], want [%d, %d]", c.v, lo, hi, c.lowest, c.highest)
		}
		if got := histValueAt(histIndex(c.v)); got != c.lowest {
			t.Errorf("%d: value at its index %d, want %d", c.v, got, c.lowest)
		}
	}
	if histIndex(histMaxValue) >= histCountsLen {
		t.Fatalf("1 s falls outside the counts")
	}
}

func TestHistogramPercentilesAndCumulative(t *testing.T) {
	var h commandHistogram
	for _, us := range []int64{1, 1, 3, 19, 600, 2_000_000} { // the last is clamped to 1 s
		h.record(time.Duration(us) * time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want int64
	}{{0, 1000}, {50, 3007}, {99, 1002438655}, {100, 1002438655}} {
		if got := h.valueAtPercentile(c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
	calls, buckets := h.cumulative()
	if calls != 6 {
		t.Fatalf("calls %d", calls)
	}
	// 1 µs twice, then 3 µs by the 4 µs level, 19 by 33 (the level of 32768 ns ends at
	// 33023), 600 by 1056, and 1 s in the last bucket, whose upper end is 2^30 - 1 ns.
	want := "[[1 2] [4 3] [33 4] [1056 5] [1073741 6]]"
	if got := fmt.Sprint(buckets); got != want {
		t.Fatalf("buckets %s, want %s", got, want)
	}
	var empty commandHistogram
	if calls, buckets := empty.cumulative(); calls != 0 || len(buckets) != 0 {
		t.Fatalf("empty histogram: %d %v", calls, buckets)
	}
}

// The graph of one 74 ms sample, byte for byte as Redis 7.0 drew it.
func TestLatencyGraphAsRedis(t *testing.T) {
	var ts latencySeries
	ts.samples[0] = latencySample{time: 1000, latency: 74}
	ts.idx, ts.max = 1, 74
	got := latencyGraph("command", &ts, 1000)
	want := "command - high 74 ms, low 74 ms (all time high 74 ms)\n" +
		strings.Repeat("-", 80) + "\n" +
		" \n \n \n_\n \n0\ns\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	// Several samples: the highest reaches the top row, labels are ages.
	ts = latencySeries{}
	for i, ms := range []int64{10, 20, 40} {
		ts.samples[i] = latencySample{time: 1000 + int64(i)*100, latency: ms}
	}
	ts.idx, ts.max = 3, 40
	got = latencyGraph("fast-command", &ts, 1200+3600)
	want = "fast-command - high 40 ms, low 10 ms (all time high 40 ms)\n" +
		strings.Repeat("-", 80) + "\n" +
		"  #\n  |\n o|\n_||\n   \n111\nhhh\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestLatencyMonitorSamples(t *testing.T) {
	l := newLatencyMonitor()
	l.add("command", 5, 100)
	l.add("command", 9, 100) // same second: raises the sample
	l.add("command", 3, 100)
	l.add("command", 7, 101)
	ts := l.events["command"]
	if ts.max != 9 || ts.samples[0].latency != 9 || ts.samples[1].latency != 7 || ts.idx != 2 {
		t.Fatalf("series %+v", ts.samples[:3])
	}
	for i := 0; i < latencyTSLen+5; i++ {
		l.add("wrap", int64(i), int64(200+i))
	}
	st := analyzeLatency(l.events["wrap"], 200+latencyTSLen+5)
	if st.samples != latencyTSLen || st.minimum != 5 || st.maxim != latencyTSLen+4 {
		t.Fatalf("wrapped series: %+v", st)
	}
	if n := l.reset([][]byte{[]byte("COMMAND"), []byte("nosuch")}); n != 1 {
		t.Fatalf("reset %d", n)
	}
	if n := l.reset(nil); n != 1 {
		t.Fatalf("reset all %d", n)
	}
}

func TestSlowlogTrim(t *testing.T) {
	var l slowLog
	l.maxLen.Store(3)
	c := &Client{}
	for i := 0; i < 10; i++ {
		l.push(c, [][]byte{[]byte(fmt.Sprint(i))}, 0)
	}
	if l.length() != 3 {
		t.Fatalf("length %d", l.length())
	}
	got := l.newest(10)
	if len(got) != 3 || got[0].id != 9 || got[2].id != 7 || string(got[0].args[0]) != "9" {
		t.Fatalf("newest %+v", got)
	}
	l.maxLen.Store(1000)
	for i := 0; i < 2000; i++ {
		l.push(c, nil, 0)
	}
	if l.length() != 1000 || len(l.entries) > 2000 {
		t.Fatalf("length %d, slice %d", l.length(), len(l.entries))
	}
	l.reset()
	if l.length() != 0 || l.newest(1) != nil {
		t.Fatal("reset left entries")
	}
	args := slowlogArgs([][]byte{[]byte(strings.Repeat("a", 130))})
	if string(args[0]) != strings.Repeat("a", 128)+"... (2 more bytes)" {
		t.Fatalf("long argument: %q", args[0])
	}
}
