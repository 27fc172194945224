# tests/bench/bench_lib.sh: the reference of the benchmarks' ratios, a
# trivial Redis function (library ra_bench, function ra_bench_one: return
# 1) on the same redis-server, and Redis' own time from INFO
# commandstats.  Sourced after tests/lib.sh.

: "${REDIS_BENCHMARK:=redis-benchmark}"
TRIVIAL_LIB="#!lua name=ra_bench
redis.register_function('ra_bench_one', function() return 1 end)"

# trivial_load SOCK: load (or replace) the ra_bench library
trivial_load() {
	"$REDIS_CLI" -s "$1" FUNCTION LOAD REPLACE "$TRIVIAL_LIB" >/dev/null
}

# trivial_rate SOCK CLIENTS REQUESTS [REDIS-BENCHMARK ARGS]: calls/s of
# FCALL ra_bench_one 0 from redis-benchmark
trivial_rate() {
	_s=$1 _c=$2 _n=$3; shift 3
	"$REDIS_BENCHMARK" -s "$_s" -c "$_c" -n "$_n" -q "$@" \
	    FCALL ra_bench_one 0 | tr '\r' '\n' |
	    sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}

# commandstats SOCK: INFO commandstats lines as "name calls usec"
commandstats() {
	"$REDIS_CLI" -s "$1" INFO commandstats | tr -d '\r' |
	    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p'
}

# trivial_usec SOCK REQUESTS: Redis time (usec_per_call) of one trivial
# FCALL, from one client.  Resets the server's statistics (CONFIG
# RESETSTAT): take it before a measured run starts or after it is read.
trivial_usec() {
	"$REDIS_CLI" -s "$1" CONFIG RESETSTAT >/dev/null
	trivial_rate "$1" 1 "$2" >/dev/null
	commandstats "$1" | awk '$1 == "fcall" { printf "%.3f", $3 / $2 }'
}

# redis_usec SOCK: Redis time, in µs since CONFIG RESETSTAT, of what the
# library sends: FCALL, FCALL_RO and the blocking pops it waits with.
# The commands a function runs are counted under their own names too, and
# are inside the FCALL's time already: adding every command would count
# them twice.  The library's connect (FUNCTION LIST/LOAD) is left out.
redis_usec() {
	commandstats "$1" | awk '
	    $1 ~ /^(fcall|fcall_ro|blpop|brpop|blmove|blmpop|bzpopmin|bzpopmax|bzmpop)$/ { u += $3 }
	    END { printf "%d", u }'
}

# redis_calls SOCK NAME: calls of command NAME since CONFIG RESETSTAT
redis_calls() {
	commandstats "$1" | awk -v n="$2" '$1 == n { c = $2 } END { print c + 0 }'
}

# ratio A B [FORMAT]: A / B
ratio() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" \
	    'BEGIN { if (b > 0) printf f "\n", a / b; else print "nan" }'
}
