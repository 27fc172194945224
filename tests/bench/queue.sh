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
ref=$("$REDIS_BENCHMARK" -s "$sock" -n 100000 -c 50 -q \
	EVALSHA "$sha" 0 | tr '\r' '\n' | awk '/requests per second/ {
	for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1) }' |
	tail -1)
echo "reference: trivial EVALSHA, redis-benchmark -c 50: $ref ops/s"
for n in $threads; do
	"$REDIS_CLI" -s "$sock" FLUSHALL >/dev/null
	out=$("$bench" "$sock" "$n" "$tasks") || { echo "$out"; exit 1; }
	rate=$(echo "$out" | sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p')
	ratio=$(awk -v a="$rate" -v b="$ref" 'BEGIN { printf "%.4f", a / b }')
	echo "$out evalsha_per_s=$ref ratio=$ratio"
done
