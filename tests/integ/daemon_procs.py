"""daemon_procs.py: proxypoold as a process: log.file reopened on SIGHUP,
log.syslog, the descriptor limit raised for max_clients, sd_notify
messages (when built with systemd), and the embedded Redis' restart
backoff and its SIGTERM-then-SIGKILL stop."""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import (Env, ok, finish, wait_for, PROXYPOOLD,  # noqa: E402
                         REDIS_SERVER, TOP_BUILDDIR)

import redis  # noqa: E402

PYTHON3 = os.environ.get("PYTHON3", "/usr/bin/python3")

env = Env()
env.start_redis()
POOLS = 'pools = ( { name = "x"; proxies = ( "http://127.0.0.1:4031" ); } );'


def conf(name, log="", listen="", url=None, redis_extra=""):
    """Write NAME.conf; returns (path, socket)."""
    path = os.path.join(env.dir, name + ".conf")
    sock = os.path.join(env.dir, name + ".sock")
    with open(path, "w") as f:
        f.write('redis = { url = "%s"; timeout = 1.0; %s };\n'
                'listen = { socket = "%s"; mode = "0666"; '
                'admin_uids = [ %d ]; %s };\n'
                'log = { level = "debug"; %s };\n%s\n'
                % (url or "unix://" + env.redis_sock, redis_extra, sock,
                   os.getuid(), listen, log, POOLS))
    return path, sock


def spawn(argv, name, **kw):
    """Start argv with output in NAME.out; returns the Popen."""
    out = open(os.path.join(env.dir, name + ".out"), "a")
    p = subprocess.Popen(argv, stdout=out, stderr=out, **kw)
    env.procs.append(p)
    return p


def answers(sock):
    return redis.Redis(unix_socket_path=sock).ping()


def read(path):
    try:
        return open(path).read()
    except OSError:
        return ""


def info(sock, field):
    return redis.Redis(unix_socket_path=sock, decode_responses=True
                       ).execute_command("INFO")[field]


# --- log.file is reopened on SIGHUP -----------------------------------
logf = os.path.join(env.dir, "file.log")
path, sock = conf("file", log='file = "%s";' % logf)
p = spawn([PROXYPOOLD, "-c", path], "file")
ok(wait_for(lambda: "pools synced to Redis" in read(logf), 15),
   "log.file gets the log")
os.rename(logf, logf + ".1")
p.send_signal(signal.SIGHUP)
ok(wait_for(lambda: "configuration reloaded" in read(logf), 10),
   "after a move and SIGHUP, a new log.file gets the lines")
ok("configuration reloaded" not in read(logf + ".1"),
   "and the moved file none")
ok(read(os.path.join(env.dir, "file.out")) == "",
   "nothing went to standard error")

# --- under systemd, stderr lines carry the journal's priorities --------
def journal_run(name, stream):
    """Run a daemon logging to stderr (NAME.out) with JOURNAL_STREAM set
    by stream(stat of NAME.out); the line saying the pools synced."""
    jpath, jsock = conf(name)
    jout = os.path.join(env.dir, name + ".out")
    open(jout, "w").close()
    q = spawn([PROXYPOOLD, "-c", jpath], name,
              env=dict(os.environ, JOURNAL_STREAM=stream(os.stat(jout))))
    wait_for(lambda: "pools synced to Redis" in read(jout), 15)
    q.terminate()
    q.wait(15)
    return [x for x in read(jout).splitlines() if "pools synced" in x][:1]


got = journal_run("journal", lambda st: "%d:%d" % (st.st_dev, st.st_ino))
ok(got == ["<6>pools synced to Redis"],
   "JOURNAL_STREAM naming stderr: a <6> priority, no timestamp (%r)" % got)
got = journal_run("notjournal", lambda st: "%d:%d" % (st.st_dev,
                                                       st.st_ino + 1))
ok(len(got) == 1 and re.match(r"\d{4}-\d\d-\d\dT.* \[info\] pools synced",
                              got[0]) is not None,
   "JOURNAL_STREAM naming another stream: timestamped lines (%r)" % got)

# --- the descriptor limit is raised for max_clients -------------------
path, sock = conf("nofile", listen="max_clients = 1000;")


def reload(sock):
    """RELOAD on sock: OK, or the error text.  A daemon that just started
    (it answers, READY=1 is sent) may still be syncing its pools, and a
    RELOAD meanwhile is answered TRYAGAIN (slow under ASan or on a busy
    machine): retried for up to 15 s."""
    c = redis.Redis(unix_socket_path=sock)
    end = time.monotonic() + 15
    while True:
        try:
            return c.execute_command("RELOAD")
        except redis.exceptions.ResponseError as e:
            if not str(e).startswith("TRYAGAIN") or time.monotonic() > end:
                return str(e)
            time.sleep(0.1)


def low_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 4096))


p.terminate()
p.wait(15)
p = spawn([PROXYPOOLD, "-c", path], "nofile", preexec_fn=low_limit)
ok(wait_for(lambda: answers(sock)), "proxypoold started with nofile 64:4096")


def nofile():
    """The daemon's (soft, hard) descriptor limit."""
    m = re.search(r"Max open files\s+(\d+)\s+(\d+)",
                  read("/proc/%d/limits" % p.pid))
    return m.groups() if m else None


# room for max_clients, checks.max_inflight (default 1024) and 64 more
ok(nofile() == ("2088", "4096"),
   "max_clients 1000 raises the soft limit to 1000 + 1024 + 64 (%s)"
   % (nofile(),))
path, sock = conf("nofile", listen="max_clients = 2000;")
got = reload(sock)
ok(got == b"OK", "RELOAD with max_clients 2000 (%s)" % got)
ok(nofile() == ("3088", "4096"),
   "RELOAD with max_clients 2000 raises it to 3088 (%s)" % (nofile(),))
p.terminate()
p.wait(15)

# --- sd_notify ----------------------------------------------------------
config_h = read(os.path.join(TOP_BUILDDIR, "config.h"))
if "#define HAVE_SYSTEMD 1" not in config_h:
    ok(True, "sd_notify # skip built without systemd (libsystemd-dev)")
else:
    nsock = os.path.join(env.dir, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock)
    msgs = []

    def collect():
        while True:
            try:
                msgs.append(ns.recv(4096).decode())
            except OSError:
                return
    threading.Thread(target=collect, daemon=True).start()
    path, sock = conf("notify")
    p = spawn([PROXYPOOLD, "-c", path], "notify",
              env=dict(os.environ, NOTIFY_SOCKET=nsock))
    ok(wait_for(lambda: "READY=1" in msgs, 15),
       "sd_notify: READY=1 at start (%s)" % msgs)
    n = len(msgs)

    got = reload(sock)
    ok(got == b"OK", "RELOAD (%s)" % got)
    ok(wait_for(lambda: msgs[n:n + 2] == ["RELOADING=1", "READY=1"], 10),
       "sd_notify: RELOADING=1 then READY=1 on RELOAD (%s)" % msgs[n:])
    p.send_signal(signal.SIGTERM)
    ok(wait_for(lambda: "STOPPING=1" in msgs, 10),
       "sd_notify: STOPPING=1 on SIGTERM (%s)" % msgs)
    ok(p.wait(15) == 0, "proxypoold exits 0")
    ns.close()

# --- log.syslog ---------------------------------------------------------
# syslog(3) writes to /dev/log, which this machine may not have and a
# test must not take: proxypoold runs in a private mount namespace whose
# /dev holds our datagram socket as "log".  Root gets a plain one; anyone
# else one owned by a user namespace that maps them to root, where the
# kernel gives users those (unshare -Urm).
unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]
if subprocess.run(unshare + ["true"], stderr=subprocess.DEVNULL).returncode:
    ok(True, "log.syslog # skip not root (a private /dev/log needs a "
       "mount namespace, and this kernel gives users none)")
else:
    dev = os.path.join(env.dir, "dev")
    os.makedirs(dev)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ls.bind(os.path.join(dev, "log"))
    lines = []

    def collect_log():
        while True:
            try:
                lines.append(ls.recv(8192).decode(errors="replace"))
            except OSError:
                return
    threading.Thread(target=collect_log, daemon=True).start()
    path, sock = conf("syslog", log="syslog = true;")
    mounts = "".join("touch %s/%s && mount --bind /dev/%s %s/%s && "
                     % (dev, n, n, dev, n)
                     for n in ("null", "zero", "urandom", "random"))
    p = spawn(unshare + ["sh", "-c", mounts +
               'mount --rbind "$0" /dev && exec "$1" -c "$2"',
               dev, PROXYPOOLD, path], "syslog")
    ok(wait_for(lambda: any("pools synced to Redis" in m for m in lines),
                15), "log.syslog: the lines go to /dev/log")
    tag = "proxypoold[%d]: " % p.pid
    ready = [m for m in lines if "ready" in m]
    ok(ready and ready[0].startswith("<30>") and tag in ready[0],
       "as daemon.info, tagged %s(%s)" % (tag, ready[:1]))
    ok(read(os.path.join(env.dir, "syslog.out")) == "",
       "nothing went to standard error")
    p.terminate()
    p.wait(15)
    ls.close()

# --- embedded Redis: restart backoff ------------------------------------
state = os.path.join(env.dir, "state")
path, sock = conf("emb", url="embedded",
                  redis_extra='state_dir = "%s"; server = "%s";'
                  % (state, subprocess.run(
                      ["sh", "-c", 'command -v "$0"', REDIS_SERVER],
                      capture_output=True, text=True).stdout.strip()))
p = spawn([PROXYPOOLD, "-c", path], "emb")
ok(wait_for(lambda: info(sock, "redis_connected") == 1, 15),
   "embedded Redis up")
gaps = []
for n in (1, 2):
    pid = info(sock, "embedded_pid")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: info(sock, "embedded_restarts") == n, 20, 0.01)
    gaps.append(time.monotonic() - t0)
    ok(wait_for(lambda: info(sock, "redis_connected") == 1, 15),
       "restart %d: connected again" % n)
out = read(os.path.join(env.dir, "emb.out"))
ok("restarting embedded redis-server in 1 s" in out and
   "restarting embedded redis-server in 2 s" in out,
   "the log says 1 s, then 2 s")
ok(0.9 < gaps[0] < 10 and 1.9 < gaps[1] < 15,
   "restarts come after the growing backoff: %.2f s, then %.2f s" %
   tuple(gaps))
p.terminate()
ok(p.wait(15) == 0, "proxypoold with its embedded Redis exits 0")

# --- embedded Redis that ignores SIGTERM: killed after the grace time ---
# a fake redis-server: binds the socket it is given, ignores SIGTERM
fake = os.path.join(env.dir, "fake-redis")
fakepid = os.path.join(env.dir, "fake.pid")
with open(fake, "w") as f:
    f.write("#!%s\nimport os, signal, socket, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "s.bind(sys.argv[sys.argv.index('--unixsocket') + 1])\n"
            "s.listen(8)\n"
            "open(%r, 'w').write(str(os.getpid()))\n"
            "while True:\n    time.sleep(60)\n" % (PYTHON3, fakepid))
os.chmod(fake, 0o755)
path, sock = conf("stub", url="embedded",
                  redis_extra='state_dir = "%s/stub"; server = "%s";'
                  % (env.dir, fake))
p = spawn([PROXYPOOLD, "-c", path], "stub")
ok(wait_for(lambda: answers(sock), 15) and read(fakepid) != "",
   "proxypoold up with a redis-server that ignores SIGTERM")
fpid = int(read(fakepid))
t0 = time.monotonic()
p.terminate()
try:
    rc = p.wait(30)
except subprocess.TimeoutExpired:
    rc = None
took = time.monotonic() - t0
ok(rc == 0 and 4.5 < took < 30,
   "SIGTERM: proxypoold exits 0 after the 5 s grace (%s, %.2f s)"
   % (rc, took))
ok("did not stop, killing" in read(os.path.join(env.dir, "stub.out")),
   "the log says it killed the redis-server")
gone = not os.path.exists("/proc/%d" % fpid)
if not gone:
    os.kill(fpid, signal.SIGKILL)
ok(gone, "the redis-server that ignored SIGTERM is gone (SIGKILL)")
finish()
