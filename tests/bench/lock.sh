#!/bin/sh
# tests/bench/lock.sh: lock throughput and Redis time on a private
# redis-server, with a trivial Redis function on the same server (FCALL
# ra_bench_one 0, tests/bench/bench_lib.sh) as the reference: its calls/s
# from redis-benchmark, and its Redis time per call (INFO commandstats).
#
# usage: tests/bench/lock.sh [PAIRS] [SECONDS]    (from the build dir)
#   PAIRS    uncontended lock+unlock pairs (default 20000)
#   SECONDS  length of the 16-client contended run (default 5)
# Prints "name value" lines; lock_pair_redis_usec is the Redis time
# (FCALL, FCALL_RO, BLPOP) of one uncontended lock+unlock pair, and
# lock_pair_over_trivial that over one trivial call's (a pair is two
# round trips: ratio_uncontended_pairs_over_trivial_1_client tops out
# near 0.5).
# Not part of make check.
set -eu
pairs=${1:-20000}
secs=${2:-5}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/bench/bench_lib.sh"
skip_unless "$REDIS_BENCHMARK"

bench=$top_builddir/tests/bench/lock_bench
[ -x "$bench" ] || { echo "build it first: make tests/bench/lock_bench"; exit 1; }
start_redis redis
sock=$T/redis.sock
trivial_load "$sock"

# each lock run sits between two reference runs and is compared with
# their mean, so a change of machine load during the run shows up in both
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a + b) / 2 }'; }
r1a=$(trivial_rate "$sock" 1 30000)
"$REDIS_CLI" -s "$sock" CONFIG RESETSTAT >/dev/null
"$bench" "$sock" uncontended "$pairs" >"$T/u.out"
u_usec=$(redis_usec "$sock")
r1b=$(trivial_rate "$sock" 1 30000)
r16a=$(trivial_rate "$sock" 16 100000)
"$REDIS_CLI" -s "$sock" CONFIG RESETSTAT >/dev/null
"$bench" "$sock" contended 16 "$secs" >"$T/c.out"
# commands Redis ran for the contended run: no spinning means a few per grant
c_usec=$(redis_usec "$sock")
fcalls=$(($(redis_calls "$sock" fcall) + $(redis_calls "$sock" fcall_ro)))
blpop=$(redis_calls "$sock" blpop)
r16b=$(trivial_rate "$sock" 16 100000)
triv_a=$(trivial_usec "$sock" 20000)
triv_b=$(trivial_usec "$sock" 20000)
ref1=$(mean "$r1a" "$r1b")
ref16=$(mean "$r16a" "$r16b")
triv=$(mean "$triv_a" "$triv_b")
cat "$T/u.out" "$T/c.out"
u=$(sed -n 's/^uncontended_pairs_per_sec //p' "$T/u.out")
c=$(sed -n 's/^contended_acquisitions_per_sec //p' "$T/c.out")
n=$(sed -n 's/^contended_acquisitions //p' "$T/c.out")
echo "contended_fcall_per_acquisition $(ratio "$fcalls" "$n" %.2f)"
echo "contended_blpop_per_acquisition $(ratio "$blpop" "$n" %.2f)"
echo "ref_fcall_trivial_1_client_per_sec $ref1"
echo "ref_fcall_trivial_16_clients_per_sec $ref16"
echo "ref_fcall_trivial_usec $triv"
echo "lock_pair_redis_usec $(ratio "$u_usec" "$pairs" %.2f)"
echo "lock_pair_over_trivial $(ratio "$u_usec" "$(awk -v p="$pairs" -v t="$triv" 'BEGIN { print p * t }')" %.1f)"
echo "contended_redis_usec_per_acquisition $(ratio "$c_usec" "$n" %.2f)"
echo "contended_acquisition_over_trivial $(ratio "$c_usec" "$(awk -v n="$n" -v t="$triv" 'BEGIN { print n * t }')" %.1f)"
echo "ratio_uncontended_pairs_over_trivial_1_client $(ratio "$u" "$ref1")"
echo "ratio_contended_acquisitions_over_trivial_16_clients $(ratio "$c" "$ref16")"
echo "ratio_contended_over_uncontended $(ratio "$c" "$u")"
