#!/bin/sh
# quickstart.sh: `contrib/quickstart run` gives a working proxy: the
# command its banner prints fetches the local target through the
# gateway and a pool proxy, the pool's proxies come UP, and SIGTERM
# stops every process it started.
. "$top_srcdir/tests/lib.sh"
skip_unless tinyproxy
skip_unless curl

# a private XDG_RUNTIME_DIR: the quick start links its socket there,
# where proxypoolctl looks when nothing names a socket
mkdir -m 0700 "$T/xdg"
unset PROXYPOOLD_SOCKET
XDG_RUNTIME_DIR=$T/xdg QUICKSTART_NO_BUILD=1 QUICKSTART_RUN_DIR=$T/run \
    QUICKSTART_ANY_PORT=1 BUILD_DIR=$top_builddir \
    sh "$top_srcdir/contrib/quickstart" run >"$T/qs.log" 2>&1 &
qs=$!
track $qs
wait_for 20 grep -q 'pools synced to Redis' "$T/qs.log" || {
	cat "$T/qs.log"; exit 1; }
cmd=$(sed -n 's/^ *\(curl -x http:\/\/127.0.0.1:[0-9]* http:\/\/127.0.0.1:[0-9]*\/\)$/\1/p' "$T/qs.log")
check "the banner prints a curl command through the gateway" test -n "$cmd"
sock=$T/run/proxypoold.sock
check "the socket is linked as \$XDG_RUNTIME_DIR/proxypoold.sock" \
	sh -c "[ \"\$(readlink '$T/xdg/proxypoold.sock')\" = '$sock' ]"
check "so the banner needs no PROXYPOOLD_SOCKET" \
	sh -c "! grep -q 'export PROXYPOOLD_SOCKET' '$T/qs.log'"
# the first health checks run at once: the proxies come UP
up() {
	XDG_RUNTIME_DIR=$T/xdg "$top_builddir/src/ctl/proxypoolctl" --json \
	    stats default | grep -q '"proxies_up": *3'
}
def=$("$top_builddir/src/daemon/proxypoold" -V | sed -n 's/^socket //p')
if [ -e "$def" ]; then
	echo "# a daemon's socket is at the default $def: proxypoolctl talks to it"
	up() {
		PROXYPOOLD_SOCKET=$sock "$top_builddir/src/ctl/proxypoolctl" \
		    --json stats default | grep -q '"proxies_up": *3'
	}
fi
check "the three proxies come UP (proxypoolctl without -s)" wait_for 15 up
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
check "and removes its link" test ! -L "$T/xdg/proxypoold.sock"
# whatever did not stop must not outlive the test
# shellcheck disable=SC2086
kill -KILL $qs $kids 2>/dev/null
pkill -KILL -f "$T/run/" 2>/dev/null
finish
