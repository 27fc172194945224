#!/bin/sh
# ctl_basic.sh: every proxypoolctl command against a real proxypoold on a
# private redis-server: table output, --json that parses, list following
# cursors, add -f all or nothing, reload, check-config, and the exit
# codes (1 daemon error, 2 usage, 3 no daemon or no answer in time).
. "$top_srcdir/tests/lib.sh"

DAEMON=$top_builddir/src/daemon/proxypoold
CTL=$top_builddir/src/ctl/proxypoolctl
[ -x "$DAEMON" ] || { echo "proxypoold is not built"; exit 1; }
[ -x "$CTL" ] || { echo "proxypoolctl is not built"; exit 1; }

start_redis redis
# a TCP listener for the tcp check of pool "probed" (CHECK), and a port
# nobody listens on
ports=$("$PYTHON3" -c '
import socket
a = socket.socket(); a.bind(("127.0.0.1", 0))
b = socket.socket(); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
up_port=${ports% *}
down_port=${ports#* }
"$PYTHON3" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
while True:
    s.accept()[0].close()' "$up_port" &
track $!
SOCK=$T/pp.sock
cat >"$T/pp.conf" <<EOF
redis = { url = "unix://$T/redis.sock"; };
listen = { socket = "$SOCK"; mode = "0666"; admin_uids = [ $(id -u) ]; };
log = { level = "info"; file = "$T/pp.log"; };
checks = { dir = "$top_builddir/checks/.libs"; };
pools = (
  { name = "web"; lease_ttl = 30;
    proxies = [ "http://127.0.0.1:3128", "http://u:secret@127.0.0.1:3129" ]; },
  { name = "empty"; },
  { name = "probed"; proxies = [ "http://127.0.0.1:$up_port" ];
    check = { type = "tcp"; inter = 600; timeout = 5; }; }
);
EOF
"$DAEMON" -c "$T/pp.conf" 2>>"$T/pp.log" &
track $!
daemon_pid=$!
wait_for 20 "$CTL" -s "$SOCK" -t 1 ping || {
	echo "proxypoold did not start"; cat "$T/pp.log"; exit 1; }

# run ARGS...: proxypoolctl on our socket; stdout in $T/out, stderr in
# $T/err, exit status in $rc
run() {
	"$CTL" -s "$SOCK" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# jq EXPR: evaluate a Python expression over the JSON in $T/out (as d)
jq() {
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(" ".join(map(str, r)) if isinstance(r, tuple) else r)' "$T/out" "$1" 2>&1
}
# json_ok: $T/out is one valid JSON document
json_ok() {
	"$PYTHON3" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"
}
# commands the daemon has dispatched so far (INFO)
ncommands() {
	"$CTL" -s "$SOCK" info | sed -n 's/^commands:\([0-9]*\).*/\1/p'
}

# ---- ping, pools, stats ----
run ping
expect_eq "ping prints PONG" "0 PONG" "$rc $(cat "$T/out")"
run pools
expect_eq "pools table" "POOL empty probed web" "$(tr '\n' ' ' <"$T/out" | sed 's/ $//')"
run --json pools
expect_eq "pools --json" "['empty', 'probed', 'web']" "$(jq 'sorted(d)')"
run stats
expect_eq "stats header: the telling columns" "POOL TOTAL FREE LEASED SHARED QUARANTINED LEASES CHECK PROXIES_UP PROXIES_DOWN" \
    "$(head -1 "$T/out" | tr -s ' ')"
# 100 columns, with a pool name of 17 characters in place of the
# longest one here (the pool column is as wide as it)
widest() {
	awk 'length($0) > m { m = length($0) }
	    length($1) > p { p = length($1) }
	    END { print m - p + 17 }' "$1"
}
check "stats fits 100 columns ($(widest "$T/out"))" \
    test "$(widest "$T/out")" -le 100
"$CTL" -s "$SOCK" stats --wide >"$T/wide" 2>&1
expect_eq "stats --wide: every column" "POOL TOTAL FREE LEASED SHARED QUARANTINED DRAINING LEASES BINDINGS CHECK PROXIES_UP PROXIES_DOWN PROBES LOCAL_PROBES PROBES_PER_SEC PROBES_INFLIGHT ERRORS" \
    "$(head -1 "$T/wide" | tr -s ' ')"
expect_eq "stats row of web" "web 2 2 0" \
    "$(awk '$1 == "web" { print $1, $2, $3, $4 }' "$T/out")"
# columns are aligned: every line has TOTAL's last digit at the same place
expect_eq "stats columns aligned" "1" \
    "$(awk '{ print index($0, $2) + length($2) }' "$T/out" | sort -u | wc -l | tr -d ' ')"
run --json stats
expect_eq "stats --json: list of pools" "3 2" \
    "$(jq 'len(d), [p for p in d if p["pool"] == "web"][0]["total"]')"
run stats web
expect_eq "stats POOL: fields one a line" "pool web|total 2|free 2" \
    "$(head -3 "$T/out" | tr -s ' ' | tr '\n' '|' | sed 's/|$//')"
run --json stats web
expect_eq "stats POOL --json: one object" "web 2 0" \
    "$(jq 'd["pool"], d["total"], d["leased"]')"
"$CTL" stats web --json --socket="$SOCK" >"$T/out" 2>"$T/err"
expect_eq "global options after the command" "0 web" "$? $(jq 'd["pool"]')"

# ---- lease, renew, release, report ----
run lease web --ttl 20
check "lease prints a table of fields" grep -q '^token  *[0-9a-f]\{16,\}$' "$T/out"
tok1=$(awk '$1 == "token" { print $2 }' "$T/out")
check "lease table shows the expiry as a date" \
    grep -q '^expires  *[0-9]* ([0-9-]*T[0-9:.]*Z)$' "$T/out"
run --json lease web --name alice --exclusive
expect_eq "lease --json" "0 True True" \
    "$rc $(jq 'd["token"] != "" and d["fence"] > 0') $(jq 'd["proxy"].startswith("http://")')"
tok2=$(jq 'd["token"]')
expect_eq "lease --exclusive is not shared" "0" "$(jq 'd["shared"]')"
exp2=$(jq 'd["expires"]')
run --json renew web "$tok2" --ttl 60
expect_eq "renew --json moves the expiry later" "0 True" \
    "$rc $(jq "d['expires'] > $exp2")"
run --json lease web
expect_eq "lease on an exhausted pool: exit 1" "1" "$rc"
expect_eq "lease error in JSON" "EMPTY" "$(jq 'd["error"]')"
run lease empty
expect_eq "lease on an empty pool: exit 1" "1" "$rc"
check "lease on an empty pool names EMPTY" grep -q 'EMPTY' "$T/err"
run release web "$tok1" ok --latency 12.5
expect_eq "release ok" "0 OK" "$rc $(cat "$T/out")"
run release web "$tok1" ok
expect_eq "release with a stale token: exit 1" "1" "$rc"
check "stale token is NOTOWNED" grep -q 'NOTOWNED' "$T/err"
run renew web "$tok1"
expect_eq "renew with a stale token: exit 1" "1" "$rc"
run report web http://127.0.0.1:3128 failed --latency 40
expect_eq "report" "0 OK" "$rc $(cat "$T/out")"

# LEASE WAIT: the wait is added to -t, so a 1 s timeout does not cut a
# lease that waits 1.5 s for a release (both proxies are leased now)
run --json lease web
expect_eq "lease the proxy released before" "0" "$rc"
tok4=$(jq 'd["token"]')
"$CTL" -s "$SOCK" -t 1 --json lease web --wait 10 >"$T/waiter" 2>&1 &
waiter=$!
wait_for 10 sh -c "\"$CTL\" -s \"$SOCK\" info | grep -q '^waiting_clients:1'"
sleep 1.5
run release web "$tok2" failed
wait $waiter
rc=$?
expect_eq "lease --wait outlives -t and gets the released proxy" "0" "$rc"
tok3=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/waiter" 2>&1)
run release web "$tok3" ok
expect_eq "release the waited lease" "0" "$rc"
run release web "$tok4" ok
expect_eq "release the last lease" "0" "$rc"

# ---- bindings ----
run bind web bob http://127.0.0.1:3128 --ttl 100
expect_eq "bind" "0 OK" "$rc $(cat "$T/out")"
run binding web bob
expect_eq "binding" "0 http://127.0.0.1:3128" "$rc $(cat "$T/out")"
run --json bindings web http://127.0.0.1:3128
expect_eq "bindings --json lists bob" "0 True" "$rc $(jq '"bob" in d')"
run unbind web bob
expect_eq "unbind" "0 unbound" "$rc $(cat "$T/out")"
run --json binding web bob
expect_eq "binding after unbind is null" "0 None" "$rc $(jq 'd["proxy"]')"
run unbind web bob
expect_eq "unbind again" "0 not bound" "$rc $(cat "$T/out")"

# ---- list, add, remove ----
run list web
expect_eq "list header" "PROXY STATE HEALTH PRIORITY HOLDERS EXPIRES UNTIL DOWN_SINCE LAST_CHECK FAILURES LATENCY" \
    "$(head -1 "$T/out" | tr -s ' ')"
check "list: health none without a check" \
	sh -c "grep '^http://' '$T/out' | awk '{ print \$3 }' | sort -u | grep -qx none"
run list web --wide
check "list --wide adds NEXT_CHECK and LAST_ERROR" \
	sh -c "head -1 '$T/out' | grep -q 'NEXT_CHECK.*LAST_ERROR'"
expect_eq "list shows both proxies" "2" "$(grep -c '^http://' "$T/out")"
check "list redacts credentials" grep -q '^http://u:\*\*\*@127.0.0.1:3129 ' "$T/out"
check "list never shows the password" sh -c "! grep -q secret '$T/out'"

# a file of 1200 proxies: list must follow the cursor over 3 pages
i=0
: >"$T/many.txt"
while [ $i -lt 1200 ]; do
	echo "http://127.0.$((i / 250)).$((i % 250 + 1)):8080" >>"$T/many.txt"
	i=$((i + 1))
done
printf '# rented\n\nsocks5://127.0.9.1:1080 priority=3 expires=600  # one\n' \
    >>"$T/many.txt"
run add web -f "$T/many.txt"
expect_eq "add -f adds every line" "0 added 1201 proxies to web" "$rc $(cat "$T/out")"
run --json list web
expect_eq "list --json follows the cursor to the end" "0 1203" "$rc $(jq 'len(d)')"
expect_eq "list has no duplicates" "1203" "$(jq 'len(set(i["proxy"] for i in d))')"
expect_eq "add -f took priority= from the line" "3" \
    "$(jq '[i for i in d if i["proxy"] == "socks5://127.0.9.1:1080"][0]["priority"]')"
run --json list web --count 7
expect_eq "list --count bounds the items" "0 7" "$rc $(jq 'len(d)')"
run --json list web --state leased
expect_eq "list --state" "0 0" "$rc $(jq 'len(d)')"

# a bad line: reported as file:line, nothing added
printf 'http://127.0.8.1:3128\nhttp://127.0.8.2:3128\nnot-a-url\nhttp://127.0.8.3\nhttp://0%%36:3\n' \
    >"$T/bad.txt"
run add web -f "$T/bad.txt"
expect_eq "add -f with bad lines: usage error" "2" "$rc"
check "bad line 3 reported as file:line" grep -q "^$T/bad.txt:3: " "$T/err"
check "bad line 4 reported as file:line" grep -q "^$T/bad.txt:4: .*no port" "$T/err"
check "bad line 5: a %-escaped host, as the daemon refuses it" \
    grep -q "^$T/bad.txt:5: .*%-escaped host" "$T/err"
check "add -f says nothing was added" grep -q 'nothing added' "$T/err"
run --json stats web
expect_eq "add -f with a bad line changed nothing" "1203" "$(jq 'd["total"]')"

run add web http://127.0.8.9:3128 --priority 5 --expires 3600
expect_eq "add one" "0 OK" "$rc $(cat "$T/out")"
run add web ftp://127.0.0.1:21
expect_eq "add a bad URL: daemon error" "1" "$rc"
run remove web http://127.0.8.9:3128
expect_eq "remove" "0 removed" "$rc $(cat "$T/out")"
run --json remove web http://127.0.8.9:3128
expect_eq "remove again" "0 False" "$rc $(jq 'd["removed"]')"

# ---- gc, info, metrics, check ----
run gc web
check "gc prints counts" grep -q '^leases  *[0-9]' "$T/out"
run --json gc web
expect_eq "gc --json" "0 True" "$rc $(jq 'all(k in d for k in ("leases", "bindings", "items", "quarantine"))')"
run info
check "info text" grep -q '^# Server' "$T/out"
run --json info
expect_eq "info --json has sections" "0 True" "$rc $(jq '"version" in d["Server"]')"
expect_eq "info --json: numbers are numbers, words are strings" \
    "int int str str" \
    "$(jq 'tuple(type(x).__name__ for x in (d["Server"]["pid"], d["Clients"]["connected_clients"], d["Server"]["version"], d["Redis"]["prefix"]))')"
run metrics
check "metrics" grep -q '^proxypoold_' "$T/out"
run check web http://127.0.0.1:3128
expect_eq "check on a pool without checks: exit 1" "1" "$rc"
check "check says why" grep -q 'check' "$T/err"
run check probed "http://127.0.0.1:$up_port"
expect_eq "check: a listening proxy port is UP" "0 UP" \
    "$rc $(awk '$1 == "verdict" { print $2 }' "$T/out")"
check "check prints the latency" grep -q '^latency  *[0-9]' "$T/out"
run --json check probed "http://127.0.0.1:$down_port"
expect_eq "check --json: a closed port is DOWN, with a reason" "0 DOWN True" \
    "$rc $(jq 'd["verdict"], len(d["reason"]) > 0')"
run --json stats probed
expect_eq "stats shows the pool's check" "tcp" "$(jq 'd["check"]')"

# ---- locks ----
run --json lock job1 alice 30
expect_eq "lock gives a fence" "0 True" "$rc $(jq 'd["fence"] > 0')"
run lock job1 bob 30
expect_eq "lock held by another: exit 1" "1" "$rc"
check "lock held is BUSY" grep -q BUSY "$T/err"
run unlock job1 bob
expect_eq "unlock by another: exit 1" "1" "$rc"
run unlock job1 alice
expect_eq "unlock" "0 OK" "$rc $(cat "$T/out")"

# ---- every command's --json parses ----
for args in "ping" "pools" "stats" "stats web" "list web --count 3" \
    "gc web" "info" "metrics" "binding web nobody" "bindings web x" \
    "lease empty" "check web http://127.0.0.1:3128" \
    "check probed http://127.0.0.1:$up_port" "reload"; do
	# shellcheck disable=SC2086
	run --json $args
	check "--json $args parses" json_ok
done

# ---- reload and check-config ----
run check-config "$T/pp.conf"
expect_eq "check-config of a good file" "0" "$rc"
check "check-config says OK" grep -q 'configuration OK' "$T/out"
expect_eq "check-config of a good file: nothing on stderr" "" "$(cat "$T/err")"
sed 's/lease_ttl = 30/lease_ttl = 0/' "$T/pp.conf" >"$T/bad.conf"
run check-config "$T/bad.conf"
expect_eq "check-config of a bad file: exit 1" "1" "$rc"
check "check-config of a bad file says so on stderr" \
    grep -q "bad.conf is not valid" "$T/err"
check "check-config of a bad file: no OK" sh -c "! grep -q 'configuration OK' '$T/out'"
check "check-config names file:line: setting" \
    grep -q "bad.conf:[0-9]*: .*lease_ttl" "$T/err"
run --json check-config "$T/bad.conf"
expect_eq "check-config --json" "False" "$(jq 'd["valid"]')"

sed 's/{ name = "empty"; }/{ name = "empty"; }, { name = "extra"; }/' \
    "$T/pp.conf" >"$T/new.conf" && cp "$T/new.conf" "$T/pp.conf"
run reload
expect_eq "reload" "0 OK" "$rc $(cat "$T/out")"
run pools
check "reload added the pool" grep -q '^extra$' "$T/out"
cp "$T/pp.conf" "$T/good.conf"
echo 'pools = oops' >>"$T/pp.conf"
run reload
expect_eq "reload of a bad file: exit 1" "1" "$rc"
check "reload error names file:line" grep -q 'pp.conf:[0-9]*:' "$T/err"
cp "$T/good.conf" "$T/pp.conf"
run --json stats extra
expect_eq "the running config stayed after a bad reload" "0 extra" \
    "$rc $(jq 'd["pool"]')"

# ---- a peer that is not an admin: DENIED, exit 1.  Root (always an
# admin) asks as nobody; anyone else asks a second daemon (own socket,
# own Redis prefix) whose admin_uids leaves this uid out ----
nonadmin=""
if [ "$(id -u)" != 0 ]; then
	sed "s|socket = \"$SOCK\";|socket = \"$T/na.sock\";|
	    s|admin_uids = \[[^]]*\];||; s|\"$T/pp.log\"|\"$T/na.log\"|
	    s|url = \"unix://$T/redis.sock\";|&  prefix = \"na\";|" \
	    "$T/pp.conf" >"$T/na.conf"
	"$DAEMON" -c "$T/na.conf" 2>>"$T/na.log" &
	track $!
	na_pid=$!
	wait_for 20 "$CTL" -s "$T/na.sock" -t 1 ping || {
		echo "second proxypoold did not start"; cat "$T/na.log"; exit 1; }
	nonadmin() { "$CTL" -s "$T/na.sock" "$@"; }
	nonadmin=yes
elif command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$T"
	nonadmin() { setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$CTL" -s "$SOCK" "$@"; }
	nonadmin=yes
fi
if [ -n "$nonadmin" ]; then
	nonadmin list web >"$T/out" 2>"$T/err"
	expect_eq "admin command from another user: exit 1" "1" "$?"
	check "it is DENIED" grep -q DENIED "$T/err"
	nonadmin --json stats web >"$T/out" 2>"$T/err"
	expect_eq "user command from another user works" "0 web" \
	    "$? $(jq 'd["pool"]')"
	chmod 700 "$T"
	if [ -n "${na_pid:-}" ]; then
		kill -TERM "$na_pid"
		wait_for 10 sh -c "! kill -0 $na_pid 2>/dev/null"
	fi
else
	skip "admin commands from another user are DENIED" "setpriv missing"
fi

# ---- usage errors: exit 2, nothing sent ----
before=$(ncommands)
for args in "" "frob" "lease" "lease web extra" "lease web --ttl abc" \
    "lease web --ttl -1" "lease web --wait 99999" "lease web --bogus" \
    "lease web --name" "release web $tok1 maybe" "renew web" \
    "report web http://127.0.0.1:3128" "list web --count 0" \
    "add web" "add web -f $T/many.txt http://127.0.0.1:1" \
    "add web x --priority 1.5" "lock a b 0" "-t 0 ping" "-t abc ping" \
    "-x ping" "check-config $T/absent.conf"; do
	# shellcheck disable=SC2086
	run $args
	expect_eq "usage error: '$args' exits 2" "2" "$rc"
	check "usage error: '$args' says why" test -s "$T/err"
done
after=$(ncommands)
# one INFO per ncommands call between the two counts
expect_eq "usage errors sent nothing" "$((before + 1))" "$after"
run lease web --ttl abc
check "bad --ttl is named" grep -q -- "--ttl: 'abc' is not a number" "$T/err"
check "the usage line follows" grep -q '^usage: proxypoolctl lease POOL' "$T/err"
run --help
expect_eq "--help exits 0" "0" "$rc"
check "--help documents the exit codes" grep -q 'exit status' "$T/out"

# ---- connection failures: exit 3 ----
"$CTL" -s "$T/absent.sock" ping >"$T/out" 2>"$T/err"
expect_eq "no socket: exit 3" "3" "$?"
check "no socket is explained" grep -q 'cannot connect' "$T/err"
PROXYPOOLD_SOCKET=$T/absent.sock "$CTL" ping >/dev/null 2>&1
expect_eq "PROXYPOOLD_SOCKET is used" "3" "$?"
PROXYPOOLD_SOCKET=$T/absent.sock "$CTL" -s "$SOCK" ping >/dev/null 2>&1
expect_eq "-s wins over PROXYPOOLD_SOCKET" "0" "$?"
# a socket that accepts and never answers: the timeout ends it
"$PYTHON3" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
c = [s.accept() for _ in range(8)]
time.sleep(60)' "$T/mute.sock" &
track $!
wait_for 10 test -S "$T/mute.sock"
start=$(date +%s)
"$CTL" -s "$T/mute.sock" -t 0.5 ping >/dev/null 2>"$T/err"
rc=$?
end=$(date +%s)
expect_eq "no answer in time: exit 3" "3" "$rc"
check "timeout is explained" grep -q 'timed out' "$T/err"
check "timeout is honoured" test $((end - start)) -le 5
# top: frames without a terminal; on a terminal it refreshes until q
"$CTL" -s "$SOCK" top --iterations 2 --interval 0.1 >"$T/top.out" 2>&1
expect_eq "top --iterations 2: exit 0" "0" "$?"
expect_eq "top prints two frames" "2" "$(grep -c '^proxypoold ' "$T/top.out")"
check "top shows the pool web" grep -q '^web ' "$T/top.out"
"$PYTHON3" - "$CTL" "$SOCK" >"$T/top.pty" 2>&1 <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "-s", sys.argv[2], "top",
                           "--interval", "0.2"])
out = b""
end = time.monotonic() + 10
while b"q quits" not in out and time.monotonic() < end:
    if select.select([fd], [], [], 0.5)[0]:
        out += os.read(fd, 65536)
os.write(fd, b"q")
end = time.monotonic() + 5
while time.monotonic() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        print("exit", os.waitstatus_to_exitcode(st))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print("still running")
print("frames", out.count(b"proxypoold "))
PY
check "top on a terminal refreshes and q ends it (exit 0)" grep -q '^exit 0$' "$T/top.pty"
# a socket that accepts and hangs up at once
"$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
while True:
    s.accept()[0].close()' "$T/closer.sock" &
track $!
wait_for 10 test -S "$T/closer.sock"
"$CTL" -s "$T/closer.sock" add web -f "$T/many.txt" >/dev/null 2>"$T/err"
expect_eq "a daemon that hangs up: exit 3" "3" "$?"
check "hang-up is explained" grep -q 'closed the connection\|Broken pipe\|reset' "$T/err"
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
run ping
expect_eq "daemon stopped: exit 3" "3" "$rc"

finish
