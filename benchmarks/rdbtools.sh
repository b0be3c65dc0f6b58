#!/bin/sh
# Throughput and peak memory of `strata import` (bulk and batch paths into a data directory)
# and `strata export`, next to redis-check-rdb on the same files (not part of CI). Usage, from
# the repository root:
#
#   benchmarks/rdbtools.sh [DIR] [SIZE] [BIG] [BIG_TYPE]   defaults: /tmp/strata-rdbtools-bench 1g 300m hash
#
# It builds strata, writes DIR/big.rdb with benchmarks/rdbgen when it is missing (SIZE in
# total, one collection of type BIG_TYPE and about BIG bytes in it: several million
# elements), reads it once to warm the page cache, then runs each tool RUNS times (default 1)
# under /usr/bin/time and prints the wall time, the CPU time (user + sys), MB/s by each (of
# the dump read or written), and the peak RSS. On a shared machine the CPU-time rate is the
# steadier number; both are printed.
set -eu
dir=${1:-/tmp/strata-rdbtools-bench}
size=${2:-1g}
big=${3:-300m}
bigtype=${4:-hash}
runs=${RUNS:-1}
mkdir -p "$dir"
go build -o "$dir/strata" ./cmd/strata
go build -o "$dir/rdbgen" ./benchmarks/rdbgen
file="$dir/big.rdb"
if [ ! -f "$file" ]; then
	"$dir/rdbgen" -o "$file" -size "$size" -big "$big" -big-type "$bigtype"
fi
bytes=$(stat -L -c %s "$file")
cat "$file" >/dev/null
echo "file $file: $bytes bytes; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %8s %8s %10s %10s %10s\n' tool wall_s cpu_s MB/s_wall MB/s_cpu peak_RSS_MB
measure() {
	name=$1
	b=$2
	shift 2
	i=0
	while [ "$i" -lt "$runs" ]; do
		[ -z "$clean" ] || rm -rf "$clean"
		/usr/bin/time -f '%e %U %S %M' -o "$dir/time.out" "$@" >/dev/null 2>"$dir/stderr.out" || {
			echo "$name failed:" >&2
			cat "$dir/stderr.out" >&2
			exit 1
		}
		awk -v n="$name" -v b="$b" '{ cpu = $2 + $3;
			printf "%-34s %8.2f %8.2f %10.1f %10.1f %10.1f\n", n, $1, cpu, b / 1e6 / $1, b / 1e6 / cpu, $4 / 1024 }' "$dir/time.out"
		i=$((i + 1))
	done
}
clean=
measure "redis-check-rdb (input)" "$bytes" redis-check-rdb "$file"
# Each run's output is removed after it is measured, except the last bulk import, which the
# exports read: a 10 GB dump would otherwise need five times its size on disk.
clean=$dir/data-bulk
measure "strata import --dir (bulk)" "$bytes" "$dir/strata" import --no-progress --dir "$dir/data-bulk" "$file"
clean=$dir/data-batch
measure "strata import --dir --mode batch" "$bytes" "$dir/strata" import --no-progress --mode batch --dir "$dir/data-batch" "$file"
rm -rf "$dir/data-batch"
clean=
data=$(du -sb "$dir/data-bulk" | cut -f1)
measure "strata export" "$bytes" "$dir/strata" export --no-progress --dir "$dir/data-bulk" "$dir/out.rdb"
out=$(stat -L -c %s "$dir/out.rdb")
measure "redis-check-rdb (exported)" "$out" redis-check-rdb "$dir/out.rdb"
rm -f "$dir/out.rdb"
measure "strata export --no-compression" "$bytes" "$dir/strata" export --no-progress --no-compression --dir "$dir/data-bulk" "$dir/out-raw.rdb"
rm -f "$dir/out-raw.rdb"
echo "exported $out bytes; data directory $data bytes (MB/s of the exports are of the input dump's size)"
