#!/bin/sh
# health_settings.sh: the health-check settings a user relies on, each
# seen from outside: rise/fall count *consecutive* results (a scripted
# exec check replays exact verdict sequences), http max_latency (WARN,
# still a success), method and headers (as the target receives them),
# connect cacert (a CA made here), and the exec check's environment
# (every documented variable, stale ones from the daemon's own environment
# replaced) and perfdata latency units.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
skip_unless openssl

start_redis redis
start_target
start_fault tunnel ok

# a CA, a certificate it signed for 127.0.0.1, and another CA
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || {
	echo "openssl $1 failed"; cat "$T/openssl.log"; exit 1; }; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pp-test-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem"
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pp-other-ca \
	-keyout "$T/ca2.key" -out "$T/ca2.pem"
ossl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
	-keyout "$T/leaf.key" -out "$T/leaf.csr"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$T/leaf.ext"
ossl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-set_serial 2 -days 2 -extfile "$T/leaf.ext" -out "$T/leaf.pem"
"$PYTHON3" "$SERVERS/target.py" --port-file "$T/ca-target.port" \
	--tls-port-file "$T/ca-target.tls" --cert "$T/leaf.pem" \
	--key "$T/leaf.key" >>"$T/ca-target.log" 2>&1 &
track $!
CA_TLS_PORT=$(port_of "$T/ca-target.tls")

# seq.sh: plays the verdicts appended to $T/seq (O = OK, F = CRITICAL)
# one per run, then UNKNOWN (which counts for nothing) while none is left;
# every run is appended to $T/trace before the position moves
cat >"$T/seq.sh" <<'SH'
#!/bin/sh
d=$(dirname "$0")
pos=$(cat "$d/pos")
c=$(cut -c$((pos + 1)) "$d/seq")
if [ -z "$c" ]; then
	echo U >>"$d/trace"; echo "UNKNOWN - nothing scripted"; exit 3
fi
echo "$c" >>"$d/trace"
echo $((pos + 1)) >"$d/pos"
case $c in
O) echo "OK - scripted"; exit 0 ;;
*) echo "CRITICAL - scripted"; exit 2 ;;
esac
SH
printf '' >"$T/seq"; echo 0 >"$T/pos"; : >"$T/trace"

# env.sh: dumps the environment it was started with to env.<PROXY_PORT>
# (from /proc, as a program calling getenv() sees it: duplicates included)
cat >"$T/env.sh" <<'SH'
#!/bin/sh
f=$(dirname "$0")/env.$PROXY_PORT
tr '\0' '\n' </proc/$$/environ >"$f" 2>/dev/null || env >"$f"
echo "OK - dumped"
SH

# perf.sh: prints the perfdata in $T/perf
cat >"$T/perf.sh" <<'SH'
#!/bin/sh
echo "OK - fine | $(cat "$(dirname "$0")/perf")"
SH
chmod +x "$T/seq.sh" "$T/env.sh" "$T/perf.sh"
echo 'time=1ms' >"$T/perf"

mkdir -p "$T/checks"
for p in http connect exec; do
	cp "$CHECKS_DIR/$p.so" "$T/checks/"
done

P=http://127.0.0.1:$tunnel_port
U=http://127.0.0.1:$TARGET_PORT
C="https://127.0.0.1:$CA_TLS_PORT/"
cat >"$T/pp.conf" <<CONF
redis = { url = "unix://$T/redis.sock"; timeout = 1.0; state_dir = "$T/state"; };
listen = { socket = "$SOCK"; mode = "0666"; idle_timeout = 30;
  admin_uids = ( $(id -u) ); };
log = { level = "debug"; };
checks = { dir = "$T/checks"; };
pools = (
  { name = "seq"; proxies = ( "http://127.0.0.1:1" );
    check = { type = "exec"; command = [ "$T/seq.sh" ]; rise = 3; fall = 3;
      inter = 0.05; fastinter = 0.05; downinter = 0.05; timeout = 5.0;
      jitter = 0.0; }; },
  { name = "slow"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/slow?ms=300"; max_latency = 0.1;
      inter = 0.2; rise = 2; timeout = 5.0; }; },
  { name = "slowok"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/slow?ms=300"; max_latency = 5.0;
      inter = 60; timeout = 5.0; }; },
  { name = "get"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/m/get"; inter = 60; }; },
  { name = "delete"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/m/delete"; method = "DELETE";
      inter = 60; }; },
  { name = "head"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/m/head"; method = "HEAD";
      inter = 60; }; },
  { name = "hdr"; proxies = ( "$P" );
    check = { type = "http"; url = "$U/h"; inter = 60;
      headers = [ "X-Probe: yes", "X-Token: a b:c" ]; }; },
  { name = "ca"; proxies = ( "$P" );
    check = { type = "connect"; url = "$C"; cacert = "$T/ca.pem";
      inter = 60; }; },
  { name = "noca"; proxies = ( "$P" );
    check = { type = "connect"; url = "$C"; inter = 60; }; },
  { name = "wrongca"; proxies = ( "$P" );
    check = { type = "connect"; url = "$C"; cacert = "$T/ca2.pem";
      inter = 60; }; },
  { name = "env"; proxies = ( "socks5://bob:p%40ss@127.0.0.1:1081",
      "http://127.0.0.1:1082" );
    check = { type = "exec"; command = [ "$T/env.sh" ]; inter = 60; }; },
  { name = "perf"; proxies = ( "http://127.0.0.1:1083" );
    check = { type = "exec"; command = [ "$T/perf.sh" ]; inter = 60; }; }
);
CONF
# stale proxy settings in the daemon's own environment must not reach
# the exec check's program
export http_proxy=http://stale.invalid:9 https_proxy=http://stale.invalid:9
export ALL_PROXY=http://stale.invalid:9 NO_PROXY='*' no_proxy='*'
export PROXY_PASSWORD=stale PROXY_USER=stale PROXY_EXTRA=stale
start_daemon "$T/pp.conf"
unset http_proxy https_proxy ALL_PROXY NO_PROXY no_proxy
unset PROXY_PASSWORD PROXY_USER PROXY_EXTRA

# --- rise/fall count consecutive results ---------------------------------

# play VERDICTS: append them, wait until all ran and an UNKNOWN run came
# after the last (so its result is in Redis), print "up down" of pool seq
play() {
	printf %s "$1" >>"$T/seq"
	_n=$(wc -c <"$T/seq")
	wait_for 30 sh -c "[ \"\$(cat '$T/pos')\" -ge $_n ] &&
	    [ \"\$(tail -n 1 '$T/trace')\" = U ]" || {
		echo "the scripted check did not run: $(cat "$T/pos")/$_n"
		cat "$T/pp.log"; exit 1; }
	echo "$(stat seq proxies_up) $(stat seq proxies_down)"
}
expect_eq "two successes of rise 3: not UP yet" "0 0" "$(play OO)"
expect_eq "the third in a row: UP" "1 0" "$(play O)"
expect_eq "fall 3, failures alternating with successes: never DOWN" \
	"1 0" "$(play FOFOFOFOFO)"
expect_eq "two failures in a row: still UP" "1 0" "$(play FF)"
expect_eq "the third in a row (an UNKNOWN between counts for nothing): DOWN" \
	"0 1" "$(play F)"
expect_eq "rise 3, successes alternating with failures: never UP" \
	"0 1" "$(play OFOFOFOFOF)"
expect_eq "two successes in a row: still DOWN" "0 1" "$(play OO)"
expect_eq "the third in a row: UP again" "1 0" "$(play O)"
n=$(grep -c 'pool seq: http://127.0.0.1:1 is down' "$T/pp.log")
expect_eq "it went DOWN once in all" 1 "$n"

# --- http: max_latency, method, headers ----------------------------------

pp check slow "$P" >"$T/c"
v=$(field verdict <"$T/c") r=$(field reason <"$T/c")
case $r in "slow: "*" ms > 100 ms") r=ok ;; esac
expect_eq "max_latency: a slower answer is WARN, the reason says so" \
	"WARN ok" "$v $r"
expect_eq "max_latency: below the limit it is UP" UP \
	"$(pp check slowok "$P" | field verdict)"
# WARN is a success: the proxy rises to UP and stays leasable
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats slow | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = 1 ]"
check "max_latency: WARN verdicts make the proxy UP (rise 2)" [ $? -eq 0 ]
expect_eq "max_latency: and not DOWN" 0 "$(stat slow proxies_down)"
v=$(pp info | tr -d '\r' | sed -n 's/^health_slow:.*,probes_up=\([0-9]*\),probes_warn=\([0-9]*\),probes_down=\([0-9]*\),.*/\1 \2 \3/p')
case $v in "0 "[1-9]*" 0") r=0 ;; *) r=1 ;; esac
check "max_latency: INFO counts WARN verdicts, no UP or DOWN (up warn down: $v)" \
	[ $r -eq 0 ]
pp lease slow >"$T/l"
expect_eq "max_latency: and it is leased" "$P" "$(field proxy <"$T/l")"

# seen PATH KEY...: what the target saw of the last request to PATH
seen() {
	target_stats | "$PYTHON3" -c 'import json, sys
v = json.load(sys.stdin)["seen"].get(sys.argv[1], {})
for k in sys.argv[2:]:
    v = v.get(k, {})
print(v if isinstance(v, str) else "")' "$@"
}
for m in get delete head; do
	M=$(echo "$m" | tr a-z A-Z)
	expect_eq "method $M: the check is UP" UP \
		"$(pp check "$m" "$P" | field verdict)"
	expect_eq "method $M: the target sees $M" "$M" "$(seen "/m/$m" method)"
done
expect_eq "headers: the check is UP" UP "$(pp check hdr "$P" | field verdict)"
expect_eq "headers: the target sees every configured header" "yes|a b:c" \
	"$(seen /h headers x-probe)|$(seen /h headers x-token)"

# --- connect: cacert -----------------------------------------------------

pp check ca "$P" >"$T/c"
expect_eq "cacert: a certificate signed by that CA verifies" "UP " \
	"$(field verdict <"$T/c") $(field reason <"$T/c")"
for p in noca wrongca; do
	pp check "$p" "$P" >"$T/c"
	r=$(field reason <"$T/c")
	case $r in *[Cc]ertificate*|*SSL*) ok=DOWN ;; *) ok="?" ;; esac
	expect_eq "cacert: $p is DOWN for the certificate ($r)" "DOWN DOWN" \
		"$(field verdict <"$T/c") $ok"
done

# --- exec: environment and perfdata --------------------------------------

# the URL is kept as configured, the password is given decoded
X=socks5://bob:p%40ss@127.0.0.1:1081 Y=http://127.0.0.1:1082
expect_eq "exec env: the check runs" UP \
	"$(pp check env "$X" | field verdict)"
expect_eq "exec env: a proxy without credentials" UP \
	"$(pp check env "$Y" | field verdict)"
# var FILE NAME: the value of NAME in a dump, "(unset)" when absent
var() {
	grep -q "^$2=" "$1" || { echo "(unset)"; return; }
	sed -n "s/^$2=//p" "$1"
}
E=$T/env.1081
for kv in "PROXY_URL=$X" PROXY_SCHEME=socks5 PROXY_HOST=127.0.0.1 \
    PROXY_PORT=1081 PROXY_USER=bob PROXY_PASSWORD=p@ss PROXY_POOL=env \
    "http_proxy=$X" "https_proxy=$X" "ALL_PROXY=$X"; do
	expect_eq "exec env: ${kv%%=*}" "${kv#*=}" "$(var "$E" "${kv%%=*}")"
done
E=$T/env.1082
for kv in "PROXY_URL=$Y" PROXY_SCHEME=http PROXY_PORT=1082 \
    "PROXY_USER=(unset)" "PROXY_PASSWORD=(unset)" "http_proxy=$Y" \
    "https_proxy=$Y" "ALL_PROXY=$Y" "NO_PROXY=(unset)" "no_proxy=(unset)" \
    "PROXY_EXTRA=(unset)"; do
	expect_eq "exec env without credentials: ${kv%%=*} (none inherited)" \
		"${kv#*=}" "$(var "$E" "${kv%%=*}")"
done

for pl in "time=12ms 12.0" "time=1500us 1.5" "time=0.25s;1;2 250.0" \
    "time=2 2000.0" "rtime=9s time=7ms;5;10 7.0"; do
	echo "${pl% *}" >"$T/perf"
	pp check perf "http://127.0.0.1:1083" >"$T/c"
	expect_eq "exec perfdata '${pl% *}': latency ${pl##* } ms" \
		"UP ${pl##* }" "$(field verdict <"$T/c") $(field latency <"$T/c")"
done
expect_eq "the daemon still serves" PONG "$(pp ping)"
finish
