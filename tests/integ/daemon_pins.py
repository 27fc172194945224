"""daemon_pins.py: proxypoold behaviours no other test pins: LEASE's
SHARED/EXCLUSIVE over the pool's mode, waiters served every
listen.wait_retry for proxies freed elsewhere (and RELOAD changing it),
credentials redacted when the password holds '@', listen.admin_gids,
redis.prefix keeping two daemons apart on one Redis, a waiter outliving
idle_timeout, waiters of a pool removed by RELOAD, and the periodic sweep
reclaiming a mass expiry in bounded calls sent one after another."""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import (Env, ok, finish, pairs, wait_for,  # noqa: E402
                         PROXYPOOLD, REDIS_SERVER)

import redis  # noqa: E402

REDIS_CLI = os.environ.get("REDIS_CLI", "redis-cli")
ROOT = os.geteuid() == 0

env = Env()
env.start_redis()
rc = redis.Redis(unix_socket_path=env.redis_sock, decode_responses=True)


class Daemon:
    """One proxypoold with its own socket, config and log."""

    def __init__(self, name, url=None):
        self.name = name
        self.url = url or "unix://" + env.redis_sock
        self.sock = os.path.join(env.dir, name + ".sock")
        self.conf = os.path.join(env.dir, name + ".conf")
        self.log = os.path.join(env.dir, name + ".log")
        self.proc = None

    def write(self, pools, redis_extra="", listen=None):
        """The config; listen defaults to the tests' uid as admin."""
        if listen is None:
            listen = "admin_uids = [ %d ];" % os.getuid()
        with open(self.conf, "w") as f:
            f.write('redis = { url = "%s"; timeout = 2.0; %s };\n'
                    'listen = { socket = "%s"; mode = "0666"; %s };\n'
                    'log = { level = "debug"; };\npools = ( %s );\n'
                    % (self.url, redis_extra, self.sock, listen, pools))

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([PROXYPOOLD, "-c", self.conf],
                                     stdout=logf, stderr=logf)
        env.procs.append(self.proc)
        if not wait_for(lambda: "pools synced to Redis" in
                        open(self.log).read(), 15):
            print(open(self.log).read())
            raise SystemExit("proxypoold %s did not start" % self.name)

    def client(self, **kw):
        return redis.Redis(unix_socket_path=self.sock,
                           decode_responses=True, **kw)

    def info(self, field):
        return self.client().execute_command("INFO")[field]


def error_of(fn):
    """The error reply fn gets (a lost connection as "closed: ..."), or
    None."""
    try:
        fn()
    except redis.ResponseError as e:
        return str(e)
    except redis.ConnectionError as e:
        return "closed: %s" % e
    return None


def in_thread(fn):
    """Run fn in a thread; returns (thread, result dict: reply or
    error, and the monotonic time it came back)."""
    got = {}

    def run():
        try:
            got["reply"] = fn()
        except (redis.ResponseError, redis.ConnectionError) as e:
            got["error"] = "%s: %s" % (type(e).__name__, e)
        got["at"] = time.monotonic()
    th = threading.Thread(target=run)
    th.start()
    return th, got


# --- LEASE SHARED / EXCLUSIVE override the pool's mode ---------------
a = Daemon("a")
a.write('{ name = "sh"; shared = true; proxies = ( "http://127.0.0.1:4001" ); },'
        '{ name = "ex"; proxies = ( "http://127.0.0.1:4002" ); },'
        '{ name = "w"; proxies = ( "http://127.0.0.1:4005" ); },'
        '{ name = "cred"; proxies = ( "http://user:p%40ss@127.0.0.1:4003" ); }',
        listen="admin_uids = [ %d ]; wait_retry = 0.2;" % os.getuid())
a.start()
c = a.client()
lease = lambda *args: pairs(c.execute_command("LEASE", *args))  # noqa: E731

l1 = lease("sh", "EXCLUSIVE")
ok(l1.get("shared") == 0 and l1.get("proxy") == "http://127.0.0.1:4001",
   "shared pool: LEASE EXCLUSIVE gets the proxy unshared (%s)" % l1)
e = error_of(lambda: lease("sh"))
ok(e is not None and e.startswith("EMPTY"),
   "shared pool: an exclusive lease is not shared by a plain LEASE (%s)" % e)
e = error_of(lambda: lease("sh", "SHARED"))
ok(e is not None and e.startswith("EMPTY"),
   "shared pool: nor by LEASE SHARED (%s)" % e)
c.execute_command("RELEASE", "sh", l1["token"])
l1, l2 = lease("sh"), lease("sh")
ok(l1["shared"] == 1 and l2["shared"] == 1 and l1["proxy"] == l2["proxy"],
   "shared pool: plain LEASEs share the proxy")
e = error_of(lambda: lease("sh", "EXCLUSIVE"))
ok(e is not None and e.startswith("EMPTY"),
   "shared pool: LEASE EXCLUSIVE of a shared proxy is -EMPTY (%s)" % e)
for t in (l1, l2):
    c.execute_command("RELEASE", "sh", t["token"])

l1 = lease("ex", "SHARED")
l2 = lease("ex", "SHARED")
ok(l1["shared"] == 1 and l2["shared"] == 1 and
   l1["proxy"] == l2["proxy"] == "http://127.0.0.1:4002",
   "exclusive pool: two LEASE SHARED share the proxy (%s, %s)" % (l1, l2))
e = error_of(lambda: lease("ex"))
ok(e is not None and e.startswith("EMPTY"),
   "exclusive pool: a plain LEASE does not join them (%s)" % e)
for t in (l1, l2):
    c.execute_command("RELEASE", "ex", t["token"])

# --- waiters served every wait_retry for proxies freed elsewhere ------
# b shares a's Redis and pools; a proxy released through b wakes no
# waiter of a: only a's retry timer finds it.  Without the timer the
# waiter gets -EMPTY at its WAIT (the GC sweep only wakes waiters when
# it collected something).
b = Daemon("b")
b_pools = '{ name = "w"; proxies = ( "http://127.0.0.1:4005" ); }'
b.write(b_pools, listen="admin_uids = [ %d ]; wait_retry = 20;"
        % os.getuid())
b.start()
cb = b.client()


def waiter_served_after_release(waiting, holding, what):
    held = pairs(holding.client().execute_command("LEASE", "w", "TTL", "60"))
    th, got = in_thread(lambda: pairs(waiting.client().execute_command(
        "LEASE", "w", "WAIT", "6")))
    ok(wait_for(lambda: waiting.info("waiting_clients") == 1, 5),
       "%s: the waiter is queued" % what)
    t0 = time.monotonic()
    holding.client().execute_command("RELEASE", "w", held["token"])
    th.join(15)
    took = got.get("at", t0) - t0
    ok("reply" in got and took < 3,
       "%s: the waiter gets the proxy released elsewhere (%.2f s, %s)"
       % (what, took, got))
    if "reply" in got:
        waiting.client().execute_command("RELEASE", "w",
                                         got["reply"]["token"])


waiter_served_after_release(a, b, "wait_retry 0.2")

# an expired lease frees the proxy too
held = pairs(cb.execute_command("LEASE", "w", "TTL", "0.5"))
t0 = time.monotonic()
r = pairs(c.execute_command("LEASE", "w", "WAIT", "4"))
took = time.monotonic() - t0
ok(r.get("proxy") == "http://127.0.0.1:4005" and took < 3,
   "a waiter gets a proxy whose lease expired (%.2f s)" % took)
c.execute_command("RELEASE", "w", r["token"])

# RELOAD changes wait_retry: b's 20 s becomes 0.1 s
b.write(b_pools, listen="admin_uids = [ %d ]; wait_retry = 0.1;"
        % os.getuid())
ok(cb.execute_command("RELOAD") == "OK", "RELOAD b with wait_retry 0.1")
waiter_served_after_release(b, a, "wait_retry reloaded from 20 to 0.1")

# --- credentials ------------------------------------------------------
# a proxy password with '@' is %40 in a proxy URL (curl refuses a raw
# one), so the raw '@' reaches the redactor in text that echoes what a
# client sent, and in a Redis URL
FULL = "http://user:p%40ss@127.0.0.1:4003"
RED = "http://user:***@127.0.0.1:4003"
l1 = lease("cred")
ok(l1.get("proxy") == FULL, "LEASE gives the whole URL (%s)" % l1.get("proxy"))
items = c.execute_command("LIST", "cred")[1]
shown = [pairs(it)["proxy"] for it in items]
ok(shown == [RED], "LIST shows %s (%s)" % (RED, shown))
c.execute_command("RELEASE", "cred", l1["token"])
ok(c.execute_command("BIND", "cred", "acct", FULL) == "OK", "BIND to it")
shown = c.execute_command("BINDING", "cred", "acct")
ok(shown == RED, "BINDING shows %s (%s)" % (RED, shown))
e = error_of(lambda: c.execute_command(
    "LEASE", "cred", "http://user:p@ss@127.0.0.1:4003"))
ok(e is not None and "'http://user:***@127.0.0.1:4003'" in e and
   "p@ss" not in e and "ss@" not in e,
   "an error echoing http://user:p@ss@127.0.0.1:4003 shows "
   "http://user:***@127.0.0.1:4003 (%s)" % e)
log = open(a.log).read()
ok(RED in log and "p%40ss" not in log and "p@ss" not in log and
   "ss@127" not in log,
   "the log shows user:***@127.0.0.1:4003 and never the password")

# INFO's redis_url, with a Redis password holding '@' (loopback TCP)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
tcp_dir = os.path.join(env.dir, "tcp.d")
os.makedirs(tcp_dir)
tcp = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind",
                        "127.0.0.1", "--requirepass", "p@ss", "--dir",
                        tcp_dir, "--save", "", "--appendonly", "no",
                        "--logfile", os.path.join(tcp_dir, "log")])
env.procs.append(tcp)
ok(wait_for(lambda: redis.Redis(port=port, password="p@ss").ping()),
   "a TCP redis-server with password p@ss on 127.0.0.1:%d" % port)
t = Daemon("t", url="redis://default:p@ss@127.0.0.1:%d" % port)
t.write('{ name = "x"; proxies = ( "http://127.0.0.1:4009" ); }')
t.start()
url = t.info("redis_url")
ok(url == "redis://default:***@127.0.0.1:%d" % port,
   "INFO shows redis_url redis://default:***@127.0.0.1:%d (%s)" % (port, url))
ok(t.info("redis_connected") == 1, "the daemon logged in with p@ss")
log = open(t.log).read()
ok("default:***@127.0.0.1" in log and "p@ss" not in log,
   "its log never shows the Redis password")
t.proc.terminate()
t.proc.wait(15)

# --- listen.admin_gids ------------------------------------------------
# root is always admin: as root the client runs as nobody with a chosen
# gid (setpriv); otherwise it runs as us, with our own gid listed or not
g = Daemon("g")
gid = 4242 if ROOT else os.getgid()
g_pools = '{ name = "x"; proxies = ( "http://127.0.0.1:4010" ); }'
g.write(g_pools, listen="admin_gids = [ %d ];" % gid)
os.chmod(env.dir, 0o755)
g.start()


def list_as(gid):
    """LIST x from a peer whose primary gid is gid, not root."""
    cmd = [REDIS_CLI, "-s", g.sock, "LIST", "x"]
    if ROOT:
        cmd = ["setpriv", "--reuid=65534", "--regid=%d" % gid,
               "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True).stdout


out = list_as(gid)
ok("http://127.0.0.1:4010" in out,
   "a peer of gid %d (listed) is admin: LIST works (%s)"
   % (gid, " ".join(out.split()[:3])))
if ROOT:
    out = list_as(gid + 1)
else:
    # unlist our gid; admin_uids stays empty
    g.write(g_pools, listen="admin_gids = [ %d ];" % (gid + 1))
    os.kill(g.proc.pid, 1)
    wait_for(lambda: open(g.log).read().count("configuration reloaded") >= 1)
    out = list_as(gid)
ok(out.startswith("DENIED") and "4010" not in out,
   "a peer of a gid not listed is DENIED (%s)" % out.strip())
g.proc.terminate()
g.proc.wait(15)

# --- redis.prefix -----------------------------------------------------
pa, pb = Daemon("pa"), Daemon("pb")
pa.write('{ name = "p"; proxies = ( "http://127.0.0.1:4011" ); }',
         redis_extra='prefix = "pina";')
pb.write('{ name = "p"; proxies = ( "http://127.0.0.1:4012", '
         '"http://127.0.0.1:4013" ); }', redis_extra='prefix = "pinb";')
pa.start()
pb.start()
ok(pa.info("prefix") == "pina", "INFO prefix:pina")
keys = rc.keys("*")
ok(any(k.startswith("pina") for k in keys) and
   any(k.startswith("pinb") for k in keys) and
   not any("4011" in k or "4012" in k for k in keys
           if not k.startswith(("pina", "pinb"))),
   "the pools' keys carry the configured prefixes")
sa = pairs(pa.client().execute_command("STATS", "p"))
sb = pairs(pb.client().execute_command("STATS", "p"))
ok(sa.get("total") == 1 and sb.get("total") == 2,
   "same pool name, other prefix: 1 and 2 proxies (%s, %s)" % (sa, sb))
la = pairs(pa.client().execute_command("LEASE", "p"))
ok(la.get("proxy") == "http://127.0.0.1:4011",
   "LEASE through pina gets pina's proxy (%s)" % la)
seen = sorted(pairs(it)["proxy"] for it in
              pb.client().execute_command("LIST", "p")[1])
ok(seen == ["http://127.0.0.1:4012", "http://127.0.0.1:4013"],
   "LIST through pinb shows only pinb's proxies (%s)" % seen)
ok(pairs(pb.client().execute_command("STATS", "p")).get("leased") == 0,
   "pina's lease is not in pinb's pool")
for d in (pa, pb):
    d.proc.terminate()
    d.proc.wait(15)

# --- idle_timeout spares waiters; RELOAD removing a pool: -NOPOOL -----
# wait_retry 30: only the reload's own answer can end the waiter soon
i = Daemon("i")
i_pools = ('{ name = "one"; proxies = ( "http://127.0.0.1:4021" ); }, '
           '{ name = "gone"; proxies = ( "http://127.0.0.1:4022" ); }')
i_listen = ("admin_uids = [ %d ]; idle_timeout = 0.5; wait_retry = 30;"
            % os.getuid())
i.write(i_pools, listen=i_listen)
i.start()
ci = i.client()
idle = socket.socket(socket.AF_UNIX)
idle.connect(i.sock)
idle.settimeout(10)
t0 = time.monotonic()
try:
    data = idle.recv(10)
except OSError as e:
    data = str(e)
ok(data == b"" and time.monotonic() - t0 < 8,
   "an idle client is closed after idle_timeout (%r, %.2f s)"
   % (data, time.monotonic() - t0))
held = pairs(ci.execute_command("LEASE", "one", "TTL", "60"))
t0 = time.monotonic()
w = i.client()
e = error_of(lambda: w.execute_command("LEASE", "one", "WAIT", "1.5"))
took = time.monotonic() - t0
ok(e is not None and e.startswith("EMPTY") and took > 1.4,
   "a LEASE WAIT 1.5 outlives idle_timeout 0.5: -EMPTY after %.2f s (%s)"
   % (took, e))
ok(w.ping(), "and its connection stays open")

pairs(ci.execute_command("LEASE", "gone", "TTL", "60"))
th, got = in_thread(lambda: i.client().execute_command(
    "LEASE", "gone", "WAIT", "20"))
ok(wait_for(lambda: i.info("waiting_clients") == 1, 5),
   "a waiter on pool gone")
i.write('{ name = "one"; proxies = ( "http://127.0.0.1:4021" ); }',
        listen=i_listen)
t0 = time.monotonic()
ok(ci.execute_command("RELOAD") == "OK", "RELOAD without pool gone")
th.join(25)
took = got.get("at", t0) - t0
ok(got.get("error", "").startswith("ResponseError: NOPOOL") and took < 5,
   "its waiter gets -NOPOOL at once (%s, %.2f s)" % (got, took))
ok(i.info("waiting_clients") == 0, "no waiter left")

# --- a mass expiry: the sweep goes on at once while a backlog remains ---
# Each gc call reclaims at most half a batch (64); at one call per 5 s
# sweep, 400 expired leases would take 35 s.
sw = Daemon("sweep")
sw.write('{ name = "mass"; proxies = ( %s ); }' % ", ".join(
    '"http://127.0.0.%d:%d"' % (1 + k // 200, 5000 + k % 200)
    for k in range(400)))
sw.start()
gc = sw.client()
p = gc.pipeline(transaction=False)
for _ in range(400):
    p.execute_command("LEASE", "mass", "TTL", "0.2")
granted = sum(1 for v in p.execute(raise_on_error=False)
              if not isinstance(v, Exception))
ok(granted == 400, "400 leases granted (%d)" % granted)
# watched on Redis itself: STATS and LEASE reclaim a few on their own
t0 = time.monotonic()
ok(wait_for(lambda: rc.zcard("{ra:mass}:leases") == 0, 12),
   "400 expired leases reclaimed without any client call (%.1f s, %d "
   "left)" % (time.monotonic() - t0, rc.zcard("{ra:mass}:leases")))
ok(pairs(gc.execute_command("STATS", "mass")).get("free") == 400,
   "all 400 free again")
cont = int(sw.info("gc_continued"))
ok(cont >= 2, "in bounded calls sent one after another "
   "(gc_continued %d)" % cont)
finish()
