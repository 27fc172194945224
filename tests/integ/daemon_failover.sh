#!/bin/sh
# daemon_failover.sh: Redis killed, restarted and hung under a running
# proxypoold (clients get -TRYAGAIN promptly, service resumes), then the
# graceful stop: SIGTERM answers a waiting LEASE and exits, a second
# SIGTERM exits at once.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integ/daemon_lib.sh"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# info FIELD: one INFO field
info() { pp info | tr -d '\r' | sed -n "s/^$1://p"; }
# connects: "connected" lines in the log, one per (re)connection
connects() { grep -c "redis unix://$T/redis.sock: connected$" "$T/pp.log"; }
# stops: graceful stops begun
stops() { grep -c "stopping: no new clients" "$T/pp.log"; }

start_redis redis
write_conf "$T/pp.conf" "unix://$T/redis.sock"
start_daemon "$T/pp.conf"
check "lease before the outage" sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
expect_eq "no reconnect yet (INFO redis_reconnects)" 0 "$(info redis_reconnects)"

# Redis dies
kill -9 "$redis_pid"
wait "$redis_pid" 2>/dev/null
s=$(date +%s%N)
r=$(pp lease default | cut -d' ' -f1)
ms=$(ms_since "$s")
expect_eq "LEASE while Redis is down: TRYAGAIN" "TRYAGAIN" "$r"
check "TRYAGAIN is prompt ($ms ms)" test "$ms" -lt 1500
expect_eq "PING still answered" "PONG" "$(pp ping)"
expect_eq "STATS while Redis is down: TRYAGAIN" "TRYAGAIN" "$(pp stats default | cut -d' ' -f1)"
check "daemon survives" kill -0 "$pp_pid"

# Redis comes back (empty: the daemon syncs its pools again) after an
# outage of 8 s: the reconnect backoff stops at 1 s, so service resumes
# within about a second (it doubled to 5 s before: 3 s and more)
sleep 8
start_redis redis
s=$(date +%s%N)
wait_for 15 sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
ms=$(ms_since "$s")
check "service resumes after Redis restarts" sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
check "within 2 s of Redis being back after 8 s down ($ms ms)" test "$ms" -lt 2000
expect_eq "INFO counts the reconnect" 1 "$(info redis_reconnects)"
expect_eq "the reconnect is logged: two connects" 2 "$(connects)"

# Redis hangs: the per-request deadline answers
kill -STOP "$redis_pid"
s=$(date +%s%N)
r=$(pp lease default | cut -d' ' -f1)
ms=$(ms_since "$s")
expect_eq "LEASE while Redis hangs: TRYAGAIN" "TRYAGAIN" "$r"
check "answered within the 1 s timeout ($ms ms)" test "$ms" -ge 900 -a "$ms" -lt 4000
kill -CONT "$redis_pid"
wait_for 15 sh -c "'$REDIS_CLI' -s '$SOCK' stats default | grep -q total"
check "service resumes after the hang" sh -c "'$REDIS_CLI' -s '$SOCK' stats default | grep -q total"

# graceful stop: a waiting LEASE gets an answer
for _ in 1 2 3 4; do pp lease default >/dev/null; done
expect_eq "pool exhausted" "EMPTY" "$(pp lease default | cut -d' ' -f1)"
( pp lease default wait 20 >"$T/waiter.out" 2>&1 ) &
wpid=$!
wait_for 5 sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q 'waiting_clients:1'"
s=$(date +%s%N)
kill -TERM "$pp_pid"
wait "$wpid"
ms=$(ms_since "$s")
check "SIGTERM answers the waiter ($(cat "$T/waiter.out"), $ms ms)" \
	sh -c "grep -q TRYAGAIN '$T/waiter.out' && test $ms -lt 3000"
wait_for 5 sh -c "! kill -0 $pp_pid"
check "daemon exited after SIGTERM" sh -c "! kill -0 $pp_pid 2>/dev/null"
check "socket removed" test ! -e "$SOCK"

# the first SIGTERM answers a request in flight before it exits
sed -i 's/timeout = 1.0;/timeout = 20;/' "$T/pp.conf"
start_daemon "$T/pp.conf"
kill -STOP "$redis_pid"
( pp stats default >"$T/inflight.out" 2>&1 ) &
ipid=$!
wait_for 10 sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q 'pending_requests:1'"
check "the STATS is in flight on the hung Redis (INFO pending_requests)" \
	[ "$(info pending_requests)" = 1 ]
n=$(stops)
kill -TERM "$pp_pid"
wait_for 10 sh -c "[ \$(grep -c 'stopping: no new clients' '$T/pp.log') -gt $n ]"
kill -CONT "$redis_pid"
wait "$ipid"
check "first SIGTERM answers the request in flight ($(tr '\n' ' ' <"$T/inflight.out"))" \
	grep -qx total "$T/inflight.out"
wait_for 10 sh -c "! kill -0 $pp_pid 2>/dev/null"
check "and then exits" sh -c "! kill -0 $pp_pid 2>/dev/null"

# a second SIGTERM exits at once even with a request in flight
start_daemon "$T/pp.conf"
kill -STOP "$redis_pid"
( pp stats default >"$T/inflight.out" 2>&1 ) &
ipid=$!
wait_for 10 sh -c "'$REDIS_CLI' -s '$SOCK' info | grep -q 'pending_requests:1'"
n=$(stops)
kill -TERM "$pp_pid"
wait_for 10 sh -c "[ \$(grep -c 'stopping: no new clients' '$T/pp.log') -gt $n ]"
check "first SIGTERM: still running for the request in flight" kill -0 "$pp_pid"
s=$(date +%s%N)
kill -TERM "$pp_pid"
wait_for 3 sh -c "! kill -0 $pp_pid"
ms=$(ms_since "$s")
check "second SIGTERM exits at once ($ms ms)" sh -c "! kill -0 $pp_pid 2>/dev/null && test $ms -lt 2000"
kill -CONT "$redis_pid"
wait "$ipid" 2>/dev/null

# Redis refuses the pool sync (out of memory): retried while connected
kill -TERM "$pp_pid" 2>/dev/null
wait_for 10 sh -c "! kill -0 $pp_pid 2>/dev/null"
"$REDIS_CLI" -s "$T/redis.sock" flushall >/dev/null
"$REDIS_CLI" -s "$T/redis.sock" config set maxmemory 1 >/dev/null
"$REDIS_CLI" -s "$T/redis.sock" config set maxmemory-policy noeviction >/dev/null
sed -i 's/timeout = 20;/timeout = 1.0;/' "$T/pp.conf"
"$PROXYPOOLD" -c "$T/pp.conf" >>"$T/pp.log" 2>&1 &
pp_pid=$!
track $pp_pid
wait_for 10 grep -q "pool sync: " "$T/pp.log"
check "a refused sync is logged" grep -q "pool sync: " "$T/pp.log"
"$REDIS_CLI" -s "$T/redis.sock" config set maxmemory 0 >/dev/null
wait_for 10 sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
check "the sync is retried and the pool serves" sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
kill -TERM "$pp_pid"
wait_for 10 sh -c "! kill -0 $pp_pid 2>/dev/null"

# Redis with a password: AUTH on every (re)connection
mkdir -p "$T/auth.d"
"$REDIS_SERVER" --port 0 --unixsocket "$T/auth.sock" --unixsocketperm 700 \
	--dir "$T/auth.d" --save '' --requirepass 's3cret' \
	--logfile "$T/auth.log" --daemonize no &
track $!
wait_for 10 test -S "$T/auth.sock"
write_conf "$T/pp.conf" "unix://$T/auth.sock"
sed -i 's/timeout = 1.0;/timeout = 1.0; password = "s3cret";/' "$T/pp.conf"
start_daemon "$T/pp.conf"
check "LEASE through a Redis that needs AUTH" sh -c "'$REDIS_CLI' -s '$SOCK' lease default | grep -q token"
check "the Redis password is not logged (its connect is)" sh -c "grep -q 'auth.sock: connected' '$T/pp.log' && ! grep -q s3cret '$T/pp.log'"
finish
