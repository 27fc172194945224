#!/bin/sh
# tests/bench/queue.sh: task queue throughput (submit to done, tasks/s)
# against a private redis-server, beside the same server's trivial
# EVALSHA rate from redis-benchmark, and the ratio.  Not part of make check.
#
# usage: tests/bench/queue.sh [TASKS] [THREADS...]   (from the build tree)
#   defaults: 20000 tasks, 1 4 8 threads
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
. "$top_srcdir/tests/lib.sh"

tasks=${1:-20000}
[ $# -gt 0 ] && shift
threads=${*:-1 4 8}
bench=$top_builddir/tests/bench/queue_bench
[ -x "$bench" ] || { echo "build it first: make tests/bench/queue_bench"; exit 1; }
skip_unless "$REDIS_BENCHMARK"

start_redis bench
sock=$T/bench.sock
sha=$("$REDIS_CLI" -s "$sock" SCRIPT LOAD "return 1")
# evalsha_rate CLIENTS REQUESTS: trivial EVALSHA ops/s from redis-benchmark
evalsha_rate() {
	"$REDIS_BENCHMARK" -s "$sock" -n "$2" -c "$1" -q EVALSHA "$sha" 0 |
	    tr '\r' '\n' | awk '/requests per second/ {
	    for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1) }' |
	    tail -1
}
ref=$(evalsha_rate 50 100000)
ref1=$(evalsha_rate 1 20000)
echo "reference: trivial EVALSHA, redis-benchmark -c 50: $ref ops/s;" \
	"-c 1 (one connection, round-trip bound): $ref1 ops/s"
for n in $threads; do
	"$REDIS_CLI" -s "$sock" FLUSHALL >/dev/null
	out=$("$bench" "$sock" "$n" "$tasks") || { echo "$out"; exit 1; }
	rate=$(echo "$out" | sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p')
	ratio=$(awk -v a="$rate" -v b="$ref" 'BEGIN { printf "%.4f", a / b }')
	ratio1=$(awk -v a="$rate" -v b="$ref1" 'BEGIN { printf "%.4f", a / b }')
	echo "$out ratio_vs_c50=$ratio ratio_vs_c1=$ratio1"
done
