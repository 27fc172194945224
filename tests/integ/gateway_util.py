"""gateway_util.py: helpers of the gateway tests (gateway*.py): the local
HTTP and HTTPS target (tests/servers/target.py, a self-signed certificate
made by openssl), tinyproxy and faultproxy.py upstreams on loopback
ports, a proxypoold with gateway listeners, its INFO, LIST and RSS, raw
HTTP and SOCKS5 clients."""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# under ASan freed memory waits in a quarantine (256 MB by default) that
# counts in RSS; a small one keeps the memory checks meaningful (the
# caller's ASAN_OPTIONS, parsed after, still win)
os.environ["ASAN_OPTIONS"] = ("quarantine_size_mb=1:" +
                              os.environ.get("ASAN_OPTIONS", ""))
from daemon_util import Env, ok, wait_for  # noqa: E402,F401

TOP_SRCDIR = os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", ".."))
SERVERS = os.path.join(TOP_SRCDIR, "tests", "servers")
PYTHON3 = os.environ.get("PYTHON3") or "/usr/bin/python3"
TINYPROXY = os.environ.get("TINYPROXY") or "/usr/bin/tinyproxy"
if not os.access(TINYPROXY, os.X_OK):
    TINYPROXY = "/usr/bin/tinyproxy"
REDIS_CLI = os.environ.get("REDIS_CLI") or "redis-cli"

# every bounded wait of these tests, seconds
T = 15.0


def case(fn):
    """Run one group of checks at once; an exception is one failure."""
    try:
        fn()
    except Exception:
        traceback.print_exc()
        ok(False, "%s raised %s" % (fn.__name__, sys.exc_info()[1]))
    return fn


def skip(what, why):
    print("ok - %s # skip %s" % (what, why), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_of(path):
    if not wait_for(lambda: os.path.getsize(path) > 0, T):
        raise SystemExit("no port in %s" % path)
    return int(open(path).read())


def can_connect(port):
    socket.create_connection(("127.0.0.1", port), 1).close()
    return True


def vmrss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssPeak:
    """The highest VmRSS of a process while the with-block runs."""

    def __init__(self, pid):
        self.pid = pid
        self.base = vmrss_kb(pid)
        self.peak = self.base
        self.stop = threading.Event()

    def _run(self):
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, vmrss_kb(self.pid))

    def __enter__(self):
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join()
        self.peak = max(self.peak, vmrss_kb(self.pid))

    @property
    def growth_mb(self):
        return (self.peak - self.base) / 1024.0


class GwEnv(Env):
    """Env with a target, upstream proxies and gateway listeners."""

    def start_target(self):
        key = os.path.join(self.dir, "key.pem")
        self.cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        pf = os.path.join(self.dir, "target.port")
        tf = os.path.join(self.dir, "target.tls")
        log = open(os.path.join(self.dir, "target.log"), "a")
        self.procs.append(subprocess.Popen(
            [PYTHON3, os.path.join(SERVERS, "target.py"), "--port-file", pf,
             "--tls-port-file", tf, "--cert", self.cert, "--key", key],
            stdout=log, stderr=log))
        self.tport = port_of(pf)
        self.tlsport = port_of(tf)
        self.turl = "http://127.0.0.1:%d" % self.tport
        self.tlsurl = "https://127.0.0.1:%d" % self.tlsport

    def stats(self):
        return json.loads(urllib.request.urlopen(
            self.turl + "/_stats", timeout=T).read())

    def reset_stats(self):
        urllib.request.urlopen(self.turl + "/_reset", timeout=T).read()

    def start_tinyproxy(self, name, auth=None, connect_ports=()):
        """A tinyproxy adding X-Proxy-Id: NAME and no Via; auth "u:p"
        makes it ask for those credentials; CONNECT to the target's ports
        and connect_ports.  Returns (port, Popen)."""
        port = free_port()
        conf = os.path.join(self.dir, name + ".conf")
        with open(conf, "w") as f:
            f.write('Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\n'
                    'MaxClients 100\nLogFile "%s"\nLogLevel Warning\n'
                    'DisableViaHeader Yes\nAddHeader "X-Proxy-Id" "%s"\n'
                    % (port, os.path.join(self.dir, name + ".log"), name))
            for p in (self.tport, self.tlsport) + tuple(connect_ports):
                f.write("ConnectPort %d\n" % p)
            if auth:
                f.write("BasicAuth %s %s\n" % tuple(auth.split(":", 1)))
        out = open(os.path.join(self.dir, name + ".out"), "a")
        p = subprocess.Popen([TINYPROXY, "-d", "-c", conf], stdout=out,
                             stderr=out)
        self.procs.append(p)
        if not wait_for(lambda: can_connect(port), T):
            raise SystemExit("tinyproxy %s did not start" % name)
        return port, p

    def start_fault(self, name, mode, *args):
        """A faultproxy.py (--id NAME).  Returns (port, Popen)."""
        pf = os.path.join(self.dir, name + ".port")
        log = open(os.path.join(self.dir, name + ".log"), "a")
        p = subprocess.Popen([PYTHON3, os.path.join(SERVERS, "faultproxy.py"),
                              "--mode", mode, "--port-file", pf, "--id", name]
                             + list(args), stdout=log, stderr=log)
        self.procs.append(p)
        return port_of(pf), p

    def write_gw(self, pools, gateways, extra=""):
        self.write_conf(pools, "gateway = ( %s );\n%s" % (gateways, extra))

    def cmd(self, *args):
        return self.client().execute_command(*args)

    def reload(self):
        return self.cmd("RELOAD")

    def info_gw(self, idx=None, listen=None):
        """One gateway_N line of INFO as a dict (numbers as int)."""
        info = self.info_text()
        for line in info.splitlines():
            m = re.match(r"gateway_(\d+):(.*)", line.strip())
            if not m:
                continue
            d = {}
            for kv in m.group(2).split(","):
                k, _, v = kv.partition("=")
                d[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
            if (idx is not None and int(m.group(1)) == idx) or \
               (listen is not None and d.get("listen") == listen):
                return d
        return None

    def info_text(self):
        """INFO as text (redis-py would parse it)."""
        return subprocess.run([REDIS_CLI, "-s", self.sock, "INFO"],
                              stdout=subprocess.PIPE, check=True,
                              timeout=T).stdout.decode()

    def list_pool(self, pool):
        """LIST POOL as {proxy: {field: value}} (every page)."""
        out, cursor = {}, "0"
        while True:
            r = self.cmd("LIST", pool, "CURSOR", cursor, "COUNT", "1000")
            cursor = str(r[0])
            for item in r[1]:
                d = dict(zip(item[0::2], item[1::2]))
                out[d["proxy"]] = d
            if cursor == "0":
                return out

    def pool_stats(self, pool):
        r = self.cmd("STATS", pool)
        return dict(zip(r[0::2], r[1::2]))

    def rss_kb(self):
        return vmrss_kb(self.daemon.pid)


def basic(user, pw):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, pw)).encode()).decode()


def recv_response(s, head_only=False, limit=1 << 20):
    """Read one HTTP response from s: (status, headers dict lower-case,
    body bytes); a body by Content-Length or chunked, or up to the close.
    head_only: the body is not read (HEAD)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return 0, {}, buf
    hdr = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdr[k.strip().lower()] = v.strip()
    if head_only or status in (204, 304) or 100 <= status < 200:
        return status, hdr, b""
    if "content-length" in hdr:
        n = int(hdr["content-length"])
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                break
            rest += d
        return status, hdr, rest[:n]
    if "chunked" in hdr.get("transfer-encoding", ""):
        body = b""
        while True:
            while b"\r\n" not in rest:
                d = s.recv(65536)
                if not d:
                    return status, hdr, body
                rest += d
            line, _, rest = rest.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            while len(rest) < size + 2:
                d = s.recv(65536)
                if not d:
                    return status, hdr, body + rest
                rest += d
            if size == 0:
                return status, hdr, body
            body += rest[:size]
            rest = rest[size + 2:]
    while len(rest) < limit:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return status, hdr, rest


def raw_request(port, data, timeout=T, head_only=None):
    """Send DATA to 127.0.0.1:PORT, read one response (only its head
    after a CONNECT: a tunnel has no end)."""
    if head_only is None:
        head_only = data.startswith(b"CONNECT ")
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(data)
        return recv_response(s, head_only=head_only)
    finally:
        s.close()


def socks5(port, host, tport, user=None, pw=None, timeout=T):
    """A SOCKS5 CONNECT to host:tport through 127.0.0.1:PORT (domain name
    address).  Returns (socket or None, what): what is "ok", "auth" (the
    credentials were refused), "method" (no acceptable method) or
    "rep N"."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(b"\x05\x01" + (b"\x02" if user is not None else b"\x00"))
        m = recv_exact(s, 2)
        if m[1] == 0xff:
            s.close()
            return None, "method"
        if m[1] == 2:
            u, p = (user or "").encode(), (pw or "").encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            a = recv_exact(s, 2)
            if a[1] != 0:
                s.close()
                return None, "auth"
        h = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h +
                  struct.pack("!H", tport))
        rep = recv_exact(s, 4)
        if rep[3] == 1:
            recv_exact(s, 6)
        elif rep[3] == 4:
            recv_exact(s, 18)
        elif rep[3] == 3:
            recv_exact(s, recv_exact(s, 1)[0] + 2)
        if rep[1] != 0:
            s.close()
            return None, "rep %d" % rep[1]
        return s, "ok"
    except (OSError, IndexError) as e:
        s.close()
        return None, "error %s" % e


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise OSError("closed after %d of %d bytes" % (len(b), n))
        b += d
    return b


def curl(*args, timeout=T):
    """Run curl -sS; (returncode, stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout)] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout + 5)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def curl_head(out):
    """Split curl -i output into (status, headers dict, body)."""
    head, _, body = out.partition(b"\r\n\r\n")
    # CONNECT adds the proxy's own head first
    while body.startswith(b"HTTP/") and head.split(b" ")[1] == b"200" and \
            b"\r\n\r\n" in body and head.lower().find(b"content-length") < 0 \
            and b"established" in head.lower():
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        status = 0
    hdr = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdr[k.strip().lower()] = v.strip()
    return status, hdr, body


class EchoServer:
    """A TCP echo server on 127.0.0.1 (a tunnel's far end)."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,),
                             daemon=True).start()

    @staticmethod
    def _echo(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()
