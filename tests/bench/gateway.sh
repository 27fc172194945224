#!/bin/sh
# tests/bench/gateway.sh: proxypoold's gateway against the same tinyproxy
# used straight, in one run (not part of make check).  Run from the
# build dir:
#
#   [ROUNDS=N] tests/bench/gateway.sh [REQUESTS] [CONCURRENCY] [TUNNEL_MB]
#
# 1. Plain requests: ab -k (keep-alive, CONCURRENCY clients) to a local
#    target through tinyproxy, then through the gateway (a shared pool
#    holding that tinyproxy): requests/s, p50 and p99 of each, the
#    ratio of the rates and the p50 difference; ROUNDS (5) rounds side by
#    side, the median printed.
# 2. A tunnel: a TUNNEL_MB download over CONNECT through tinyproxy, then
#    through the gateway: MB/s of each and the ratio.
# 3. proxypoold's and redis-server's CPU time per request and per MB
#    tunneled (utime + stime over each run).
# PERF=FILE records a perf profile of proxypoold over the gateway run.
# Targets (issue 11): rate ratio >= 0.7, p50 at most +1 ms, tunnel ratio
# >= 0.8.
set -eu
reqs=${1:-5000}
conc=${2:-50}
mb=${3:-200}
rounds=${ROUNDS:-5}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
. "$top_srcdir/tests/bench/bench_lib.sh"
: "${AB:=ab}"
skip_unless "$AB"
skip_unless curl

start_redis redis
start_target
tp_port=$(free_port)
start_tinyproxy tp "$tp_port"
sed -i 's/^MaxClients .*/MaxClients 400/' "$T/tp.conf"
gw_port=$(free_port)
write_conf "$T/pp.conf" "unix://$T/redis.sock" \
	"pools = ( { name = \"bench\"; shared = true;
	    proxies = ( \"http://127.0.0.1:$tp_port\" ); } );
	 gateway = ( { listen = \"127.0.0.1:$gw_port\"; pool = \"bench\"; } );"
sed -i 's/level = "debug"/level = "info"/' "$T/pp.conf"
start_daemon "$T/pp.conf"

# a file for the tunnel, served by a plain HTTP server
mkdir "$T/www"
dd if=/dev/zero of="$T/www/big" bs=1M count=0 seek="$mb" 2>/dev/null
www_port=$(free_port)
(cd "$T/www" && exec "$PYTHON3" -m http.server "$www_port" \
	--bind 127.0.0.1 >"$T/www.log" 2>&1) &
track $!
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$www_port/"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# start_redis set redis_pid

# ab_run PROXY: "rate p50 p99" of a keep-alive run through PROXY
ab_run() {
	"$AB" -q -k -c "$conc" -n "$reqs" -X "$1" \
	    "http://127.0.0.1:$TARGET_PORT/" >"$T/ab.out" 2>&1 || {
		cat "$T/ab.out"; exit 1; }
	grep -q '^Failed requests: *0' "$T/ab.out" || {
		echo "failed requests through $1:"; cat "$T/ab.out"; exit 1; }
	awk '/^Requests per second/ { r = $4 } $1 == "50%" { p50 = $2 }
	    $1 == "99%" { p99 = $2 } END { print r, p50, p99 }' "$T/ab.out"
}

# warm both paths up
"$AB" -q -k -c 4 -n 200 -X "127.0.0.1:$tp_port" \
    "http://127.0.0.1:$TARGET_PORT/" >/dev/null 2>&1
"$AB" -q -k -c 4 -n 200 -X "127.0.0.1:$gw_port" \
    "http://127.0.0.1:$TARGET_PORT/" >/dev/null 2>&1

# ROUNDS rounds, each straight then through the gateway: on a shared
# machine the load changes from one run to the next, and the ratio of
# two runs side by side is what holds; the median round is reported
pp_req=0 rd_req=0 r=1
: >"$T/rounds"
while [ "$r" -le "$rounds" ]; do
	set -- $(ab_run "127.0.0.1:$tp_port")
	d_rate=$1 d_p50=$2 d_p99=$3
	pd=$(ticks "$pp_pid") rd=$(ticks "$redis_pid")
	# PERF=FILE: a perf profile of proxypoold over the first gateway run
	if [ -n "${PERF:-}" ] && [ "$r" -eq 1 ]; then
		perf record -q -g -p "$pp_pid" -o "$PERF" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	set -- $(ab_run "127.0.0.1:$gw_port")
	if [ -n "${PERF:-}" ] && [ "$r" -eq 1 ]; then
		kill -INT "$perf_pid"; wait "$perf_pid" || :
	fi
	g_rate=$1 g_p50=$2 g_p99=$3
	pp_req=$((pp_req + $(ticks "$pp_pid") - pd))
	rd_req=$((rd_req + $(ticks "$redis_pid") - rd))
	echo "round $r: direct $d_rate/s p50 $d_p50 p99 $d_p99 ms," \
	    "gateway $g_rate/s p50 $g_p50 p99 $g_p99 ms," \
	    "ratio $(ratio "$g_rate" "$d_rate")"
	echo "$(ratio "$g_rate" "$d_rate") $((g_p50 - d_p50)) $d_rate $g_rate" \
	    "$d_p50 $g_p50 $d_p99 $g_p99" >>"$T/rounds"
	r=$((r + 1))
done
# the median round by ratio
set -- $(sort -n "$T/rounds" | awk -v n="$rounds" 'NR == int((n + 1) / 2)')
echo "plain_direct_rate $3"
echo "plain_direct_p50_ms $5"
echo "plain_direct_p99_ms $7"
echo "plain_gateway_rate $4"
echo "plain_gateway_p50_ms $6"
echo "plain_gateway_p99_ms $8"
echo "plain_rate_ratio $1 (median of $rounds rounds; target >= 0.7)"
echo "plain_p50_diff_ms $(sort -n -k2 "$T/rounds" |
    awk -v n="$rounds" 'NR == int((n + 1) / 2) { print $2 }') (median; target <= 1)"
echo "daemon_cpu_us_per_request $(awk -v t="$pp_req" -v h="$hz" \
    -v n="$((reqs * rounds))" 'BEGIN { printf "%.1f", t * 1e6 / h / n }')"
echo "redis_cpu_us_per_request $(awk -v t="$rd_req" -v h="$hz" \
    -v n="$((reqs * rounds))" 'BEGIN { printf "%.1f", t * 1e6 / h / n }')"

# tunnel_mbs PROXY: MB/s of the download through PROXY over CONNECT
tunnel_mbs() {
	curl -s -p -x "http://$1" -o /dev/null -w '%{speed_download}\n' \
	    "http://127.0.0.1:$www_port/big" |
	    awk '{ printf "%.1f", $1 / 1048576 }'
}
d_mbs=$(tunnel_mbs "127.0.0.1:$tp_port")
pd=$(ticks "$pp_pid")
g_mbs=$(tunnel_mbs "127.0.0.1:$gw_port")
pp_mb=$(( $(ticks "$pp_pid") - pd ))
echo "tunnel_direct_mb_per_s $d_mbs"
echo "tunnel_gateway_mb_per_s $g_mbs"
echo "tunnel_ratio $(ratio "$g_mbs" "$d_mbs") (target >= 0.8)"
echo "daemon_cpu_us_per_mb $(awk -v t="$pp_mb" -v h="$hz" -v n="$mb" \
    'BEGIN { printf "%.1f", t * 1e6 / h / n }')"
finish
