package server

import "time"

// cron is the server's background tick, like Redis's serverCron at hz 10: it samples the
// command rate for instantaneous_ops_per_sec and, once a second, closes clients idle for
// longer than the timeout directive and records the memory peak. It ends with the server.
func (s *Server) cron() {
	const tick = 100 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var ops opsSampler
	ops.reset(s.stats.commands.Load(), time.Now())
	for n := 1; ; n++ {
		select {
		case <-s.done:
			return
		case now := <-ticker.C:
			if s.closing.Load() {
				return
			}
			s.stats.instOps.Store(ops.sample(s.stats.commands.Load(), now))
			s.persistCron(now)
			s.aofCron(now)
			if n%10 == 0 {
				s.closeIdleClients(now)
				s.usedMemory()
			}
		}
	}
}

// opsSampler averages the command rate over the last 16 samples, as Redis's
// trackInstantaneousMetric does.
type opsSampler struct {
	lastCount int64
	lastTime  time.Time
	samples   [16]int64
	idx       int
}

func (o *opsSampler) reset(count int64, now time.Time) {
	*o = opsSampler{lastCount: count, lastTime: now}
}

func (o *opsSampler) sample(count int64, now time.Time) int64 {
	elapsed := now.Sub(o.lastTime).Milliseconds()
	if count < o.lastCount { // CONFIG RESETSTAT
		o.reset(count, now)
		return 0
	}
	if elapsed > 0 {
		o.samples[o.idx] = (count - o.lastCount) * 1000 / elapsed
		o.idx = (o.idx + 1) % len(o.samples)
	}
	o.lastCount, o.lastTime = count, now
	var sum int64
	for _, v := range o.samples {
		sum += v
	}
	return sum / int64(len(o.samples))
}

// closeIdleClients closes the connections idle for longer than the timeout directive. A
// client inside a command (including one blocked in it) is not idle, and pub/sub subscribers
// are never closed for idling, as in Redis.
func (s *Server) closeIdleClients(now time.Time) {
	timeout := time.Duration(s.idleTimeout.Load()) * time.Second
	if timeout <= 0 {
		return
	}
	for _, c := range s.Clients() {
		if c.sub.active() {
			continue
		}
		c.mu.Lock()
		idle := !c.busy && now.Sub(c.lastSeen) > timeout
		c.mu.Unlock()
		// Redis does not time out blocked clients either, nor monitors, nor paused clients.
		if idle && !s.IsBlocked(c.id) && !c.intro.monitor.Load() && !c.intro.paused.Load() {
			c.kill()
		}
	}
}
