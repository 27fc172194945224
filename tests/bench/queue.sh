#!/bin/sh
# tests/bench/queue.sh: task queue throughput (submit to done, tasks/s)
# and Redis time per task against a private redis-server, with a trivial
# Redis function on the same server (FCALL ra_bench_one 0,
# tests/bench/bench_lib.sh) as the reference: its calls/s from
# redis-benchmark and its Redis time per call (INFO commandstats).
# Not part of make check.
#
# usage: tests/bench/queue.sh [TASKS] [THREADS...]   (from the build tree)
#   defaults: 20000 tasks, 1 4 8 threads
# Per thread count a line "threads=N ... tasks_per_s=... ratio_vs_c50=...
# ratio_vs_c1=..." and "name value" lines task_redis_usec_threads_N (the
# Redis time of FCALL, FCALL_RO and BLPOP per task, submit to done) and
# task_over_trivial_threads_N (that over one trivial call's); then
# task_redis_usec and task_over_trivial of the first thread count.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/bench/bench_lib.sh"

tasks=${1:-20000}
[ $# -gt 0 ] && shift
threads=${*:-1 4 8}
bench=$top_builddir/tests/bench/queue_bench
[ -x "$bench" ] || { echo "build it first: make tests/bench/queue_bench"; exit 1; }
skip_unless "$REDIS_BENCHMARK"

start_redis bench
sock=$T/bench.sock
trivial_load "$sock"
ref=$(trivial_rate "$sock" 50 100000)
ref1=$(trivial_rate "$sock" 1 20000)
echo "ref_fcall_trivial_50_clients_per_sec $ref"
echo "ref_fcall_trivial_1_client_per_sec $ref1"
: >"$T/usec"
for n in $threads; do
	"$REDIS_CLI" -s "$sock" FLUSHALL >/dev/null
	"$REDIS_CLI" -s "$sock" CONFIG RESETSTAT >/dev/null
	out=$("$bench" "$sock" "$n" "$tasks") || { echo "$out"; exit 1; }
	echo "$n $(redis_usec "$sock")" >>"$T/usec"
	rate=$(echo "$out" | sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p')
	echo "$out ratio_vs_c50=$(ratio "$rate" "$ref" %.4f)" \
	    "ratio_vs_c1=$(ratio "$rate" "$ref1" %.4f)"
done
# the trivial call's Redis time last: it resets the statistics
triv=$(trivial_usec "$sock" 20000)
echo "ref_fcall_trivial_usec $triv"
first=
while read -r n usec; do
	per=$(ratio "$usec" "$tasks" %.2f)
	over=$(ratio "$per" "$triv" %.1f)
	echo "task_redis_usec_threads_$n $per"
	echo "task_over_trivial_threads_$n $over"
	[ -n "$first" ] || first="$per $over"
done <"$T/usec"
echo "task_redis_usec ${first% *}"
echo "task_over_trivial ${first#* }"
