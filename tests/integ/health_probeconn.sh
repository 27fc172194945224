#!/bin/sh
# health_probeconn.sh: the health checks have their own Redis connection
# (named proxypoold-probe-PID in CLIENT LIST, beside proxypoold-main-PID):
# when it is killed, leases go on over the main one and probing resumes on
# its own once it reconnects (INFO redis_probe_*); while it cannot come
# back, probing pauses and leases still work.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
skip_unless openssl

start_redis redis
start_target
start_fault px ok
pools="
checks = { dir = \"$CHECKS_DIR\"; };
pools = ( { name = \"web\"; proxies = ( \"http://127.0.0.1:$px_port\" );
  check = { type = \"http\"; url = \"http://127.0.0.1:$TARGET_PORT/\";
    inter = 0.2; fastinter = 0.2; jitter = 0; rise = 1; fall = 1;
    timeout = 2.0; }; } );"
write_conf "$T/pp.conf" "unix://$T/redis.sock" "$pools"
start_daemon "$T/pp.conf"
rcli() { "$REDIS_CLI" -s "$T/redis.sock" "$@"; }
info() { pp info | tr -d '\r' | sed -n "s/^$1://p"; }
# id of the Redis client named $1
client_id() { rcli client list | tr ' ' '\n' | awk -v n="name=$1" '
	/^id=/ { id = substr($0, 4) } $0 == n { print id; exit }'; }
# LEASE and RELEASE once; fails unless both answer
lease_once() {
	pp lease web >"$T/l" && tok=$(field token <"$T/l") && [ -n "$tok" ] &&
	    pp release web "$tok" ok | grep -qx OK
}
probes() { stat web local_probes; }
probes_above() { [ "$(probes)" -gt "$1" ]; }

check "the proxy is probed UP" wait_for 15 sh -c \
	"[ \"\$('$REDIS_CLI' -s '$SOCK' stats web | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = 1 ]"
main=$(client_id "proxypoold-main-$pp_pid")
probe=$(client_id "proxypoold-probe-$pp_pid")
check "CLIENT LIST names the main connection (id '$main')" [ -n "$main" ]
check "CLIENT LIST names the probe connection (id '$probe')" \
	[ -n "$probe" ] && [ "$probe" != "$main" ]
expect_eq "INFO redis_probe_connected" 1 "$(info redis_probe_connected)"
expect_eq "INFO redis_probe_reconnects before" 0 "$(info redis_probe_reconnects)"

# kill the probe connection: leases do not notice, probing comes back
rcli client kill id "$probe" >/dev/null
check "LEASE and RELEASE right after the kill" lease_once
check "INFO redis_probe_reconnects counts the reconnect" \
	wait_for 10 sh -c "'$REDIS_CLI' -s '$SOCK' info | tr -d '\r' |
	    grep -qx redis_probe_reconnects:1"
expect_eq "the main connection was not touched" 0 "$(info redis_reconnects)"
check "a new probe connection is named" wait_for 10 sh -c \
	"'$REDIS_CLI' -s '$T/redis.sock' client list |
	    grep -q 'name=proxypoold-probe-$pp_pid '"
a=$(probes)
check "probing resumes on it ($a probes before)" wait_for 10 probes_above "$a"

# the probe connection cannot come back (maxclients 1, held by the main
# one): probes pause, leases keep working
probe=$(client_id "proxypoold-probe-$pp_pid")
printf 'CONFIG SET maxclients 1\nCLIENT KILL ID %s\n' "$probe" |
	rcli >"$T/kill.out"
expect_eq "CONFIG SET and CLIENT KILL" "OK 1" "$(tr -d '\r' <"$T/kill.out" | tr '\n' ' ' | sed 's/ $//')"
# probes claimed before the kill finish (results not recorded)
wait_for 10 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats web |
	awk 'p{print;exit} \$0==\"probes_inflight\"{p=1}')\" = 0 ]"
a=$(probes)
# over more than 5 check intervals (1 s of wall time), leases all work
n=0 fails=0 end=$(($(date +%s%N) + 1000000000))
while [ "$(date +%s%N)" -lt "$end" ] || [ $n -lt 5 ]; do
	lease_once || fails=$((fails + 1))
	n=$((n + 1))
done
expect_eq "$n LEASE+RELEASE while the probe connection is down" 0 "$fails"
expect_eq "no probe ran while it was down" "$a" "$(probes)"
expect_eq "the main connection stayed up" 0 "$(info redis_reconnects)"
finish
