#!/bin/sh
# health_multi.sh: two proxypoold instances on one Redis split the due
# checks between them: each proxy is probed once per interval in total,
# not once per instance (counted at the test target), and both probe.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"
. "$top_srcdir/tests/integ/health_lib.sh"
skip_unless openssl

start_redis redis
start_target
N=6
list=""
for i in $(seq 1 $N); do
	start_fault "px$i" ok
	eval "port=\$px${i}_port"
	list="$list${list:+, }\"http://127.0.0.1:$port\""
done
pools="
checks = { dir = \"$CHECKS_DIR\"; };
pools = ( { name = \"web\"; proxies = ( $list );
  check = { type = \"http\"; url = \"http://127.0.0.1:$TARGET_PORT/\";
    inter = 0.5; fastinter = 0.5; jitter = 0; rise = 1; fall = 1;
    timeout = 2.0; }; } );"
write_conf "$T/a.conf" "unix://$T/redis.sock" "$pools"
sed "s|$T/pp.sock|$T/pp2.sock|" "$T/a.conf" >"$T/b.conf"
HP=$(free_port)
echo "http = { listen = \"127.0.0.1:$HP\"; };" >>"$T/a.conf"
start_daemon "$T/a.conf"
a_pid=$pp_pid
SOCK=$T/pp2.sock; start_daemon "$T/b.conf"; SOCK=$T/pp.sock
b_pid=$pp_pid
stat2() { "$REDIS_CLI" -s "$T/pp2.sock" stats "$1" | field "$2"; }

wait_for 15 sh -c "[ \"\$('$REDIS_CLI' -s '$SOCK' stats web | awk 'p{print;exit} \$0==\"proxies_up\"{p=1}')\" = $N ]"
check "every proxy is UP" [ $? -eq 0 ]
# measure a window of about 4 s = 8 intervals; the target times it
"$PYTHON3" -c 'import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/_reset" % sys.argv[1]).read()' "$TARGET_PORT"
a0=$(stat web local_probes); b0=$(stat2 web local_probes)
sleep 4
a1=$(stat web local_probes); b1=$(stat2 web local_probes)
target_stats >"$T/stats.json"
"$PYTHON3" - "$T/stats.json" "$N" $((a1 - a0)) $((b1 - b0)) <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, da, db = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
by = s["by_proxy"]
# probes of one proxy the window can hold, counted at the target: one
# per 0.5 s interval, plus one at each edge (a probe claimed before the
# reset that arrives after it, and the first of the next interval);
# double probing would be about twice this
most = int(s["elapsed"] / 0.5) + 2
bad = 0
def check(ok, what):
    global bad
    print("%s - %s" % ("ok" if ok else "not ok", what))
    bad += 0 if ok else 1
for i in range(1, n + 1):
    c = by.get("px%d" % i, 0)
    # fewer on a loaded machine: the claim tick adds up to 0.1 s
    check(3 <= c <= most, "px%d probed %d times in %.1f s (once per "
          "interval: 3..%d)" % (i, c, s["elapsed"], most))
# the instances' own counters (read inside the target's window)
check(da >= 4 and db >= 4, "both instances probe (a: %d, b: %d)" % (da, db))
check(da + db <= n * most, "together once per proxy per interval "
      "(%d for %d x %d at most)" % (da + db, n, most))
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] || _failed=$((_failed + 1))

# the pool's recent events are shared through Redis: a ban reported to
# b shows on a's status page and status.json, saying b saw it
P1=http://127.0.0.1:$px1_port
expect_eq "REPORT BANNED through b" OK "$("$REDIS_CLI" -s "$T/pp2.sock" report web "$P1" banned)"
# (b records it after answering: wait for it, a while at most)
wait_for 5 sh -c "curl -s 'http://127.0.0.1:$HP/status.json' >'$T/st.json' &&
    grep -q '\"banned\"' '$T/st.json'"
"$PYTHON3" - "$T/st.json" "$P1" "$b_pid" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
ban = [e for e in ev if e["event"] == "banned"]
ok = (len(ban) == 1 and ban[0]["proxy"] == sys.argv[2] and
      ban[0]["source"].endswith(":" + sys.argv[3]) and
      ban[0]["detail"] == "REPORT")
print("%s - a's status.json has the ban b saw (%s)" %
      ("ok" if ok else "not ok", ban))
sys.exit(0 if ok else 1)
PY
[ $? -eq 0 ] || _failed=$((_failed + 1))
check "a's status page shows it" \
	sh -c "curl -s 'http://127.0.0.1:$HP/' | grep -q ':$b_pid</td>'"
check "a's INFO does not count it (b saw it)" \
	sh -c "'$REDIS_CLI' -s '$SOCK' info | tr -d '\\r' | grep -qx 'bans:0'"
finish
