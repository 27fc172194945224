#!/bin/sh
# tests/bench/lock.sh: lock throughput on a private redis-server, with the
# same server's trivial EVALSHA rate (redis-benchmark) as the reference.
#
# usage: tests/bench/lock.sh [PAIRS] [SECONDS]    (from the build dir)
#   PAIRS    uncontended lock+unlock pairs (default 20000)
#   SECONDS  length of the 16-client contended run (default 5)
# Not part of make check.
set -eu
pairs=${1:-20000}
secs=${2:-5}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
: "${REDIS_BENCHMARK:=redis-benchmark}"
. "$top_srcdir/tests/lib.sh"
skip_unless "$REDIS_BENCHMARK"

bench=$top_builddir/tests/bench/lock_bench
[ -x "$bench" ] || { echo "build it first: make tests/bench/lock_bench"; exit 1; }
start_redis redis
sock=$T/redis.sock

# reference: a script that does nothing, 1 and 16 clients
sha=$("$REDIS_CLI" -s "$sock" SCRIPT LOAD "return 1")
ref() {
	"$REDIS_BENCHMARK" -s "$sock" -c "$1" -n "$2" -q EVALSHA "$sha" 0 |
		tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' |
		tail -1
}
# each lock run sits between two reference runs and is compared with
# their mean, so a change of machine load during the run shows up in both
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a + b) / 2 }'; }
r1a=$(ref 1 30000)
"$bench" "$sock" uncontended "$pairs" >"$T/u.out"
r1b=$(ref 1 30000)
r16a=$(ref 16 100000)
"$REDIS_CLI" -s "$sock" CONFIG RESETSTAT >/dev/null
"$bench" "$sock" contended 16 "$secs" >"$T/c.out"
# commands Redis ran for the contended run: no spinning means a few per grant
calls() {
	"$REDIS_CLI" -s "$sock" INFO commandstats | tr -d '\r' |
		sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p"
}
evalsha=$(calls evalsha); blpop=$(calls blpop)
r16b=$(ref 16 100000)
ref1=$(mean "$r1a" "$r1b")
ref16=$(mean "$r16a" "$r16b")
cat "$T/u.out" "$T/c.out"
u=$(sed -n 's/^uncontended_pairs_per_sec //p' "$T/u.out")
c=$(sed -n 's/^contended_acquisitions_per_sec //p' "$T/c.out")
n=$(sed -n 's/^contended_acquisitions //p' "$T/c.out")
echo "contended_evalsha_per_acquisition $(awk -v a="${evalsha:-0}" -v n="$n" 'BEGIN { printf "%.2f", a / n }')"
echo "contended_blpop_per_acquisition $(awk -v a="${blpop:-0}" -v n="$n" 'BEGIN { printf "%.2f", a / n }')"
echo "ref_evalsha_1_client_per_sec $ref1 (before $r1a, after $r1b)"
echo "ref_evalsha_16_clients_per_sec $ref16 (before $r16a, after $r16b)"
awk -v u="$u" -v c="$c" -v r1="$ref1" -v r16="$ref16" 'BEGIN {
	printf "ratio uncontended pairs / EVALSHA (1 client): %.3f (a pair is 2 EVALSHAs)\n", u / r1
	printf "ratio contended acquisitions / EVALSHA (16 clients): %.3f\n", c / r16
	printf "ratio contended / uncontended: %.3f\n", c / u
}'
