"""daemon_wait.py: the waits of proxypoold: LEASE ... WAIT ends at WAIT
seconds even when it is shorter than redis.timeout, and a LOCK ... WAIT
waiter gets the lock as soon as it is unlocked through the same daemon."""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import Env, ok, finish, pairs, wait_for  # noqa: E402

import redis  # noqa: E402

env = Env()
env.start_redis()
env.write_conf('{ name = "one"; proxies = ( "http://127.0.0.1:9" ); }')
with open(env.conf) as f:
    text = f.read()
with open(env.conf, "w") as f:
    f.write(text.replace("timeout = 1.0;", "timeout = 2.0;"))
env.start_daemon()
c = env.client()

# --- LEASE ... WAIT shorter than the Redis timeout --------------------
held = pairs(c.execute_command("LEASE", "one", "TTL", "60"))
for wait in ("0.3", "0.5"):
    t0 = time.monotonic()
    try:
        c.execute_command("LEASE", "one", "WAIT", wait)
        ok(False, "LEASE WAIT %s on an empty pool answers -EMPTY" % wait)
    except redis.ResponseError as e:
        took = time.monotonic() - t0
        ok(str(e).startswith("EMPTY"),
           "LEASE WAIT %s on an empty pool answers -EMPTY (%s)" % (wait, e))
        ok(float(wait) - 0.05 < took < 1.5,
           "LEASE WAIT %s ends after the wait, not the 2 s Redis timeout "
           "(%.3f s)" % (wait, took))
ok(pairs(c.execute_command("STATS", "one"))["leased"] == 1,
   "no lease left behind by the waits")
ok(c.execute_command("RELEASE", "one", held["token"]) == "OK",
   "RELEASE the held proxy")

# --- LOCK ... WAIT woken by an UNLOCK through this daemon -------------
# Without the wake-up a waiter polls every 250 ms: the windows before
# each UNLOCK end 110 to 140 ms before a poll would come.
rc = redis.Redis(unix_socket_path=env.redis_sock)


def fcall_calls():
    """Function calls Redis ran (FCALL and FCALL_RO)."""
    st = rc.info("commandstats")
    return sum(st.get("cmdstat_" + c, {}).get("calls", 0)
               for c in ("fcall", "fcall_ro"))


def waiter(got):
    w = env.client()
    try:
        got["fence"] = w.execute_command("LOCK", "L", "other", "30",
                                         "WAIT", "10")
    except redis.ResponseError as e:
        got["error"] = str(e)
    got["at"] = time.monotonic()
    w.close()


for rnd, window in enumerate((1.13, 0.37, 0.61)):
    ok(isinstance(c.execute_command("LOCK", "L", "me", "30"), int),
       "round %d: LOCK taken with a 30 s TTL" % rnd)
    got = {}
    before = fcall_calls()
    th = threading.Thread(target=waiter, args=(got,))
    th.start()
    # a measured window: the waiter sleeps on the held lock meanwhile
    time.sleep(window)
    calls = fcall_calls() - before
    # in flight, not yet to be sent: else an UNLOCK first would pass
    # every check below without a wake-up
    waiting = c.execute_command("INFO")["lock_waiters"]
    ok(not got and waiting == 1, "round %d: the waiter waits while the "
       "lock is held (INFO lock_waiters %d)" % (rnd, waiting))
    if rnd == 0:
        ok(1 <= calls <= 8,
           "the waiter polls Redis gently: %d calls in 1.13 s" % calls)
    unlocked_at = time.monotonic()
    ok(c.execute_command("UNLOCK", "L", "me") == "OK",
       "round %d: UNLOCK" % rnd)
    th.join(15)
    ok(isinstance(got.get("fence"), int),
       "round %d: the waiter gets the lock (%s)" % (rnd, got))
    if "at" in got:
        ms = (got["at"] - unlocked_at) * 1000
        ok(ms < 100, "round %d: the waiter got the lock %.0f ms after "
           "the UNLOCK" % (rnd, ms))
    ok(c.execute_command("UNLOCK", "L", "other") == "OK",
       "round %d: the waiter holds the lock" % rnd)

# a waiter whose lock is not released gives up at WAIT with -BUSY
c.execute_command("LOCK", "M", "me", "30")
t0 = time.monotonic()
try:
    c.execute_command("LOCK", "M", "other", "30", "WAIT", "0.4")
    ok(False, "LOCK WAIT on a held lock")
except redis.ResponseError as e:
    took = time.monotonic() - t0
    ok(str(e).startswith("BUSY") and 0.35 < took < 1.5,
       "LOCK WAIT 0.4 on a held lock: -BUSY after %.3f s" % took)
# a short TTL: the waiter retries when the holder's TTL runs out
c.execute_command("LOCK", "S", "me", "0.6")
t0 = time.monotonic()
fence = c.execute_command("LOCK", "S", "other", "30", "WAIT", "5")
took = time.monotonic() - t0
ok(isinstance(fence, int) and took < 1.5,
   "LOCK WAIT gets a lock whose TTL runs out (%.3f s)" % took)

# a LOCK waiter that leaves is forgotten: the UNLOCK that would have
# woken it does not give it the lock
c.execute_command("LOCK", "Q", "me", "30")
nclients = c.execute_command("INFO")["connected_clients"]
s = socket.socket(socket.AF_UNIX)
s.connect(env.sock)
s.sendall(b"LOCK Q gone 30 WAIT 10\r\n")
ok(wait_for(lambda: c.execute_command("INFO")["lock_waiters"] == 1, 5),
   "the LOCK waiter that will leave is waiting (INFO lock_waiters)")
s.close()
ok(wait_for(lambda: c.execute_command("INFO")["connected_clients"] ==
            nclients,
            5), "the LOCK waiter's connection is closed")
ok(c.execute_command("UNLOCK", "Q", "me") == "OK", "UNLOCK after it left")
ok(isinstance(c.execute_command("LOCK", "Q", "third", "5"), int),
   "the waiter that left did not take the lock")

# Redis hangs: a LEASE ... WAIT shorter than the Redis timeout gets its
# call's full timeout and -TRYAGAIN, not an -EMPTY it cannot know
env.redis_proc.send_signal(signal.SIGSTOP)
t0 = time.monotonic()
try:
    c.execute_command("LEASE", "one", "WAIT", "0.3")
    ok(False, "LEASE WAIT while Redis hangs")
except redis.ResponseError as e:
    took = time.monotonic() - t0
    ok(str(e).startswith("TRYAGAIN") and took > 1.0,
       "LEASE WAIT 0.3 while Redis hangs: -TRYAGAIN after the Redis "
       "timeout (%s, %.3f s)" % (e, took))
env.redis_proc.send_signal(signal.SIGCONT)


def lock_z():
    return isinstance(c.execute_command("LOCK", "Z", "me", "30"), int)


ok(wait_for(lock_z, 15), "Redis back: LOCK taken")

# a stop answers LOCK waiters at once, as it does LEASE waiters
got = {}


def lock_waiter():
    w = env.client()
    try:
        got["fence"] = w.execute_command("LOCK", "Z", "other", "30",
                                         "WAIT", "30")
    except (redis.ResponseError, redis.ConnectionError) as e:
        got["error"] = str(e)
    got["at"] = time.monotonic()


th = threading.Thread(target=lock_waiter)
th.start()
# a second waiter that keeps its connection open once answered: the
# daemon closes it after the answer is written, well before its stop
# timeout (redis_timeout + 2 s) would
raw_w = socket.socket(socket.AF_UNIX)
raw_w.connect(env.sock)
raw_w.sendall(b"LOCK Z third 30 WAIT 30\r\n")
ok(wait_for(lambda: c.execute_command("INFO")["lock_waiters"] == 2, 5),
   "two LOCK waiters are waiting (INFO lock_waiters)")
# and a LEASE on a Redis that hangs: answered after the stop began, then
# its connection is closed as soon as the answer is written
env.redis_proc.send_signal(signal.SIGSTOP)
raw_l = socket.socket(socket.AF_UNIX)
raw_l.connect(env.sock)
raw_l.sendall(b"LEASE one\r\n")
ok(wait_for(lambda: c.execute_command("INFO")["pending_requests"] == 3, 5),
   "a LEASE is in flight on a hung Redis (INFO pending_requests)")
t0 = time.monotonic()
env.daemon.send_signal(signal.SIGTERM)
th.join(15)
ok(got.get("error", "").startswith("TRYAGAIN") and
   got["at"] - t0 < 1.5,
   "SIGTERM answers a LOCK waiter -TRYAGAIN at once (%s, %.3f s)" %
   (got, got.get("at", t0) - t0))
raw_w.settimeout(15)
answer = b""
try:
    while True:
        chunk = raw_w.recv(4096)
        if not chunk:
            break
        answer += chunk
except OSError as e:
    answer += b" (%s)" % str(e).encode()
took = time.monotonic() - t0
ok(answer.startswith(b"-TRYAGAIN") and took < 1.5,
   "SIGTERM: a waiter is answered -TRYAGAIN and its connection closed at "
   "once (%r, %.3f s)" % (answer, took))
raw_w.close()
env.redis_proc.send_signal(signal.SIGCONT)
t1 = time.monotonic()
raw_l.settimeout(15)
answer = b""
try:
    while True:
        chunk = raw_l.recv(4096)
        if not chunk:
            break
        answer += chunk
except OSError as e:
    answer += b" (%s)" % str(e).encode()
took = time.monotonic() - t1
ok(answer != b"" and took < 1.5,
   "SIGTERM: a LEASE in flight is answered once Redis is back, and its "
   "connection closed at once (%r, %.3f s)" % (answer[:40], took))
raw_l.close()
try:
    ok(env.daemon.wait(15) == 0, "proxypoold exits 0")
except Exception as e:
    ok(False, "proxypoold exits 0 (%s)" % e)
finish()
