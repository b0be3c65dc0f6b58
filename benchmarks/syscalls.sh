#!/bin/sh
# What each server spends per request, counted by the kernel rather than timed: system calls
# (by kind), context switches and CPU time of redis-server and of Strata, under the same
# redis-benchmark load (not part of CI). Counts per request barely move with the machine's
# load, so this is the measurement of where Go's runtime (a goroutine per connection, the
# netpoller, wake-ups) costs more than Redis's one event loop. Usage, from the repository root:
#
#   benchmarks/syscalls.sh [REQUESTS]      default 200000; needs perf (perf_event_paranoid <= 2)
#
# Both servers run as in `go run ./benchmarks compare`: appendonly everysec, no snapshots,
# 50 clients, -r 1000000 -d 100.
set -eu
n=${1:-200000}
dir=$(mktemp -d /tmp/strata-syscalls-XXXXXX)
trap 'kill $rpid $spid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/strata" ./cmd/strata
rport=$((20000 + $$ % 10000))
sport=$((rport + 1))
redis-server --bind 127.0.0.1 --port "$rport" --dir "$dir" --appendonly yes --appendfsync everysec \
	--save '' --logfile "$dir/redis.log" &
rpid=$!
STRATA_SAVE= "$dir/strata" server --bind 127.0.0.1 --port "$sport" --dir "$dir/data" \
	--appendfsync everysec 2>"$dir/strata.log" &
spid=$!
for p in $rport $sport; do
	i=0
	until redis-cli -p "$p" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "server on $p did not start" >&2; exit 1; }
		sleep 0.1
	done
done
events=raw_syscalls:sys_enter,context-switches,task-clock
for s in read write readv writev epoll_wait epoll_pwait futex nanosleep pwrite64 fdatasync getpid tgkill sched_yield; do
	if perf list "syscalls:sys_enter_$s" 2>/dev/null | grep -q "sys_enter_$s"; then
		events="$events,syscalls:sys_enter_$s"
	fi
done
echo "$n requests per row, 50 clients; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "per request:"
for test in get set; do
	for pipe in 1 16; do
		for server in redis strata; do
			if [ "$server" = redis ]; then pid=$rpid port=$rport; else pid=$spid port=$sport; fi
			perf stat -x, -e "$events" -p "$pid" -o "$dir/perf.out" &
			ppid=$!
			sleep 0.2
			redis-benchmark -p "$port" -t "$test" -n "$n" -c 50 -P "$pipe" -r 1000000 -d 100 -q >"$dir/bench.out"
			kill -INT "$ppid"
			wait "$ppid" || true
			rate=$(tr '\r' '\n' <"$dir/bench.out" | grep -i "requests per second" | tail -1 | sed 's/.*: *\([0-9.]*\) requests.*/\1/')
			awk -F, -v n="$n" -v row="$(echo "$test" | tr a-z A-Z) -P $pipe $server" -v rate="$rate" '
				/^#/ || NF < 3 { next }
				{ name = $3; sub(/^syscalls:sys_enter_/, "", name); sub(/^raw_syscalls:sys_enter$/, "syscalls", name)
				  if (name == "task-clock") { v = $1 * 1000 / n; unit = "cpu_us" } else { v = $1 / n; unit = name }
				  if ($1 ~ /not/ || $1 + 0 == 0) next
				  out = out sprintf(" %s=%.3g", unit, v) }
				END { printf "%-18s %9s req/s %s\n", row, rate, out }' "$dir/perf.out"
		done
	done
done
