#!/bin/sh
# tests/bench/lease.sh: proxypoold LEASE+RELEASE throughput and latency
# with 50 connections, against redis-benchmark's trivial EVALSHA with 50
# clients on the same redis-server in the same run; then the daemon's RSS
# with 1,000 idle clients.  Run from the build dir (after make check or
# make tests/bench/lease):
#
#   tests/bench/lease.sh [SECONDS] [CONNS]
#
# Not part of make check.
set -eu
secs=${1:-5}
conns=${2:-50}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
: "${REDIS_BENCHMARK:=redis-benchmark}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
skip_unless "$REDIS_BENCHMARK"

bench=$top_builddir/tests/bench/lease
[ -x "$bench" ] || { echo "build it first: make tests/bench/lease"; exit 1; }
start_redis redis
proxies=$(i=0; while [ $i -lt 200 ]; do
	printf '"http://127.0.0.1:%d", ' $((20000 + i)); i=$((i + 1)); done)
write_conf "$T/pp.conf" "unix://$T/redis.sock" \
	"pools = ( { name = \"bench\"; proxies = ( ${proxies%, } ); } );"
sed -i 's/level = "debug"/level = "info"/; s/listen = {/listen = { max_clients = 2000;/' "$T/pp.conf"
start_daemon "$T/pp.conf"

sha=$("$REDIS_CLI" -s "$T/redis.sock" SCRIPT LOAD "return 1")
ref=$("$REDIS_BENCHMARK" -s "$T/redis.sock" -c "$conns" -n 300000 -q \
	EVALSHA "$sha" 0 | tr '\r' '\n' |
	sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)

"$REDIS_CLI" -s "$T/redis.sock" CONFIG RESETSTAT >/dev/null
"$bench" "$SOCK" bench "$conns" "$secs" 1000 "$pp_pid" >"$T/out"
cat "$T/out"
# what the lease and release scripts cost inside Redis
"$REDIS_CLI" -s "$T/redis.sock" INFO commandstats | tr -d '\r' |
	sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=[0-9]*,usec_per_call=\([0-9.]*\).*/redis_evalsha_calls \1\nredis_evalsha_usec_per_call \2/p'
echo "daemon_cpu_s $(awk '{ printf "%.2f", ($14 + $15) / 100 }' /proc/$pp_pid/stat)"
echo "ref_evalsha_${conns}_clients_per_sec $ref"
# the same loop straight on Redis through libredisallocator
"$bench" -direct "$T/redis.sock" bench "$conns" "$secs" >"$T/direct"
cat "$T/direct"
cmds=$(sed -n 's/^commands_per_sec //p' "$T/out")
direct=$(sed -n 's/^direct_commands_per_sec //p' "$T/direct")
awk -v c="$cmds" -v r="$ref" -v d="$direct" 'BEGIN {
	printf "ratio daemon commands/s / EVALSHA calls/s: %.3f\n", c / r
	printf "ratio direct library commands/s / EVALSHA calls/s: %.3f\n", d / r
	printf "ratio daemon / direct library: %.3f\n", c / d }'
