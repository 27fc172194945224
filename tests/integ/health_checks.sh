#!/bin/sh
# health_checks.sh: active health checks in a running proxypoold against
# tinyproxy and fault-injecting proxies on loopback: rise to UP, fall to
# DOWN and no more leases, return after restart, latency ranking, the
# plugins through CHECK (http, connect, tcp, exec with every exit code and
# a hung program), SOCKS4/4a/5/5h proxies (with and without credentials),
# fault modes, broken plugin files refused.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
skip_unless openssl
[ -x "$TINYPROXY" ] || { echo "skip: tinyproxy not found"; exit 77; }

start_redis redis
start_target
TA=$(free_port); start_tinyproxy tpa "$TA"
TB=$(free_port); start_tinyproxy tpb "$TB"
start_fault slow slow --delay 300
start_fault reset reset
start_fault s503 status --status 503
start_fault junk garbage
start_fault hang hang
start_fault tunnel ok
start_fault socks socks
start_fault socksauth socks --auth bob:s3cret
DEAD=$(free_port)

# the checks directory: the real plugins plus two broken files
mkdir -p "$T/checks"
for p in http connect tcp exec; do
	cp "$CHECKS_DIR/$p.so" "$T/checks/"
done
cp "$top_builddir/tests/servers/.libs/badabi.so" "$T/checks/badabi.so"
cp "$top_builddir/tests/servers/.libs/nosym.so" "$T/checks/nosym.so"

cat >"$T/probe.sh" <<'SH'
#!/bin/sh
mode=$(cat "$(dirname "$0")/mode")
case $mode in
0) echo "OK - fine | time=0.042s;1;2"; exit 0 ;;
1) echo "WARNING - host=$PROXY_HOST port=$PROXY_PORT scheme=$PROXY_SCHEME user=$PROXY_USER"; exit 1 ;;
2) echo "CRITICAL - broken"; exit 2 ;;
3) echo "UNKNOWN - cannot tell"; exit 3 ;;
hang) echo $$ >"$(dirname "$0")/probe.pid"; sleep 30 &
	echo $! >"$(dirname "$0")/sleep.pid"; wait; exit 0 ;;
esac
SH
chmod +x "$T/probe.sh"
echo 0 >"$T/mode"

A=http://127.0.0.1:$TA B=http://127.0.0.1:$TB S=http://127.0.0.1:$slow_port
HP=$(free_port)
write_conf "$T/pp.conf" "unix://$T/redis.sock" "
http = { listen = \"127.0.0.1:$HP\"; };
checks = { dir = \"$T/checks\"; max_inflight = 64; };
pools = (
  { name = \"web\"; lease_ttl = 60;
    proxies = ( \"$A\", \"$B\", \"$S\" );
    check = { type = \"http\"; url = \"http://127.0.0.1:$TARGET_PORT/health\";
      expect = [200]; body = \"ok\"; inter = 0.3; fastinter = 0.1;
      downinter = 0.3; rise = 2; fall = 2; timeout = 1.0; jitter = 0.1;
      latency_step = 0.05; }; },
  { name = \"tls\"; proxies = ( \"http://127.0.0.1:$tunnel_port\" );
    check = { type = \"connect\"; url = \"https://127.0.0.1:$TARGET_TLS_PORT/\";
      insecure = true; inter = 60; }; },
  { name = \"tlsv\"; proxies = ( \"http://127.0.0.1:$tunnel_port\" );
    check = { type = \"connect\"; url = \"https://127.0.0.1:$TARGET_TLS_PORT/\";
      inter = 60; }; },
  { name = \"plain\"; proxies = ( \"$A\" ); },
  { name = \"port\"; proxies = ( \"$A\" );
    check = { type = \"tcp\"; inter = 60; }; },
  { name = \"ex\"; proxies = ( \"socks5://bob:pw@127.0.0.1:$TA\" );
    check = { type = \"exec\"; command = [ \"$T/probe.sh\" ]; inter = 60;
      timeout = 0.5; }; }
);"
started=$(date +%s%N)
start_daemon "$T/pp.conf"

grep -q 'check plugin refused:.*badabi.so.*ABI version 999' "$T/pp.log"
check "a plugin with another ABI version is refused with a clear log line" [ $? -eq 0 ]
grep -q 'check plugin refused:.*nosym.so.*no pp_check_plugin symbol' "$T/pp.log"
check "a module without the descriptor symbol is refused" [ $? -eq 0 ]
expect_eq "the daemon serves after refusing them" PONG "$(pp ping)"

# rise: every working proxy is UP after two good checks
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats web | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = 3 ]"
check "working proxies go UP after rise" [ $? -eq 0 ]
# the proxies of the first pool sync are scheduled as soon as it ends,
# not at the next 5 s pass (on a fresh Redis the first pass came before
# the proxies: UP only after 5 s)
ms=$(( ($(date +%s%N) - started) / 1000000 ))
check "UP within 3 s of the start, inter 0.3 s ($ms ms)" [ "$ms" -lt 3000 ]
expect_eq "none is down" 0 "$(stat web proxies_down)"
n=$(stat web local_probes)
check "STATS counts this instance's probes ($n)" [ "$n" -ge 6 ]

# a proxy ADDed at runtime is scheduled at once too (within its
# interval), not at the next 5 s pass; then it goes again
X="http://extra:x@127.0.0.1:$TA"
started=$(date +%s%N)
pp add web "$X" >/dev/null
i=0
while [ "$(stat web proxies_up)" != 4 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
ms=$(( ($(date +%s%N) - started) / 1000000 ))
up=$(stat web proxies_up)
check "an ADDed proxy is UP within 3 s ($up up, $ms ms)" test "$up" = 4 -a "$ms" -lt 3000
pp remove web "$X" >/dev/null
i=0
while [ "$(stat web proxies_up)" != 3 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
expect_eq "and once removed, 3 are up again" 3 "$(stat web proxies_up)"

# latency: the slow proxy ranks after the fast ones
pp lease web >"$T/l1"; pp lease web >"$T/l2"; pp lease web >"$T/l3"
expect_eq "the slow proxy is leased last" "$S" "$(field proxy <"$T/l3")"
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
expect_eq "the fast ones first" "$(sorted "$A" "$B")" \
	"$(sorted "$(field proxy <"$T/l1")" "$(field proxy <"$T/l2")")"
for f in l1 l2 l3; do pp release web "$(field token <"$T/$f")" >/dev/null; done

# fall: a killed tinyproxy goes DOWN and is no longer leased
kill "$tpb_pid"; wait "$tpb_pid" 2>/dev/null
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats web | awk 'p{print;exit} \$0==\"proxies_down\"{p=1}')\" = 1 ]"
check "a killed proxy goes DOWN after fall" [ $? -eq 0 ]
expect_eq "a DOWN proxy is quarantined" 1 "$(stat web quarantined)"
errs=$(stat web errors)
case $errs in *connect*=*) r=0 ;; *) r=1 ;; esac
check "STATS shows the errors by reason ($errs)" [ $r -eq 0 ]
grep -q "pool web: http://127.0.0.1:$TB is down" "$T/pp.log"
check "the state change is logged" [ $? -eq 0 ]
check "INFO counts it (health_down_events)" \
	sh -c "'$REDIS_CLI' -s '$SOCK' info | tr -d '\\r' | grep -qx 'health_down_events:1'"
got=""
for i in 1 2 3 4 5 6; do
	pp lease web >"$T/l"
	got="$got $(field proxy <"$T/l")"
	pp release web "$(field token <"$T/l")" >/dev/null
done
# every lease granted, each one of the UP proxies
up=0
for p in $got; do
	case $p in "$A"|"$S") up=$((up + 1)) ;; esac
done
expect_eq "the DOWN proxy is not leased, the UP ones are ($got)" 6 "$up"
# LIST: no end for a DOWN quarantine (it was a 2036 placeholder), and
# since when it is DOWN; proxypoolctl shows "down"
pp list web state quarantined >"$T/ls"
expect_eq "LIST: a DOWN proxy's until is 0" 0 "$(field until <"$T/ls")"
ds=$(field down_since <"$T/ls")
now=$(( $(date +%s) * 1000 ))
check "LIST: down_since is within the last minute ($ds)" \
	sh -c "test '$ds' -gt $((now - 60000)) && test '$ds' -le $((now + 1000))"
# and its health: down, when it was last probed (each probe of a DOWN
# proxy is recorded), when it is probed next, why it failed
expect_eq "LIST: health down" down "$(field health <"$T/ls")"
lc=$(field last_check <"$T/ls")
check "LIST: last_check is within the last 2 s ($lc, now $now)" \
	sh -c "test '$lc' -gt $((now - 2000)) && test '$lc' -le $((now + 1000))"
nc=$(field next_check <"$T/ls")
check "LIST: next_check is after it, within an interval ($nc)" \
	sh -c "test '$nc' -gt '$lc' && test '$nc' -le $((lc + 2000))"
check "LIST: last_error says why ($(field last_error <"$T/ls"))" \
	sh -c "field() { awk -v k=\"\$1\" 'p { print; exit } \$0 == k { p = 1 }'; }
	    field last_error <'$T/ls' | grep -qi 'connect'"
wait_for 5 sh -c "'$REDIS_CLI' -s '$SOCK' list web state quarantined |
    awk 'p { print; exit } \$0 == \"last_check\" { p = 1 }' | grep -qvx '$lc'"
check "LIST: last_check moves with every probe of a DOWN proxy" [ $? -eq 0 ]
# the pool page shows the same: health, how long ago a proxy not UP
# was checked, its last error
curl -s "http://127.0.0.1:$HP/pool/web" >"$T/page.html"
check "pool page: the DOWN proxy's health, check and error" \
	sh -c "grep -q 'h-down\">down<' '$T/page.html' &&
	    grep -q 'checked ago' '$T/page.html' &&
	    grep -q 'Failed to connect to 127.0.0.1 port $TB' '$T/page.html'"
check "pool page: the UP ones are up" \
	sh -c "[ \$(grep -o 'h-up\">up<' '$T/page.html' | wc -l) -eq 2 ]"
pp list web state free >"$T/lsu"
expect_eq "LIST: an UP proxy is up, with no last_check" "up 0" \
	"$(field health <"$T/lsu") $(field last_check <"$T/lsu")"
PROXYPOOLD_SOCKET=$SOCK "$top_builddir/src/ctl/proxypoolctl" list web \
    --state quarantined >"$T/lsc" 2>&1
check "proxypoolctl list shows UNTIL down and DOWN_SINCE ($(tail -1 "$T/lsc"))" \
	sh -c "head -1 '$T/lsc' | grep -q DOWN_SINCE &&
	    tail -1 '$T/lsc' | grep -q ' down ' &&
	    tail -1 '$T/lsc' | grep -q '$(date -u +%Y-%m-%d)\\|$(date +%Y-%m-%d)' &&
	    ! grep -q 2036 '$T/lsc'"

# it returns once it answers again
ups0=$(pp info | tr -d '\r' | sed -n 's/^health_up_events://p')
start_tinyproxy tpb "$TB"
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats web | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = 3 ]"
check "a restarted proxy is UP again after rise" [ $? -eq 0 ]
ups=$(pp info | tr -d '\r' | sed -n 's/^health_up_events://p')
expect_eq "INFO counts it (health_up_events, one more)" "$((ups0 + 1))" "$ups"
expect_eq "and out of quarantine" 0 "$(stat web quarantined)"
pp lease web >"$T/l1"; pp lease web >"$T/l2"
got="$(field proxy <"$T/l1") $(field proxy <"$T/l2")"
check "and leased again ($got)" sh -c "echo '$got' | grep -q ':$TB'"
for f in l1 l2; do pp release web "$(field token <"$T/$f")" >/dev/null; done

# CHECK runs a pool's check now
v=$(pp check web "$A" | field verdict)
expect_eq "CHECK http through tinyproxy" UP "$v"
lat=$(pp check web "$S" | field latency)
check "CHECK reports the latency ($lat ms)" [ "${lat%.*}" -ge 250 ]
for m in reset s503 junk; do
	eval "port=\$${m}_port"
	pp check web "http://127.0.0.1:$port" >"$T/c"
	expect_eq "CHECK through a proxy that does '$m' is DOWN" DOWN "$(field verdict <"$T/c")"
done
expect_eq "the reason names the status" "status 503" \
	"$(pp check web "http://127.0.0.1:$s503_port" | field reason)"
pp check web "http://127.0.0.1:$hang_port" >"$T/c"
expect_eq "a hanging proxy times out" "DOWN timeout" \
	"$(field verdict <"$T/c") $(field reason <"$T/c")"
expect_eq "a refused port is DOWN" DOWN \
	"$(pp check web "http://127.0.0.1:$DEAD" | field verdict)"
expect_eq "CHECK on a pool without checks" \
	"ERR no checks configured" \
	"$(pp check plain "$A" 2>&1)"
expect_eq "connect: CONNECT + TLS handshake through the proxy" UP \
	"$(pp check tls "http://127.0.0.1:$tunnel_port" | field verdict)"
pp check tlsv "http://127.0.0.1:$tunnel_port" >"$T/c"
check "connect: an unverifiable certificate is DOWN ($(field reason <"$T/c"))" \
	[ "$(field verdict <"$T/c")" = DOWN ]
expect_eq "tcp: the proxy port answers" UP "$(pp check port "$A" | field verdict)"
expect_eq "tcp: a closed port does not" DOWN \
	"$(pp check port "http://127.0.0.1:$DEAD" | field verdict)"

# SOCKS proxies are probed through libcurl's proxy types
for sch in socks4 socks4a socks5 socks5h; do
	expect_eq "http check through a $sch proxy" UP \
		"$(pp check web "$sch://127.0.0.1:$socks_port" | field verdict)"
done
expect_eq "SOCKS5 with the right credentials" UP \
	"$(pp check web "socks5://bob:s3cret@127.0.0.1:$socksauth_port" | field verdict)"
expect_eq "SOCKS5 with wrong credentials" DOWN \
	"$(pp check web "socks5://bob:nope@127.0.0.1:$socksauth_port" | field verdict)"
expect_eq "connect check (TLS) through SOCKS5" UP \
	"$(pp check tls "socks5h://127.0.0.1:$socks_port" | field verdict)"

# exec: Nagios exit codes, perfdata, environment, timeout
X="socks5://bob:pw@127.0.0.1:$TA"
echo 0 >"$T/mode"; pp check ex "$X" >"$T/c"
expect_eq "exec: exit 0 is UP with perfdata latency" "UP 42" \
	"$(field verdict <"$T/c") $(field latency <"$T/c" | cut -d. -f1)"
echo 1 >"$T/mode"; pp check ex "$X" >"$T/c"
expect_eq "exec: exit 1 is WARN, the proxy is in the environment" \
	"WARN WARNING - host=127.0.0.1 port=$TA scheme=socks5 user=bob" \
	"$(field verdict <"$T/c") $(field reason <"$T/c")"
echo 2 >"$T/mode"
expect_eq "exec: exit 2 is DOWN" DOWN "$(pp check ex "$X" | field verdict)"
echo 3 >"$T/mode"
expect_eq "exec: exit 3 is UNKNOWN" UNKNOWN "$(pp check ex "$X" | field verdict)"
echo hang >"$T/mode"
start=$(date +%s)
pp check ex "$X" >"$T/c"
expect_eq "exec: a hung program is killed at the timeout" \
	"DOWN timeout: program killed" \
	"$(field verdict <"$T/c") $(field reason <"$T/c")"
check "exec: killed promptly" [ $(( $(date +%s) - start )) -le 3 ]
# gone PIDFILE: the program wrote its pid and is no longer running
gone() { test -s "$1" && ! kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for 3 gone "$T/probe.pid"
check "exec: the hung program was killed" [ $? -eq 0 ]
wait_for 3 gone "$T/sleep.pid"
check "exec: so was its child (the whole process group)" [ $? -eq 0 ]
pp info >"$T/info"
check "INFO has a Health section with the plugins" \
	grep -q "^check_plugins:.*http" "$T/info"
check "INFO shows the pool's probes" grep -q "^health_web:check=http,probes=" "$T/info"
check "METRICS counts probes" sh -c "'$REDIS_CLI' -s '$SOCK' metrics | grep -q '^proxypoold_probes_total [1-9]'"
# the probe latency histogram of the pool: every finished probe is in it
"$REDIS_CLI" -s "$SOCK" metrics >"$T/metrics"
n=$(sed -n 's/^proxypoold_probe_latency_seconds_count{pool="web"} //p' "$T/metrics")
inf=$(sed -n 's/^proxypoold_probe_latency_seconds_bucket{pool="web",le="+Inf"} //p' "$T/metrics")
check "METRICS: probe latency histogram of web counts probes ($n)" \
	[ "${n:-0}" -ge 1 ]
expect_eq "METRICS: its +Inf bucket is its count" "$n" "$inf"
check "METRICS: its sum is positive" \
	grep -q '^proxypoold_probe_latency_seconds_sum{pool="web"} [0-9.]*[1-9]' "$T/metrics"
check "METRICS: it is TYPE histogram" \
	grep -qx '# TYPE proxypoold_probe_latency_seconds histogram' "$T/metrics"
expect_eq "the daemon still serves" PONG "$(pp ping)"
finish
