#!/bin/sh
# daemon_cli.sh: every proxypoold command through redis-cli, config
# checking (-t with file:line), reload with and without errors, admin
# checks for a non-root peer.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"

start_redis redis
write_conf "$T/pp.conf" "unix://$T/redis.sock"
start_daemon "$T/pp.conf"

expect_eq "PING" "PONG" "$(pp ping)"
expect_eq "POOLS" "default" "$(pp pools)"
expect_eq "STATS total" "3" "$(pp stats default | field total)"

out=$(pp lease default ttl 10 name job1)
proxy=$(echo "$out" | field proxy)
token=$(echo "$out" | field token)
fence=$(echo "$out" | field fence)
check "LEASE returns a proxy" test -n "$proxy"
check "LEASE token is 32 hex" sh -c "echo '$token' | grep -Eq '^[0-9a-f]{32}$'"
check "LEASE fence is a number" test "$fence" -ge 1
expect_eq "STATS leased after LEASE" "1" "$(pp stats default | field leased)"
exp=$(pp renew default "$token" ttl 20)
check "RENEW returns the new expiry" test "$exp" -gt 1000000000000
expect_eq "RELEASE" "OK" "$(pp release default "$token" ok latency 12)"
expect_eq "RELEASE again: stale token" "NOTOWNED" \
	"$(pp release default "$token" | cut -d' ' -f1)"
expect_eq "RENEW stale token" "NOTOWNED" \
	"$(pp renew default "$token" | cut -d' ' -f1)"
expect_eq "RELEASE bad outcome word" "BADARG" \
	"$(pp release default "$token" maybe | cut -d' ' -f1)"
expect_eq "LEASE unknown pool" "NOPOOL" "$(pp lease nosuch | cut -d' ' -f1)"
# every NOPOOL names the pool asked for and the configured ones
for c in "lease nosuch" "stats nosuch" "report nosuch http://127.0.0.1:3128 ok" \
    "bind nosuch job http://127.0.0.1:3128" "release nosuch $token" \
    "list nosuch"; do
	expect_eq "$c: NOPOOL names the pool and the pools" \
		"NOPOOL no such pool 'nosuch' (pools: default)" "$(pp $c)"
done
expect_eq "LEASE bad option" "BADARG" "$(pp lease default foo 1 | cut -d' ' -f1)"
expect_eq "LEASE TTL not a number" "BADARG" \
	"$(pp lease default ttl abc | cut -d' ' -f1)"
expect_eq "unknown command" "ERR" "$(pp frobnicate | cut -d' ' -f1)"
expect_eq "wrong arity" "ERR" "$(pp lease | cut -d' ' -f1)"
expect_eq "case-insensitive words" "PONG" "$(pp PiNg)"

# exhaust the pool: EMPTY
t1=$(pp lease default | field token)
t2=$(pp lease default | field token)
t3=$(pp lease default | field token)
expect_eq "LEASE on an exhausted pool" "EMPTY" "$(pp lease default | cut -d' ' -f1)"
start=$(date +%s%N)
r=$(pp lease default wait 0.5 | cut -d' ' -f1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "LEASE WAIT times out with EMPTY" "EMPTY" "$r"
check "LEASE WAIT waited about 0.5 s ($ms ms)" test "$ms" -ge 450 -a "$ms" -lt 3000
# a waiter is served by a release
( pp lease default wait 5 >"$T/waiter.out" ) &
wpid=$!
wait_for 5 sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q 'waiting_clients:1'"
pp release default "$t1" >/dev/null
wait $wpid
check "WAIT served by a RELEASE" grep -q token "$T/waiter.out"
t1=$(field token <"$T/waiter.out")
for t in $t1 $t2 $t3; do pp release default "$t" >/dev/null; done
expect_eq "all free again" "3" "$(pp stats default | field free)"

# report, bind
expect_eq "REPORT" "OK" "$(pp report default http://127.0.0.1:3128 failed latency 5)"
expect_eq "REPORT bad URL" "BADARG" "$(pp report default ftp://x:1 ok | cut -d' ' -f1)"
expect_eq "REPORT of a proxy not in the pool: NOPROXY, both named" \
    "NOPROXY no proxy http://127.0.0.1:3999 in pool default" \
    "$(pp report default http://127.0.0.1:3999 ok)"
expect_eq "BIND to a proxy not in the pool: NOPROXY, both named" \
    "NOPROXY no proxy http://127.0.0.1:3999 in pool default" \
    "$(pp bind default bob http://127.0.0.1:3999)"
expect_eq "BIND" "OK" "$(pp bind default alice http://127.0.0.1:3129 ttl 60)"
expect_eq "BINDING" "http://127.0.0.1:3129" "$(pp binding default alice)"
expect_eq "BINDINGS" "alice" "$(pp bindings default http://127.0.0.1:3129)"
expect_eq "LEASE NAME returns the bound proxy" "http://127.0.0.1:3129" \
	"$(pp lease default name alice | field proxy)"
expect_eq "UNBIND" "1" "$(pp unbind default alice)"
expect_eq "UNBIND again" "0" "$(pp unbind default alice)"
expect_eq "BINDING after UNBIND" "" "$(pp binding default alice)"

# admin commands (this uid is in admin_uids; root always is admin)
expect_eq "ADD" "OK" "$(pp add default http://127.0.0.9:8000 priority 2)"
expect_eq "ADD bad URL" "BADARG" "$(pp add default http://127.0.0.9 | cut -d' ' -f1)"
expect_eq "STATS total after ADD" "4" "$(pp stats default | field total)"
check "LIST shows the added proxy" sh -c "'$REDIS_CLI' -s '$SOCK' list default count 100 | grep -q 'http://127.0.0.9:8000'"
pp list default >"$T/list"
check "LIST redacts credentials" grep -qxF 'socks5://user:***@127.0.0.1:1080' "$T/list"
check "LIST never shows the password" sh -c "grep -qF 'socks5://user:' '$T/list' && ! grep -q secret '$T/list'"
expect_eq "LIST STATE free" "free" "$(pp list default state free count 1 | sed -n 5p)"
expect_eq "REMOVE" "1" "$(pp remove default http://127.0.0.9:8000)"
expect_eq "REMOVE absent" "0" "$(pp remove default http://127.0.0.9:8000)"
expect_eq "GC" "leases" "$(pp gc default | head -1)"
expect_eq "CHECK without checks" "ERR no checks configured" "$(pp check default http://127.0.0.1:3128)"
check "INFO has sections" sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q '^# Clients'"
check "METRICS is Prometheus text" sh -c "'$REDIS_CLI' -s '$SOCK' metrics | grep -q '^proxypoold_leases_total [0-9]'"
expect_eq "METRICS per pool and state" "proxypoold_pool_proxies{pool=\"default\",state=\"free\"} $(pp stats default | field free)" \
	"$(pp metrics | grep -F 'proxypoold_pool_proxies{pool="default",state="free"}')"
expect_eq "LOCK" "1" "$(pp lock job owner1 10 | grep -c '^[0-9]')"
expect_eq "LOCK held by another" "BUSY" "$(pp lock job owner2 10 | cut -d' ' -f1)"
expect_eq "UNLOCK by another" "NOTOWNED" "$(pp unlock job owner2 | cut -d' ' -f1)"
expect_eq "UNLOCK" "OK" "$(pp unlock job owner1)"
expect_eq "QUIT" "OK" "$(pp quit)"
expect_eq "CLIENT SETNAME" "OK" "$(pp client setname me)"

# the log never shows the password (it names the proxy, redacted)
check "log redacts credentials" sh -c "grep -qF 'leased socks5://user:***@127.0.0.1:1080' '$T/pp.log' && ! grep -q secret '$T/pp.log'"

# VERIFY: the library's invariant check through the daemon, page by page
CTL=$top_builddir/src/ctl/proxypoolctl
expect_eq "VERIFY of a sound pool: an empty array" "" "$(pp verify default)"
"$CTL" -s "$SOCK" verify >"$T/verify.out" 2>&1
expect_eq "proxypoolctl verify of sound pools exits 0" "0" "$?"
expect_eq "proxypoolctl verify says no violations" "default: no violations" \
	"$(cat "$T/verify.out")"
expect_eq "proxypoolctl --json verify of a sound pool" '{"default":[]}' \
	"$("$CTL" -s "$SOCK" --json verify default)"
expect_eq "VERIFY unknown pool: NOPOOL" \
	"NOPOOL no such pool 'nosuch' (pools: default)" "$(pp verify nosuch)"
# damage planted by hand: a free proxy out of the free set, a binding to
# a proxy that is not there
S5='socks5://user:secret@127.0.0.1:1080'
score=$("$REDIS_CLI" -s "$T/redis.sock" zscore '{ra:default}:free' "$S5")
"$REDIS_CLI" -s "$T/redis.sock" zrem '{ra:default}:free' "$S5" >/dev/null
"$REDIS_CLI" -s "$T/redis.sock" hset '{ra:default}:bind' ghostname nowhere >/dev/null
pp verify default >"$T/verify.raw"
check "VERIFY reports the lost proxy, redacted" \
	grep -qF 'item socks5://user:***@127.0.0.1:1080: lost' "$T/verify.raw"
check "VERIFY reports the binding to a missing proxy" \
	sh -c "grep -F 'binding ghostname' '$T/verify.raw' | grep -q missing"
check "VERIFY shows no password" sh -c "! grep -q secret '$T/verify.raw'"
"$CTL" -s "$SOCK" verify >"$T/verify.out" 2>&1
expect_eq "proxypoolctl verify exits 1 on violations" "1" "$?"
check "proxypoolctl verify prints them by pool" \
	grep -qF 'default: item socks5://user:***@127.0.0.1:1080: lost' \
	"$T/verify.out"
"$CTL" -s "$SOCK" --json verify default >"$T/verify.json"
expect_eq "proxypoolctl --json verify exits 1 on violations" "1" "$?"
expect_eq "proxypoolctl --json verify: an array of lines by pool" \
	"$(wc -l <"$T/verify.raw")" "$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))["default"]))' "$T/verify.json")"
check "the daemon logs what VERIFY found" \
	grep -q "pool default: VERIFY found $(wc -l <"$T/verify.raw") violations" "$T/pp.log"
"$REDIS_CLI" -s "$T/redis.sock" zadd '{ra:default}:free' "$score" "$S5" >/dev/null
"$REDIS_CLI" -s "$T/redis.sock" hdel '{ra:default}:bind' ghostname >/dev/null
expect_eq "VERIFY after the repair: empty again" "" "$(pp verify default)"

# a non-admin peer: user commands work, admin commands are denied.  Root
# (always admin) asks as nobody; anyone else asks a second daemon whose
# admin_uids leaves this uid out.
np=""
if [ "$(id -u)" != 0 ]; then
	NSOCK=$T/na.sock
	write_conf "$T/na.conf" "unix://$T/redis.sock"
	sed -i "s|socket = \"$SOCK\";|socket = \"$NSOCK\";|
	    s|admin_uids = \[[^]]*\];||" "$T/na.conf"
	"$PROXYPOOLD" -c "$T/na.conf" >>"$T/na.log" 2>&1 &
	na_pid=$!
	track $na_pid
	wait_for 10 grep -q 'pools synced to Redis' "$T/na.log" || {
		echo "second proxypoold did not start"; cat "$T/na.log"; exit 1; }
	np() { "$REDIS_CLI" -s "$NSOCK" "$@"; }
	np=yes
elif command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"
	np() { setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$REDIS_CLI" -s "$SOCK" "$@"; }
	np=yes
fi
if [ -n "$np" ]; then
	expect_eq "non-admin INFO says admin:0" "admin:0" \
		"$(np info | tr -d '\r' | grep '^admin:')"
	expect_eq "non-admin PING" "PONG" "$(np ping)"
	expect_eq "non-admin STATS" "3" "$(np stats default | field total)"
	for c in "list default" "add default http://127.0.0.8:1" \
	    "remove default http://127.0.0.1:3128" "gc default" "verify default" \
	    reload metrics; do
		# shellcheck disable=SC2086
		expect_eq "non-admin $c denied" "DENIED" "$(np $c | cut -d' ' -f1)"
	done
	expect_eq "non-admin LEASE" "1" "$(np lease default | grep -c token)"
	if [ -n "${na_pid:-}" ]; then
		kill -TERM "$na_pid"
		wait_for 10 sh -c "! kill -0 $na_pid 2>/dev/null"
	fi
else
	skip "non-admin peers are DENIED" "setpriv or nobody missing"
fi

# -t: config check with file:line
"$PROXYPOOLD" -t -c "$T/pp.conf" >/dev/null
expect_eq "-t accepts the good config" "0" "$?"
out=$("$PROXYPOOLD" -t -c "$top_srcdir/etc/proxypoold.conf" 2>&1)
expect_eq "-t accepts the example etc/proxypoold.conf" \
	"$top_srcdir/etc/proxypoold.conf: configuration OK (2 pools, 12 proxies)" "$out"
printf 'listen = { max_clients = "many"; };\n' >"$T/bad1.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad1.conf" 2>&1); rc=$?
expect_eq "-t rejects a bad type" "1" "$rc"
expect_eq "-t names file:line: setting" \
	"$T/bad1.conf:1: listen.max_clients: expected an integer" "$out"
printf 'pools = ( { name = "p";\n  proxies = ( "http://127.0.0.1:1",\n "ftp://127.0.0.1:21" ); } );\n' >"$T/bad2.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad2.conf" 2>&1)
check "-t bad proxy URL names line 3 ($out)" sh -c "echo '$out' | grep -q '^$T/bad2.conf:3: pools\[p\].proxies: unsupported proxy scheme ftp'"
printf 'http://127.0.0.1:1\n# comment\n\nhttp://127.0.0.1:2 priority=x\n' >"$T/bad.txt"
printf 'pools = ( { name = "p"; proxies_file = "bad.txt"; } );\n' >"$T/bad3.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad3.conf" 2>&1)
expect_eq "-t proxies_file error names its line" \
	"$T/bad.txt:4: pools[p].proxies_file: bad priority x" "$out"
printf 'pools = ( { name = "p"; priority = 2000000; } );\n' >"$T/bad6.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad6.conf" 2>&1)
expect_eq "-t pool priority out of range" \
	"$T/bad6.conf:1: pools[p].priority: 2e+06 out of range -1e+06 to 1e+06" "$out"
printf 'pools = ( { name = "p";\n proxies = ( "http://127.0.0.1:1",\n "HTTP://127.0.0.1:1/" ); } );\n' >"$T/bad7.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad7.conf" 2>&1)
expect_eq "-t duplicate proxy after normalisation" \
	"$T/bad7.conf:3: pools[p].proxies: duplicate proxy http://127.0.0.1:1 (first at $T/bad7.conf:2)" "$out"
printf 'pools = ( { name = "p";\n proxies = ( "http://0%%36:3" ); } );\n' >"$T/bad8.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad8.conf" 2>&1)
expect_eq "-t refuses a %-escaped host (06, then 0.0.0.6: no one identity)" \
	"$T/bad8.conf:2: pools[p].proxies: proxy URL host must not be %-escaped (nor have an IPv6 zone)" "$out"
printf 'redis = { urll = "x"; };\n' >"$T/bad4.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad4.conf" 2>&1)
expect_eq "-t unknown setting" "$T/bad4.conf:1: redis.urll: unknown setting" "$out"
printf 'pools = ( { name = "p" } \n' >"$T/bad5.conf"
out=$("$PROXYPOOLD" -t -c "$T/bad5.conf" 2>&1)
check "-t syntax error with line ($out)" sh -c "echo '$out' | grep -q '^$T/bad5.conf:[12]: syntax:'"

# reload: add and remove proxies without dropping leases
lt=$(pp lease default | field token)
lp=$(pp list default state leased | sed -n 3p)
write_conf "$T/pp.conf" "unix://$T/redis.sock" "pools = ( { name = \"default\";
  proxies = ( \"$lp\", \"http://127.0.0.1:4000\" ); },
  { name = \"second\"; proxies = ( \"http://127.0.0.2:1\" ); } );"
expect_eq "RELOAD" "OK" "$(pp reload)"
expect_eq "POOLS after reload" "default second" "$(pp pools | sort | tr '\n' ' ' | sed 's/ $//')"
r=$(pp renew default "$lt")
check "lease kept over reload: RENEW answers the new expiry ($r)" \
	sh -c "test '$r' -gt 1000000000000 2>/dev/null"
# active = total - draining (leases held elsewhere in this test drain)
active() { _s=$(pp stats default); echo $(( $(echo "$_s" | field total) - $(echo "$_s" | field draining) )); }
expect_eq "proxies after reload" "2" "$(active)"
expect_eq "new pool leasable" "http://127.0.0.2:1" "$(pp lease second | field proxy)"
# a bad file: the running config stays, RELOAD says why
cp "$T/pp.conf" "$T/good.conf"
printf 'pools = ( { name = "default"; lease_ttl = -1; } );\n' >>"$T/pp.conf"
out=$(pp reload)
check "bad RELOAD answers file:line ($out)" sh -c "echo '$out' | grep -q '^ERR $T/pp.conf:[0-9]*: '"
expect_eq "bad RELOAD keeps pools" "2" "$(active)"
kill -HUP "$pp_pid"
wait_for 5 grep -q "reload failed, keeping" "$T/pp.log"
check "SIGHUP with a bad file is logged" grep -q "reload failed, keeping" "$T/pp.log"
expect_eq "daemon alive after bad SIGHUP" "PONG" "$(pp ping)"
cp "$T/good.conf" "$T/pp.conf"
sed -i 's|"http://127.0.0.1:4000"|"http://127.0.0.1:4000", "http://127.0.0.1:4001"|' "$T/pp.conf"
kill -HUP "$pp_pid"
wait_for 5 sh -c "'$REDIS_CLI' -s '$SOCK' list default count 100 | grep -q 4001"
expect_eq "SIGHUP reload adds a proxy" "3" "$(active)"

# @include, a removed pool, a setting that needs a restart
cat >"$T/pools.inc" <<INC
pools = ( { name = "default"; proxies = ( "http://127.0.0.1:4000" ); } );
INC
write_conf "$T/pp.conf" "unix://$T/redis.sock" '@include "pools.inc"'
sed -i "s|socket = \"$SOCK\";|socket = \"$T/other.sock\";|" "$T/pp.conf"
expect_eq "RELOAD with @include" "OK" "$(pp reload)"
expect_eq "removed pool is gone" "default" "$(pp pools)"
expect_eq "removed pool: NOPOOL" \
	"NOPOOL no such pool 'second' (is being deleted; pools: default)" \
	"$(pp lease second)"
check "socket change reported as needing a restart" \
	grep -q "listen.socket cannot change without a restart" "$T/pp.log"
expect_eq "running socket kept" "PONG" "$(pp ping)"
sed -i "s|socket = \"$T/other.sock\";|socket = \"$SOCK\";|" "$T/pp.conf"

# -d: the parent returns once the daemon is ready; errors still reach it
out=$("$PROXYPOOLD" -d -p "$T/pp2.pid" -c "$T/pp.conf" 2>&1); rc=$?
expect_eq "-d with the socket in use fails" "1" "$rc"
check "-d says why ($out)" \
	sh -c "echo '$out' | grep -q 'proxypoold (pid $pp_pid) is listening there'"
kill -TERM "$pp_pid"
wait_for 10 sh -c "! kill -0 $pp_pid 2>/dev/null"
"$PROXYPOOLD" -d -p "$T/pp.pid" -c "$T/pp.conf" 2>>"$T/pp.log"
expect_eq "-d exits 0" "0" "$?"
dpid=$(cat "$T/pp.pid" 2>/dev/null)
[ -n "$dpid" ] && track "$dpid"
check "-d writes a pidfile of a live daemon ($dpid)" kill -0 "${dpid:-none}"
expect_eq "-d daemon answers at once" "PONG" "$(pp ping)"
kill -TERM "$dpid"
wait_for 10 sh -c "! kill -0 $dpid 2>/dev/null"
check "pidfile removed on exit" test ! -e "$T/pp.pid"

# the socket's directory (RUNSTATEDIR/proxypoold by default) is created
# when missing, 0755 whatever the umask; one that cannot be is a clear
# error, naming it
sed "s|socket = \"$SOCK\";|socket = \"$T/rundir/pp.sock\";|" \
	"$T/pp.conf" >"$T/rundir.conf"
(umask 077; exec "$PROXYPOOLD" -d -p "$T/pp.pid" -c "$T/rundir.conf") \
	2>>"$T/pp.log"
expect_eq "a socket in a missing directory: -d exits 0" "0" "$?"
dpid=$(cat "$T/pp.pid" 2>/dev/null)
[ -n "$dpid" ] && track "$dpid"
expect_eq "the directory is made, the socket answers" "PONG" \
	"$("$REDIS_CLI" -s "$T/rundir/pp.sock" ping)"
expect_eq "the directory is mode 0755 (umask 077)" "755" "$(stat -c %a "$T/rundir")"
kill -TERM "$dpid"
wait_for 10 sh -c "! kill -0 $dpid 2>/dev/null"
: >"$T/notadir"
sed "s|socket = \"$SOCK\";|socket = \"$T/notadir/pp.sock\";|" \
	"$T/pp.conf" >"$T/notadir.conf"
out=$("$PROXYPOOLD" -d -p "$T/pp.pid" -c "$T/notadir.conf" 2>&1); rc=$?
expect_eq "a socket directory that cannot be made: exit 1" "1" "$rc"
check "... naming it ($out)" sh -c "echo '$out' | grep -q 'mkdir $T/notadir: '"
finish
