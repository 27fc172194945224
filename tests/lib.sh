# tests/lib.sh: shell helpers for integration tests (sourced).
#
# Every test works in its own temp dir ($T), removed by the EXIT trap with
# every server the test started.  Results are printed as "ok - what" and
# "not ok - what" lines, which .ci/run counts.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REDIS_SERVER:=redis-server}"
: "${REDIS_CLI:=redis-cli}"
: "${PYTHON3:=/usr/bin/python3}"

T=$(mktemp -d "${TMPDIR:-/tmp}/ra-test.XXXXXX")
_pids=""
_failed=0

# (every command may fail: a script under set -e, as the benchmarks are,
# must still get to the rm)
cleanup() {
	for p in $_pids; do
		kill "$p" 2>/dev/null || :
	done
	for p in $_pids; do
		# give servers a moment, then insist
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || :
	done
	wait 2>/dev/null || :
	# a sanitizer's report in a server's log (an --enable-asan or
	# --enable-ubsan build) fails the test, shown in its log
	_san=$(grep -l -a -E 'ERROR: (Address|Leak)Sanitizer|runtime error: ' \
	    "$T"/*.log 2>/dev/null || :)
	if [ -n "$_san" ]; then
		for f in $_san; do
			echo "not ok - sanitizer report in $(basename "$f"):"
			grep -a -E -A12 'Sanitizer|runtime error: ' "$f" | head -40
		done
		rm -rf "$T"
		exit 1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# remember a pid to kill at exit
track() { _pids="$_pids $1"; }

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; _failed=$((_failed + 1)); }

# check DESCRIPTION COMMAND...: ok if the command succeeds
check() {
	_d=$1; shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1 (expected '$2', got '$3')"; fi
}

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
	_limit=$(( $1 * 20 )); shift
	_i=0
	while ! "$@" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -ge "$_limit" ] && return 1
		sleep 0.05
	done
	return 0
}

# start_redis NAME: a private redis-server on $T/NAME.sock, no TCP port
start_redis() {
	_n=${1:-redis}
	mkdir -p "$T/$_n.d"
	"$REDIS_SERVER" --port 0 --unixsocket "$T/$_n.sock" --unixsocketperm 700 \
		--dir "$T/$_n.d" --save '' --appendonly no \
		--logfile "$T/$_n.log" --daemonize no &
	track $!
	eval "${_n}_pid=$!"
	wait_for 10 "$REDIS_CLI" -s "$T/$_n.sock" ping || {
		echo "redis-server did not start"; cat "$T/$_n.log"; exit 1; }
}

# finish: exit status from the results
finish() {
	[ "$_failed" -eq 0 ] && exit 0
	echo "$_failed failed"
	exit 1
}

# skip WHAT REASON: a case not run ("ok - WHAT # skip REASON"), for a part
# of a test that needs a tool truly absent here; .ci/run counts it apart,
# and as a failure under CI unless CI accepts REASON (tests/README.md)
skip() { echo "ok - $1 # skip $2"; }

# skip_unless COMMAND: exit 77 (skip) when a tool the whole test needs is
# truly absent; never for what the build makes
skip_unless() {
	command -v "$1" >/dev/null 2>&1 || { echo "skip: $1 not found"; exit 77; }
}
