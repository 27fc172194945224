"""daemon_py.py: proxypoold through redis-py: every command, 50 concurrent
clients with exclusive leases never overlapping, WAIT served in arrival
order, pipelining, and bad frames closing only their own client."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import Env, ok, finish, pairs, wait_for  # noqa: E402

import redis  # noqa: E402

# under ASan freed memory waits in a quarantine (256 MB by default) that
# counts in RSS; a small one keeps the memory check below meaningful (the
# caller's ASAN_OPTIONS, parsed after, still win)
os.environ["ASAN_OPTIONS"] = ("quarantine_size_mb=1:" +
                              os.environ.get("ASAN_OPTIONS", ""))

env = Env()
env.start_redis()
proxies = ", ".join('"http://127.0.0.1:%d"' % (20000 + i) for i in range(10))
env.write_conf('{ name = "default"; lease_ttl = 30; proxies = ( %s ); },'
               ' { name = "one"; proxies = ( "socks5h://u:pw@127.0.0.1:9" ); },'
               ' { name = "sh"; shared = true; max_shares = 2;'
               '   proxies = ( "http://127.0.0.1:7000" ); }' % proxies)
env.start_daemon()
c = env.client(client_name="tester")   # sends CLIENT SETNAME on connect

# --- every command ---------------------------------------------------
ok(c.ping(), "PING")
ok(sorted(c.execute_command("POOLS")) == ["default", "one", "sh"], "POOLS")
st = pairs(c.execute_command("STATS", "default"))
ok(st["pool"] == "default" and st["total"] == 10 and st["free"] == 10,
   "STATS pool")
allst = c.execute_command("STATS")
ok(len(allst) == 3 and {pairs(s)["pool"] for s in allst} ==
   {"default", "one", "sh"}, "STATS of every pool")
lease = pairs(c.execute_command("LEASE", "default", "TTL", "5", "NAME", "n1"))
ok(lease["proxy"].startswith("http://127.0.0.1:2") and
   len(lease["token"]) == 32 and lease["shared"] == 0 and
   isinstance(lease["expires"], int) and isinstance(lease["fence"], int),
   "LEASE fields")
exp = c.execute_command("RENEW", "default", lease["token"], "TTL", "20")
ok(isinstance(exp, int) and exp > lease["expires"], "RENEW extends")
ok(c.execute_command("BINDING", "default", "n1") == lease["proxy"],
   "LEASE NAME binds")
ok(c.execute_command("BINDINGS", "default", lease["proxy"]) == ["n1"],
   "BINDINGS")
ok(c.execute_command("RELEASE", "default", lease["token"], "FAILED",
                     "LATENCY", "30") == "OK", "RELEASE with outcome")
try:
    c.execute_command("RELEASE", "default", lease["token"])
    ok(False, "stale token")
except redis.ResponseError as e:
    ok(str(e).startswith("NOTOWNED"), "stale token -NOTOWNED")
ok(c.execute_command("REPORT", "default", "http://127.0.0.1:20001", "OK",
                     "LATENCY", "3") == "OK", "REPORT")
ok(c.execute_command("BIND", "default", "n2", "http://127.0.0.1:20002",
                     "TTL", "60") == "OK", "BIND")
ok(c.execute_command("UNBIND", "default", "n2") == 1, "UNBIND")
ok(c.execute_command("BINDING", "default", "n2") is None, "BINDING nil")
sl = [pairs(c.execute_command("LEASE", "sh")) for _ in range(2)]
ok(all(s["shared"] == 1 for s in sl) and sl[0]["proxy"] == sl[1]["proxy"],
   "shared pool: two holders")
try:
    c.execute_command("LEASE", "sh")
    ok(False, "max_shares")
except redis.ResponseError as e:
    ok(str(e).startswith("EMPTY"), "max_shares reached: -EMPTY")
for s in sl:
    c.execute_command("RELEASE", "sh", s["token"])
cur, items = c.execute_command("LIST", "default", "COUNT", "100")
ok(cur == "0" and len(items) == 10 and
   set(pairs(items[0])) >= {"proxy", "state", "priority", "holders",
                            "expires", "until", "failures", "latency"},
   "LIST fields")
cur, items = c.execute_command("LIST", "one")
ok(pairs(items[0])["proxy"] == "socks5h://u:***@127.0.0.1:9",
   "LIST redacts the password")
ok(c.execute_command("ADD", "default", "HTTP://127.0.0.1:30000",
                     "PRIORITY", "5", "EXPIRES", "600") == "OK", "ADD")
cur, items = c.execute_command("LIST", "default", "COUNT", "100")
ok("http://127.0.0.1:30000" in [pairs(i)["proxy"] for i in items],
   "ADD normalises the URL")
ok(c.execute_command("REMOVE", "default", "http://127.0.0.1:30000") == 1,
   "REMOVE")
gc = pairs(c.execute_command("GC", "default"))
ok(set(gc) == {"leases", "bindings", "items", "quarantine"}, "GC")
info = c.execute_command("INFO")   # redis-py parses Redis INFO format
ok(info.get("redis_connected") == 1 and "connected_clients" in info,
   "INFO in Redis INFO format")
ok("proxypoold_commands_total" in c.execute_command("METRICS"), "METRICS")
try:
    c.execute_command("CHECK", "default", "http://127.0.0.1:20000")
    ok(False, "CHECK")
except redis.ResponseError as e:
    ok("no checks configured" in str(e), "CHECK without checks")
fence = c.execute_command("LOCK", "L", "me", "5")
ok(isinstance(fence, int), "LOCK returns a fence")
t0 = time.monotonic()
try:
    c.execute_command("LOCK", "L", "other", "5", "WAIT", "0.3")
    ok(False, "LOCK WAIT")
except redis.ResponseError as e:
    ok(str(e).startswith("BUSY") and time.monotonic() - t0 >= 0.25,
       "LOCK WAIT on a held lock: -BUSY after the wait")
threading.Timer(0.2, lambda: env.client().execute_command(
    "UNLOCK", "L", "me")).start()
ok(isinstance(c.execute_command("LOCK", "L", "other", "5", "WAIT", "3"),
              int), "LOCK WAIT acquires after UNLOCK")
ok(c.execute_command("UNLOCK", "L", "other") == "OK", "UNLOCK")

# pipelining: answers in order
for i in range(5):
    c.execute_command("BIND", "default", "b%d" % i,
                      "http://127.0.0.1:%d" % (20000 + i))
p = c.pipeline(transaction=False)
for i in range(5):
    p.execute_command("BINDING", "default", "b%d" % i)
    p.execute_command("STATS", "one")
res = p.execute()
ok(res[0::2] == ["http://127.0.0.1:%d" % (20000 + i) for i in range(5)] and
   all(pairs(x)["pool"] == "one" for x in res[1::2]),
   "pipelined requests answered in order")
for i in range(5):
    c.execute_command("UNBIND", "default", "b%d" % i)

# --- 50 concurrent clients, exclusive leases never overlap ------------
grants = []
errors = []
lock = threading.Lock()
stop_at = time.monotonic() + 4.0


def worker(n):
    cl = env.client()
    try:
        while time.monotonic() < stop_at:
            r = pairs(cl.execute_command("LEASE", "default", "WAIT", "3"))
            t_got = time.monotonic()
            time.sleep(0.001 * (n % 3))
            t_rel = time.monotonic()
            cl.execute_command("RELEASE", "default", r["token"], "OK")
            with lock:
                grants.append((r["proxy"], r["fence"], t_got, t_rel))
    except Exception as e:  # noqa: BLE001
        with lock:
            errors.append(repr(e))


threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
ok(not errors, "50 clients: no errors (%s)" % (errors[:2],))
ok(len(grants) > 200, "50 clients: %d grants" % len(grants))
overlaps = 0
by_proxy = {}
for g in grants:
    by_proxy.setdefault(g[0], []).append(g)
fences = [g[1] for g in grants]
ok(len(set(fences)) == len(fences), "every grant has its own fence")
for px, gs in by_proxy.items():
    gs.sort(key=lambda g: g[1])
    for a, b in zip(gs, gs[1:]):
        # b was granted after a's release was sent, in fence order
        if b[2] < a[3]:
            overlaps += 1
ok(overlaps == 0, "no proxy held by two clients at once (%d overlaps)"
   % overlaps)
st = pairs(c.execute_command("STATS", "default"))
ok(st["free"] == 10 and st["leases"] == 0, "all proxies back after the run")

# --- WAIT served in arrival order ------------------------------------
held = pairs(c.execute_command("LEASE", "one"))
order = []


def waiter(i):
    cl = env.client()
    r = pairs(cl.execute_command("LEASE", "one", "WAIT", "10"))
    order.append(i)
    time.sleep(0.05)
    cl.execute_command("RELEASE", "one", r["token"])


ws = []
for i in range(5):
    t = threading.Thread(target=waiter, args=(i,))
    t.start()
    ws.append(t)
    wait_for(lambda: c.execute_command("INFO")["waiting_clients"] == i + 1,
             5)
c.execute_command("RELEASE", "one", held["token"])
for t in ws:
    t.join(20)
ok(order == [0, 1, 2, 3, 4], "waiters served in arrival order (%s)" % order)

# --- bad frames close only their own client ---------------------------
good = env.client()


def raw(data, half_close=False):
    s = socket.socket(socket.AF_UNIX)
    s.connect(env.sock)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass        # the daemon answered and closed first: read it
    if half_close:
        s.close()
        return b""
    s.settimeout(3)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                out += b"<EOF>"
                break
            out += b
    except socket.timeout:
        out += b"<TIMEOUT>"
    except ConnectionResetError:
        out += b"<RST>"
    s.close()
    return out


cases = [
    ("garbage bytes", b"\x00\x01\x02 \"bad\r\n"),
    ("non-bulk element", b"*1\r\n:1\r\n"),
    ("nested array", b"*1\r\n*1\r\n$4\r\nPING\r\n"),
    ("too many arguments", b"*100000\r\n"),
    ("bad bulk length", b"*1\r\n$abc\r\n"),
    ("oversized frame", b"*2\r\n$4\r\nPING\r\n$9000\r\n" + b"x" * 9000),
    ("oversized inline", b"PING " + b"y" * 9000),
    ("oversized frame of small strings", b"*1000\r\n$4\r\nPING\r\n" +
     (b"$100\r\n" + b"s" * 100 + b"\r\n") * 999),
]
for name, data in [
        ("NUL in a proxy URL", b"*3\r\n$6\r\nREMOVE\r\n$7\r\ndefault\r\n"
         b"$27\r\nhttp://127.0.0.1:20000\x00junk\r\n"),
        ("NUL in a pool name", b"*2\r\n$5\r\nLEASE\r\n$5\r\nde\x00ft\r\n"),
        ("NUL in a lock owner", b"*4\r\n$4\r\nLOCK\r\n$1\r\nL\r\n"
         b"$3\r\na\x00b\r\n$1\r\n5\r\n")]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(env.sock)
    s.sendall(data)
    s.settimeout(3)
    ok(s.recv(200).startswith(b"-BADARG"), "%s: -BADARG" % name)
    s.close()
for name, data in cases:
    out = raw(data)
    ok(out.startswith(b"-ERR") and (out.endswith(b"<EOF>") or
                                    out.endswith(b"<RST>")),
       "%s: error then close (%r)" % (name, out[:60]))
    ok(good.ping(), "%s: another client keeps working" % name)
# refused at the header, with what is wrong: a bulk announced over
# max_request does not wait for its bytes (raw() gives up after 3 s)
for name, data, want in [
        ("bulk over max_request", b"*2\r\n$4\r\nPING\r\n$999999999\r\n",
         b"-ERR Protocol error: invalid bulk length (over 4096 bytes)"),
        ("1025 arguments", b"*1025\r\n",
         b"-ERR Protocol error: 1025 arguments, at most 1024")]:
    out = raw(data)
    ok(out.startswith(want) and not out.endswith(b"<TIMEOUT>"),
       "%s: refused at once (%r)" % (name, out[:80]))
for _ in range(3):
    raw(b"RELOAD\r\nSTATS\r\n", half_close=True)


def reload_ok():
    try:
        return good.execute_command("RELOAD") == "OK"
    except redis.ResponseError as e:
        # the abandoned RELOADs may still be syncing: TRYAGAIN
        if not str(e).startswith("TRYAGAIN"):
            raise
        return False


ok(good.ping() and wait_for(reload_ok, 10),
   "clients gone during RELOAD and STATS: the daemon goes on")
raw(b"*3\r\n$5\r\nLEASE\r\n$3\r\nde", half_close=True)
ok(good.ping(), "half frame then close: another client keeps working")
ok(raw(b"*2\r\n$4\r\nPING\r\n$2\r\nab\r\nPING\r\n")
   .startswith(b"$2\r\nab\r\n+PONG\r\n"), "RESP then inline on one connection")
# an inline request in pieces: the daemon searches only each new piece
# for the end of the line, and the lines after it from their start
s = socket.socket(socket.AF_UNIX)
s.connect(env.sock)
first = b"PING " + b"p" * 3000 + b"\r\n"
for i in range(0, 3000, 500):
    s.sendall(first[i:i + 500])
    time.sleep(0.01)
s.sendall(first[3000:] + b"PING\r\nPING " + b"q" * 3000 + b"\r\n")
want = (b"$3000\r\n" + b"p" * 3000 + b"\r\n+PONG\r\n$3000\r\n" +
        b"q" * 3000 + b"\r\n")
s.settimeout(5)
got = b""
while len(got) < len(want):
    chunk = s.recv(8192)
    if not chunk:
        break
    got += chunk
s.close()
ok(got == want, "an inline request in pieces, then two more (%r)" %
   got[3000:3030])
r = pairs(good.execute_command("LEASE", "default"))
ok(good.execute_command("RELEASE", "default", r["token"]) == "OK",
   "lease path fine after bad clients")

# a client that pipelines without reading: the daemon stops taking its
# requests while its answers wait, and answers all of them in the end
def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


arg = b"z" * 1000
n = 20000
req = b"*2\r\n$4\r\nPING\r\n$1000\r\n" + arg + b"\r\n"
rss0 = rss_kb(env.daemon.pid)
slow = socket.socket(socket.AF_UNIX)
slow.connect(env.sock)
slow.setblocking(False)
data = req * n
sent = 0
t_end = time.monotonic() + 5
while sent < len(data) and time.monotonic() < t_end:
    try:
        sent += slow.send(data[sent:sent + 65536])
    except BlockingIOError:
        time.sleep(0.01)
ok(sent < len(data), "a client that does not read is pushed back "
   "(%d of %d bytes taken)" % (sent, len(data)))
# growth, not an absolute size: the 20 MB of requests and 20 MB of
# answers must not pile up in the daemon (under ASan too: its quarantine
# is small, see ASAN_OPTIONS above)
rss1 = rss_kb(env.daemon.pid)
ok(rss1 - rss0 < 24000, "daemon memory stays bounded (%d kB, was %d kB)"
   % (rss1, rss0))
ok(good.ping(), "other clients are served meanwhile")
slow.setblocking(True)
slow.settimeout(20)
reply = b"$1000\r\n" + arg + b"\r\n"
chunks = []


def drain():
    want = n * len(reply)
    have = 0
    try:
        while have < want:
            b = slow.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
            have += len(b)
    except OSError:
        pass


reader = threading.Thread(target=drain)
reader.start()
slow.sendall(data[sent:])
reader.join(30)
got = b"".join(chunks)
slow.close()
ok(got == reply * n, "all %d pipelined answers arrive, in order" % n)
ok(env.daemon.poll() is None, "daemon still running")

# --- limits changed by RELOAD: max_clients, idle_timeout --------------
good.close()
c.close()
env.write_conf('{ name = "default"; proxies = ( "http://127.0.0.1:20000" ); }',
               'listen_extra = 1;')
with open(env.conf) as f:
    text = f.read().replace("listen_extra = 1;", "").replace(
        "max_request = 4096;", "max_request = 4096; max_clients = 3; "
        "idle_timeout = 2;")
with open(env.conf, "w") as f:
    f.write(text)
admin = env.client()
ok(admin.execute_command("RELOAD") == "OK", "RELOAD with new limits")
admin.close()
# every idle connection left by the tests above times out now
ok(wait_for(lambda: env.client().execute_command("INFO")
            ["connected_clients"] == 1, 10),
   "idle_timeout applies to connected clients after RELOAD")


def pinged():
    """A new connection that got +PONG, or None (refused while a client
    closed above is still counted: the caller tries again)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect(env.sock)
        s.sendall(b"PING\r\n")
        if s.recv(100) == b"+PONG\r\n":
            return s
    except OSError:
        pass
    s.close()
    return None


socks = []
for i in range(3):
    end = time.monotonic() + 10
    s = pinged()
    while s is None and time.monotonic() < end:
        time.sleep(0.05)
        s = pinged()
    if s is not None:
        socks.append((s, time.monotonic()))
ok(len(socks) == 3, "3 clients under max_clients 3")
# (idle_timeout 2 s: the 3 stay connected while the 4th tries)
ok(raw(b"PING\r\n").startswith(b"-ERR max number of clients"),
   "a 4th client is refused")
socks[0][0].settimeout(10)
try:
    closed = socks[0][0].recv(100) == b""
except OSError:
    closed = False
idle = time.monotonic() - socks[0][1]
ok(closed and 1.0 <= idle < 10, "idle client closed after idle_timeout "
   "(%.1f s after its answer)" % idle)
for s, _ in socks:
    s.close()
ok(wait_for(lambda: env.client().ping(), 5), "new clients accepted again")
finish()
