#!/bin/sh
# quickstart.sh: `contrib/quickstart run` gives a working proxy: the
# command its banner prints fetches the local target through the
# gateway and a pool proxy, the pool's proxies come UP, and SIGTERM
# stops every process it started.
. "$top_srcdir/tests/lib.sh"
skip_unless tinyproxy
skip_unless curl

QUICKSTART_NO_BUILD=1 QUICKSTART_RUN_DIR=$T/run QUICKSTART_ANY_PORT=1 \
    BUILD_DIR=$top_builddir sh "$top_srcdir/contrib/quickstart" run \
    >"$T/qs.log" 2>&1 &
qs=$!
track $qs
wait_for 20 grep -q 'pools synced to Redis' "$T/qs.log" || {
	cat "$T/qs.log"; exit 1; }
cmd=$(sed -n 's/^ *\(curl -x http:\/\/127.0.0.1:[0-9]* http:\/\/127.0.0.1:[0-9]*\/\)$/\1/p' "$T/qs.log")
check "the banner prints a curl command through the gateway" test -n "$cmd"
sock=$(sed -n 's/^ *export PROXYPOOLD_SOCKET=\(.*\)$/\1/p' "$T/qs.log")
check "the banner prints PROXYPOOLD_SOCKET" test -S "$sock"
# the first health checks run at once: the proxies come UP
up() {
	PROXYPOOLD_SOCKET=$sock "$top_builddir/src/ctl/proxypoolctl" --json \
	    stats default | grep -q '"proxies_up": *3'
}
check "the three proxies come UP" wait_for 15 up
$cmd -s -D "$T/head" -o "$T/body"
check "the command fetches the target" grep -q 'hello from the quick start' "$T/body"
check "through a pool proxy (X-Proxypool-Proxy)" grep -qi '^x-proxypool-proxy: http://127.0.0.1:' "$T/head"
kids=$(pgrep -P "$qs" | tr '\n' ' ')
kill -TERM "$qs"
gone() {
	for p in $qs $kids; do kill -0 "$p" 2>/dev/null && return 1; done
	! pgrep -f "$T/run/" >/dev/null
}
check "SIGTERM stops everything it started" wait_for 10 gone
# whatever did not stop must not outlive the test
# shellcheck disable=SC2086
kill -KILL $qs $kids 2>/dev/null
pkill -KILL -f "$T/run/" 2>/dev/null
finish
