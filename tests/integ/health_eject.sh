#!/bin/sh
# health_eject.sh: passive feedback and eviction with health checks
# running: REPORT FAILED ejects with a growing backoff, a healthy interval
# lowers it again, max_percent holds when every proxy fails, a proxy DOWN
# longer than evict_after leaves the pool and comes back on reload only
# while the config lists it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
skip_unless openssl

start_redis redis
start_target
list=""
for i in 1 2 3 4; do
	start_fault "px$i" ok
	eval "port=\$px${i}_port"
	list="$list${list:+, }\"http://127.0.0.1:$port\""
done
P1=http://127.0.0.1:$px1_port
DEAD=$(free_port)
conf() {
	write_conf "$T/pp.conf" "unix://$T/redis.sock" "
checks = { dir = \"$CHECKS_DIR\"; };
pools = (
  { name = \"ej\"; proxies = ( $list );
    check = { type = \"http\"; url = \"http://127.0.0.1:$TARGET_PORT/\";
      inter = 0.3; rise = 1; fall = 1; timeout = 2.0; };
    eject = { failures = 2; base_time = 1.0; max_time = 10;
      max_percent = 50; }; },
  { name = \"ev\"; proxies = ( \"$P1\" $1 );
    evict_after = 1.0;
    check = { type = \"tcp\"; inter = 0.2; rise = 1; fall = 1; }; }
);"
}
conf ", \"http://127.0.0.1:$DEAD\""
start_daemon "$T/pp.conf"
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats ej | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = 4 ]"
check "every proxy is UP" [ $? -eq 0 ]

redis_ms() {
	"$REDIS_CLI" -s "$T/redis.sock" time >"$T/time"
	echo $(( $(sed -n 1p "$T/time") * 1000 + $(sed -n 2p "$T/time") / 1000 ))
}
# eject P1 and check its quarantine lasts WANT ms: the ejection happens
# between two Redis TIME reads, so (all on the Redis clock) its end is at
# least WANT after the first and at most WANT after the second
eject_for() {
	pp report ej "$P1" FAILED >/dev/null
	t0=$(redis_ms)
	pp report ej "$P1" FAILED >/dev/null
	t1=$(redis_ms)
	u=$(pp list ej STATE quarantined | awk 'p{print;exit} $0=="until"{p=1}')
	check "$2 ($((u - t0)) ms after the report, $((u - t1)) ms after it returned)" \
		[ $((u - t0)) -ge "$1" -a $((u - t1)) -le "$1" ]
}
back() {
	wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats ej | awk 'p{print;exit} \$0==\"quarantined\"{p=1}')\" = 0 ]"
}
# P1's ejection count as its health state last saw it: the record's
# fourth field, packed (lua/health.lua: st c1, ok H, ko H, ej I4, ...)
ejections() {
	"$REDIS_CLI" -s "$T/redis.sock" eval "local s = redis.call('HGET',
	    KEYS[1], ARGV[1]); if not s then return -1 end
	    local _, _, _, ej = struct.unpack('<c1HHI4', s); return ej" 1 \
	    "{ra:ej}:health" "$P1"
}
eject_for 1000 "two FAILED reports eject for base_time"
# the ejection is counted and logged by the daemon that answered
expect_eq "METRICS counts the ejection" \
	'proxypoold_ejections_total{pool="ej",outcome="failed"} 1' \
	"$(pp metrics | grep '^proxypoold_ejections_total{pool="ej",outcome="failed"}')"
expect_eq "INFO counts it" "ejections:1" \
	"$(pp info | tr -d '\r' | grep '^ejections:')"
check "the ejection is logged, naming the proxy and the cause" \
	grep -q "pool ej: $P1 ejected for [0-9]*s (REPORT FAILED)" "$T/pp.log"
back; check "the proxy returns after its quarantine" [ $? -eq 0 ]
eject_for 2000 "ejected again at once: twice as long"
back
# each healthy base_time (probed every 0.3 s) takes one ejection off.
# The health state copies the count (2) at its first healthy probe and
# may hold an older one until then: wait for 2, then for 0.
ej_is() {
	_n=0
	while [ "$(ejections)" != "$1" ]; do
		_n=$((_n + 1))
		[ "$_n" -ge 300 ] && return 1
		sleep 0.05
	done
}
ej_is 2; r2=$?
ej_is 0; r0=$?
check "a healthy interval lowers the ejection count (2: $r2, 0: $r0, now $(ejections))" \
	[ "$r2" -eq 0 -a "$r0" -eq 0 ]
eject_for 1000 "after a healthy interval the backoff is lower again"
back
for i in 1 2 3 4; do
	eval "port=\$px${i}_port"
	pp report ej "http://127.0.0.1:$port" FAILED >/dev/null
	pp report ej "http://127.0.0.1:$port" FAILED >/dev/null
done
expect_eq "max_percent holds when every proxy fails" 2 "$(stat ej quarantined)"
pp lease ej >"$T/l"
check "the pool still leases" [ -n "$(field token <"$T/l")" ]
# a ban needs no max_percent room: the release that bans is counted
banned=$(field proxy <"$T/l")
expect_eq "RELEASE BANNED" "OK" "$(pp release ej "$(field token <"$T/l")" banned)"
expect_eq "METRICS counts the ban" \
	'proxypoold_ejections_total{pool="ej",outcome="banned"} 1' \
	"$(pp metrics | grep '^proxypoold_ejections_total{pool="ej",outcome="banned"}')"
expect_eq "INFO counts it" "bans:1" "$(pp info | tr -d '\r' | grep '^bans:')"
check "the ban is logged ($banned)" \
	grep -q "pool ej: $banned banned for [0-9]*s (RELEASE BANNED)" "$T/pp.log"
expect_eq "failures max_percent held back are not counted (3 + 2 of 4)" \
	'proxypoold_ejections_total{pool="ej",outcome="failed"} 5' \
	"$(pp metrics | grep '^proxypoold_ejections_total{pool="ej",outcome="failed"}')"

# eviction
wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats ev | awk 'p{print;exit} \$0==\"total\"{p=1}')\" = 1 ]"
check "a proxy DOWN past evict_after leaves the pool" [ $? -eq 0 ]
grep -q "pool ev: http://127.0.0.1:$DEAD evicted" "$T/pp.log"
check "the eviction is logged" [ $? -eq 0 ]
expect_eq "the other one stays" "$P1" "$(pp lease ev | field proxy)"
pp reload >/dev/null
wait_for 10 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats ev | awk 'p{print;exit} \$0==\"total\"{p=1}')\" = 2 ]"
check "a reload brings it back while the config lists it" [ $? -eq 0 ]
conf ""
pp reload >/dev/null
wait_for 10 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats ev | awk 'p{print;exit} \$0==\"total\"{p=1}')\" = 1 ]"
check "not once the config drops it" [ $? -eq 0 ]
finish
