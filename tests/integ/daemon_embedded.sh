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

# a second start on the same socket and state dir is refused before it
# starts anything, naming the first daemon, which keeps serving (it used
# to start a second redis-server on the same socket and AOF, whose exit
# removed the first one's socket: TRYAGAIN for good)
timeout 20 "$PROXYPOOLD" -c "$T/pp.conf" >"$T/second.log" 2>&1
expect_eq "a second proxypoold on the same socket exits 1" 1 "$?"
check "it names the first one's pid ($(tail -1 "$T/second.log"))" \
	grep -q "pid $pp_pid" "$T/second.log"
sed "s|socket = \"$SOCK\"|socket = \"$T/other.sock\"|" "$T/pp.conf" \
    >"$T/other.conf"
timeout 20 "$PROXYPOOLD" -c "$T/other.conf" >"$T/other.log" 2>&1
expect_eq "one on the same state dir and another socket exits 1" 1 "$?"
check "it names the state dir and the first one's pid ($(tail -1 "$T/other.log"))" \
	sh -c "grep '$T/state' '$T/other.log' | grep -q 'pid $pp_pid'"
check "neither started a redis-server" \
	sh -c "! grep -q 'redis-server started' '$T/second.log' '$T/other.log'"
check "the first one's Redis socket is still there" test -S "$T/state/redis.sock"
check "and answers" sh -c "'$REDIS_CLI' -s '$T/state/redis.sock' ping | grep -q PONG"
expect_eq "the same redis-server runs" "$npid" "$(info embedded_pid)"
check "the first one still serves" \
	sh -c "'$REDIS_CLI' -s '$SOCK' stats default | grep -q total"

# its Redis socket removed (a hard link keeps a way in): the daemon's next
# reconnect finds it gone and restarts its redis-server
ln "$T/state/redis.sock" "$T/alt.sock"
rm -f "$T/state/redis.sock"
"$REDIS_CLI" -s "$T/alt.sock" client kill type normal >/dev/null 2>&1
wait_for 15 sh -c "test -S '$T/state/redis.sock' &&
    '$REDIS_CLI' -s '$SOCK' stats default | grep -q total"
check "a removed Redis socket: the redis-server is restarted, service resumes" \
	sh -c "test -S '$T/state/redis.sock' &&
	    '$REDIS_CLI' -s '$SOCK' stats default | grep -q total"
check "the log says why" grep -q "redis.sock is gone" "$T/pp.log"
opid=$(info embedded_pid)
check "a new redis-server ($opid)" \
	sh -c "test '$opid' -gt 1 && test '$opid' != '$npid' && kill -0 '$opid'"

# kill -9 and start again at once: the old redis-server, still shutting
# down, holds the state dir until it is gone, and the new daemon waits
# for it instead of having its socket removed by it
kill -9 "$pp_pid"
wait "$pp_pid" 2>/dev/null
start_daemon "$T/pp.conf"
# (gone or a zombie: an orphan's reaper may not be quick)
check "the old redis-server is gone" \
	sh -c "! ps -o stat= -p $opid | grep -qv '^Z'"
sleep 1
check "after a kill -9 and a restart at once, the Redis socket is there" \
	test -S "$T/state/redis.sock"
check "and answers" sh -c "'$REDIS_CLI' -s '$T/state/redis.sock' ping | grep -q PONG"
check "the new daemon serves" \
	sh -c "'$REDIS_CLI' -s '$SOCK' stats default | grep -q total"
npid=$(info embedded_pid)

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
