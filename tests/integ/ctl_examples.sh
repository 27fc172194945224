#!/bin/sh
# ctl_examples.sh: the client examples of contrib/examples (redis-py,
# redis-cli, hiredis) against a real proxypoold, and lease.py fetching
# through a real proxy (tinyproxy) from a local web server, releasing
# with the outcome the daemon then shows.
. "$top_srcdir/tests/lib.sh"

DAEMON=$top_builddir/src/daemon/proxypoold
CTL=$top_builddir/src/ctl/proxypoolctl
EX=$top_srcdir/contrib/examples
HIREDIS_EX=$top_builddir/contrib/examples/lease_hiredis
: "${TINYPROXY:=tinyproxy}"
[ -x "$DAEMON" ] || { echo "proxypoold is not built"; exit 1; }
[ -x "$HIREDIS_EX" ] || { echo "lease_hiredis is not built"; exit 1; }

# a free TCP port on 127.0.0.1
free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# target web server: /ok answers 200, /ban 403
web_port=$(free_port)
"$PYTHON3" -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 403 if self.path.startswith("/ban") else 200
        body = b"hello\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$web_port" &
track $!

# the proxy, for the fetches through it; without tinyproxy only they skip
proxy_port=$(free_port)
have_tinyproxy=""
if command -v "$TINYPROXY" >/dev/null 2>&1; then
	have_tinyproxy=yes
	cat >"$T/tinyproxy.conf" <<EOF
Port $proxy_port
Listen 127.0.0.1
Timeout 30
Allow 127.0.0.1
MaxClients 20
LogLevel Error
LogFile "$T/tinyproxy.log"
EOF
	"$TINYPROXY" -d -c "$T/tinyproxy.conf" >/dev/null 2>&1 &
	track $!
fi

start_redis redis
SOCK=$T/pp.sock
cat >"$T/pp.conf" <<EOF
redis = { url = "unix://$T/redis.sock"; };
listen = { socket = "$SOCK"; admin_uids = [ $(id -u) ]; };
log = { level = "info"; file = "$T/pp.log"; };
pools = (
  { name = "web"; proxies = [ "http://127.0.0.1:$proxy_port" ]; },
  { name = "plain"; proxies = [ "http://127.0.0.1:9" ]; },
  { name = "empty"; }
);
EOF
"$DAEMON" -c "$T/pp.conf" 2>>"$T/pp.log" &
track $!
wait_for 20 "$CTL" -s "$SOCK" -t 1 ping || {
	echo "proxypoold did not start"; cat "$T/pp.log"; exit 1; }
if [ -n "$have_tinyproxy" ]; then
	wait_for 10 "$PYTHON3" -c "import socket; socket.create_connection(('127.0.0.1', $proxy_port))" || {
		echo "tinyproxy did not start"; cat "$T/tinyproxy.log"; exit 1; }
fi
wait_for 10 "$PYTHON3" -c "import socket; socket.create_connection(('127.0.0.1', $web_port))" || {
	echo "web server did not start"; exit 1; }

# field F of the proxy P of pool POOL, from proxypoolctl list --json
item_field() {
	"$CTL" -s "$SOCK" --json list "$1" | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print([i for i in d if i["proxy"] == sys.argv[1]][0][sys.argv[2]])' "$2" "$3"
}
# the number of live leases of pool POOL
leases() {
	"$CTL" -s "$SOCK" --json stats "$1" | "$PYTHON3" -c '
import json, sys; print(json.load(sys.stdin)["leases"])'
}

# ---- redis-py ----
"$PYTHON3" "$EX/lease.py" -s "$SOCK" plain >"$T/out" 2>&1
rc=$?
expect_eq "lease.py without a URL" "0" "$rc"
check "lease.py leased, renewed, released" \
    grep -q '^released OK' "$T/out"
expect_eq "lease.py left no lease behind" "0" "$(leases plain)"

if [ -n "$have_tinyproxy" ]; then
	"$PYTHON3" "$EX/lease.py" -s "$SOCK" web \
	    "http://127.0.0.1:$web_port/ok" >"$T/out" 2>&1
	rc=$?
	expect_eq "lease.py through tinyproxy" "0" "$rc"
	check "the fetch went through the proxy" \
	    grep -q "^http://127.0.0.1:$web_port/ok: OK in" "$T/out"
	check "released OK with its latency" grep -q '^released OK' "$T/out"
	expect_eq "an OK release leaves failures at 0" "0" \
	    "$(item_field web "http://127.0.0.1:$proxy_port" failures)"

	"$PYTHON3" "$EX/lease.py" -s "$SOCK" web \
	    "http://127.0.0.1:$web_port/ban" >"$T/out" 2>&1
	rc=$?
	expect_eq "lease.py on a banning site" "0" "$rc"
	check "a 403 is released BANNED" grep -q '^released BANNED' "$T/out"
	expect_eq "the daemon quarantined the banned proxy" "quarantined" \
	    "$(item_field web "http://127.0.0.1:$proxy_port" state)"
else
	skip "lease.py fetches through a proxy, releases OK and BANNED" \
	    "tinyproxy not found"
fi

LEASE_WAIT=0.2 "$PYTHON3" "$EX/lease.py" -s "$SOCK" empty >"$T/out" 2>&1
expect_eq "lease.py on an empty pool: exit 1" "1" "$?"
check "lease.py reports EMPTY" grep -q 'EMPTY' "$T/out"
"$PYTHON3" "$EX/lease.py" -s "$T/absent.sock" plain >"$T/out" 2>&1
expect_eq "lease.py without a daemon: exit 3" "3" "$?"

# ---- redis-cli ----
"$EX/lease.sh" -s "$SOCK" plain >"$T/out" 2>&1
rc=$?
expect_eq "lease.sh" "0" "$rc"
check "lease.sh leased the proxy" \
    grep -q '^leased http://127.0.0.1:9 (fence [0-9]*)' "$T/out"
check "lease.sh renewed" grep -q '^renewed until [0-9]\{13\}$' "$T/out"
check "lease.sh released" grep -q '^released OK' "$T/out"
expect_eq "lease.sh left no lease behind" "0" "$(leases plain)"
LEASE_WAIT=0.2 "$EX/lease.sh" -s "$SOCK" empty >"$T/out" 2>&1
expect_eq "lease.sh on an empty pool: exit 1" "1" "$?"
check "lease.sh says why" grep -q 'lease failed: EMPTY' "$T/out"

# ---- hiredis ----
"$HIREDIS_EX" "$SOCK" plain failed >"$T/out" 2>&1
rc=$?
expect_eq "lease_hiredis" "0" "$rc"
check "lease_hiredis released FAILED" grep -q '^released failed' "$T/out"
expect_eq "the FAILED outcome reached the daemon" "1" \
    "$(item_field plain "http://127.0.0.1:9" failures)"
LEASE_WAIT=0.2 "$HIREDIS_EX" "$SOCK" empty >"$T/out" 2>&1
expect_eq "lease_hiredis on an empty pool: exit 1" "1" "$?"
"$HIREDIS_EX" "$T/absent.sock" plain >"$T/out" 2>&1
expect_eq "lease_hiredis without a daemon: exit 3" "3" "$?"

finish
