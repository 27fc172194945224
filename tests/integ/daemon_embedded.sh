#!/bin/sh
# daemon_embedded.sh: redis.url = "embedded": proxypoold starts a private
# redis-server (socket in the state dir, AOF, noeviction), restarts it
# when it dies and stops it on exit.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"

write_conf "$T/pp.conf" embedded
sed -i "s|state_dir = \"$T/state\";|state_dir = \"$T/state\"; server = \"$(command -v "$REDIS_SERVER")\";|" "$T/pp.conf"
start_daemon "$T/pp.conf"

info() { pp info | tr -d '\r' | sed -n "s/^$1://p"; }
rpid=$(info embedded_pid)
# (a pid, not 0 or empty: kill -0 0 would ask this shell's group)
check "embedded redis-server runs (pid $rpid)" \
	sh -c "test '$rpid' -gt 1 && kill -0 '$rpid'"
check "its socket is in the state dir" test -S "$T/state/redis.sock"
expect_eq "appendonly yes" "yes" \
	"$("$REDIS_CLI" -s "$T/state/redis.sock" config get appendonly | sed -n 2p)"
expect_eq "maxmemory-policy noeviction" "noeviction" \
	"$("$REDIS_CLI" -s "$T/state/redis.sock" config get maxmemory-policy | sed -n 2p)"
expect_eq "no TCP port" "0" \
	"$("$REDIS_CLI" -s "$T/state/redis.sock" config get port | sed -n 2p)"
check "LEASE through the embedded Redis" sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"

# it dies: restarted, service resumes (never kill -9 0: our own group)
test "$rpid" -gt 1 2>/dev/null || { echo "no embedded pid"; finish; }
kill -9 "$rpid"
wait_for 15 sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q 'embedded_restarts:1'"
expect_eq "embedded redis-server restarted" "1" "$(info embedded_restarts)"
npid=$(info embedded_pid)
check "a new redis-server ($npid)" \
	sh -c "test '$npid' -gt 1 && test '$npid' != '$rpid' && kill -0 '$npid'"
wait_for 15 sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
check "service resumes on the restarted Redis" sh -c "'$REDIS_CLI' -s '$SOCK' stats default | grep -q total"

# stop: the embedded server goes with proxypoold
kill -TERM "$pp_pid"
wait_for 10 sh -c "! kill -0 $pp_pid 2>/dev/null"
check "proxypoold exited" sh -c "! kill -0 $pp_pid 2>/dev/null"
check "embedded redis-server stopped" sh -c "! kill -0 $npid 2>/dev/null"
check "AOF written in the state dir" sh -c "ls '$T/state' | grep -q appendonly"

# a redis-server that exits at once: proxypoold says so and does not start
sed "s|server = \"[^\"]*\";|server = \"/bin/false\";|" "$T/pp.conf" >"$T/bad.conf"
timeout 20 "$PROXYPOOLD" -c "$T/bad.conf" >"$T/bad.log" 2>&1
expect_eq "a dead-on-arrival redis-server stops proxypoold (exit 1)" 1 "$?"
check "and the log says why ($(tail -1 "$T/bad.log"))" grep -q "exited at start" "$T/bad.log"
finish
