"""conftest.py: the servers of the proxypool package's tests, started once
for the session on loopback and private sockets: a redis-server, a
proxypoold (tests/integ/daemon_util.py's Env), three tinyproxy upstreams
that tag what they forward with X-Proxy-Id, and the local target
(tests/servers/target.py, which answers 403 to the tinyproxy tagged
"banned" on its /site/ pages).  Everything is killed at the end."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("top_srcdir", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "contrib", "python"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "integ"))

from daemon_util import Env, wait_for  # noqa: E402

TINYPROXY = os.environ.get("TINYPROXY") or "/usr/bin/tinyproxy"
PYTHON3 = os.environ.get("PYTHON3") or sys.executable


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_connect(port):
    socket.create_connection(("127.0.0.1", port), 1).close()
    return True


class Servers:
    """What the tests use: the socket, the proxies' URLs, the target."""

    def __init__(self, env):
        self.env = env
        self.sock = env.sock
        self.dir = env.dir
        self.tp = {}              # tinyproxy id -> URL
        self.dead = ""            # a proxy URL nothing listens on
        self.socks = ""           # a SOCKS proxy URL (never used)
        self.target = ""          # http://127.0.0.1:PORT

    def raw(self):
        """A plain redis-py client of the daemon (admin: our uid)."""
        return self.env.client()

    def item(self, pool, proxy):
        """LIST's fields of one proxy, as a dict."""
        cur, items = self.raw().execute_command("LIST", pool, "COUNT", 1000)
        for i in items:
            d = dict(zip(i[0::2], i[1::2]))
            if d["proxy"] == proxy:
                return d
        raise KeyError(proxy)

    def target_stats(self):
        with urllib.request.urlopen(self.target + "/_stats", timeout=5) as r:
            return json.loads(r.read())

    def target_reset(self):
        urllib.request.urlopen(self.target + "/_reset", timeout=5).read()


def start_tinyproxy(env, name):
    """A tinyproxy on a free port; its URL.  Another test may take the
    port between free_port() and tinyproxy's bind (tinyproxy then exits):
    it is started again on another port."""
    for _ in range(5):
        port = free_port()
        conf = os.path.join(env.dir, name + ".conf")
        with open(conf, "w") as f:
            f.write('Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\n'
                    'Timeout 10\nMaxClients 100\nLogFile "%s"\n'
                    'LogLevel Warning\nAddHeader "X-Proxy-Id" "%s"\n'
                    % (port, os.path.join(env.dir, name + ".log"), name))
        out = open(os.path.join(env.dir, name + ".out"), "a")
        p = subprocess.Popen([TINYPROXY, "-d", "-c", conf], stdout=out,
                             stderr=out)
        env.procs.append(p)
        env.tinyproxies.append((name, p))
        if wait_for(lambda: p.poll() is None and can_connect(port), 10):
            time.sleep(0.2)
            if p.poll() is None and can_connect(port):
                return "http://127.0.0.1:%d" % port
        if p.poll() is None:
            p.kill()
    raise RuntimeError("tinyproxy %s did not start" % name)


def pool(name, proxies, extra=""):
    return ('{ name = "%s"; %s proxies = ( %s ); }'
            % (name, extra, ", ".join('"%s"' % p for p in proxies)))


@pytest.fixture(scope="session")
def servers():
    if not os.access(TINYPROXY, os.X_OK):
        pytest.skip("tinyproxy not found")
    env = Env()
    env.tinyproxies = []
    try:
        os.chmod(env.dir, 0o755)     # the DENIED test connects as nobody
        s = Servers(env)
        for name in ("tp1", "tp2", "banned"):
            s.tp[name] = start_tinyproxy(env, name)
        s.dead = "http://127.0.0.1:%d" % free_port()
        s.socks = "socks5://u:pw@127.0.0.1:%d" % free_port()
        pf = os.path.join(env.dir, "target.port")
        p = subprocess.Popen(
            [PYTHON3, os.path.join(TOP_SRCDIR, "tests/servers/target.py"),
             "--port-file", pf, "--ban-proxy", "banned"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(env.dir, "target.log"), "w"))
        env.procs.append(p)
        if not wait_for(lambda: os.path.getsize(pf) > 0, 10):
            raise RuntimeError("the target did not start")
        s.target = "http://127.0.0.1:%d" % int(open(pf).read())
        fake = ["http://127.0.0.1:%d" % (21000 + i) for i in range(10)]
        tp = s.tp
        pools = [
            pool("one", [tp["tp1"]]),
            pool("ten", fake, "lease_ttl = 30;"),
            pool("sh", ["http://127.0.0.1:7000"],
                 "shared = true; max_shares = 2;"),
            pool("empty", []),
            pool("req", [tp["tp1"], tp["tp2"]]),
            pool("ban", [tp["tp2"]], "eject = { max_percent = 100; };"),
            pool("dead", [s.dead], "eject = { failures = 1; max_percent = 100; };"),
        ]
        for name in ("scrapy_aio", "scrapy_thr"):
            pools.append(pool(name, [tp["tp1"], tp["tp2"], tp["banned"],
                                     s.dead, s.socks],
                              "eject = { failures = 2; max_percent = 60; };"))
        env.start_redis()
        with open(env.conf, "w") as f:
            f.write('redis = { url = "unix://%s"; timeout = 2.0; };\n'
                    'listen = { socket = "%s"; mode = "0666"; '
                    'admin_uids = [ %d ]; };\n'
                    'log = { level = "info"; };\npools = ( %s );\n'
                    % (env.redis_sock, env.sock, os.getuid(),
                       ", ".join(pools)))
        env.start_daemon()
        yield s
    finally:
        # a tinyproxy that died during the session: say so in the log
        # (bypassing pytest's capture), with what it wrote
        for name, p in env.tinyproxies:
            if p.poll() is not None:
                tail = ""
                for ext in (".out", ".log"):
                    try:
                        tail += open(os.path.join(env.dir, name + ext)).read()
                    except OSError:
                        pass
                sys.__stderr__.write("tinyproxy %s (pid %d) exited %s:\n%s\n"
                                     % (name, p.pid, p.returncode,
                                        tail[-2000:]))
        env.cleanup()


@pytest.fixture
def client(servers):
    import proxypool
    c = proxypool.Client(servers.sock, timeout=5)
    yield c
    c.close()
