#!/bin/sh
# Throughput and peak memory of `strata inspect` and `strata check` against redis-check-rdb
# on one big RDB file (not part of CI). Usage, from the repository root:
#
#   benchmarks/inspect.sh [DIR] [SIZE] [BIG]      defaults: /tmp/strata-inspect-bench 3g 1g
#
# It builds strata, writes DIR/big.rdb with benchmarks/rdbgen when it is missing (SIZE in
# total, one hash of about BIG bytes in it), reads it once to warm the page cache, then
# runs each tool RUNS times (default 2) under /usr/bin/time and prints, per run, the wall
# time, the CPU time (user + sys), MB/s by each, and the peak RSS. On a shared machine the
# CPU-time rate is the steadier number; both are printed.
set -eu
dir=${1:-/tmp/strata-inspect-bench}
size=${2:-3g}
big=${3:-1g}
runs=${RUNS:-2}
mkdir -p "$dir"
go build -o "$dir/strata" ./cmd/strata
go build -o "$dir/rdbgen" ./benchmarks/rdbgen
file="$dir/big.rdb"
if [ ! -f "$file" ]; then
	"$dir/rdbgen" -o "$file" -size "$size" -big "$big" -big-type hash
fi
bytes=$(stat -L -c %s "$file")
cat "$file" >/dev/null
echo "file $file: $bytes bytes; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %8s %8s %10s %10s %10s\n' tool wall_s cpu_s MB/s_wall MB/s_cpu peak_RSS_MB
measure() {
	name=$1
	shift
	i=0
	while [ "$i" -lt "$runs" ]; do
		/usr/bin/time -f '%e %U %S %M' -o "$dir/time.out" "$@" >/dev/null 2>"$dir/stderr.out" || {
			echo "$name failed:" >&2
			cat "$dir/stderr.out" >&2
			exit 1
		}
		awk -v n="$name" -v b="$bytes" '{ cpu = $2 + $3;
			printf "%-28s %8.2f %8.2f %10.1f %10.1f %10.1f\n", n, $1, cpu, b / 1e6 / $1, b / 1e6 / cpu, $4 / 1024 }' "$dir/time.out"
		i=$((i + 1))
	done
}
measure "strata inspect" "$dir/strata" inspect --no-progress "$file"
measure "strata inspect --format json" "$dir/strata" inspect --no-progress --format json "$file"
measure "strata inspect --keys" "$dir/strata" inspect --no-progress --keys "$file"
measure "strata check" "$dir/strata" check --no-progress "$file"
if command -v redis-check-rdb >/dev/null; then
	measure "redis-check-rdb" redis-check-rdb "$file"
fi
