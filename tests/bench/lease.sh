#!/bin/sh
# tests/bench/lease.sh: proxypoold LEASE+RELEASE throughput, latency
# and CPU time per command with 50 connections, against a trivial Redis
# function (FCALL ra_bench_one 0 from redis-benchmark with as many
# clients, tests/bench/bench_lib.sh) on the same redis-server in the same
# run; then the daemon's RSS with 1,000 idle clients.  Run from the build
# dir (after make check or make tests/bench/lease):
#
#   tests/bench/lease.sh [SECONDS] [CONNS]
#
# Prints "name value" lines: commands_per_sec, lease_p50_us,
# lease_p99_us, daemon_cpu_usec_per_command (the daemon's utime + stime
# over the loop / commands; the same of redis-server and of this
# client), the Redis time per function call, the same
# loop straight on Redis through the library (direct_*), and the ratios.
# Not part of make check.
set -eu
secs=${1:-5}
conns=${2:-50}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
: "${REDIS_BENCHMARK:=redis-benchmark}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/bench/bench_lib.sh"
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

trivial_load "$T/redis.sock"
ref=$(trivial_rate "$T/redis.sock" "$conns" 300000)

"$REDIS_CLI" -s "$T/redis.sock" CONFIG RESETSTAT >/dev/null
"$bench" "$SOCK" bench "$conns" "$secs" 1000 "$pp_pid" "$redis_pid" >"$T/out"
cat "$T/out"
# what the lease and release functions cost inside Redis
fcalls=$(($(redis_calls "$T/redis.sock" fcall) + $(redis_calls "$T/redis.sock" fcall_ro)))
echo "redis_fcall_calls $fcalls"
echo "redis_fcall_usec_per_call $(ratio "$(redis_usec "$T/redis.sock")" "$fcalls" %.2f)"
echo "daemon_cpu_s $(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' /proc/$pp_pid/stat)"
echo "ref_fcall_trivial_${conns}_clients_per_sec $ref"
# the same loop straight on Redis through libredisallocator
"$bench" -direct "$T/redis.sock" bench "$conns" "$secs" >"$T/direct"
cat "$T/direct"
cmds=$(sed -n 's/^commands_per_sec //p' "$T/out")
direct=$(sed -n 's/^direct_commands_per_sec //p' "$T/direct")
echo "ratio_daemon_commands_over_trivial_${conns}_clients $(ratio "$cmds" "$ref")"
echo "ratio_direct_commands_over_trivial_${conns}_clients $(ratio "$direct" "$ref")"
echo "ratio_daemon_over_direct $(ratio "$cmds" "$direct")"
