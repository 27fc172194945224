"""daemon_util.py: helpers for proxypoold Python integration tests: a
temp dir, a private redis-server, proxypoold on a private socket, result
lines ("ok - ..." / "not ok - ...") and cleanup."""
import atexit
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

TOP_BUILDDIR = os.environ.get("top_builddir", os.getcwd())
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
PROXYPOOLD = os.environ.get(
    "PROXYPOOLD", os.path.join(TOP_BUILDDIR, "src/daemon/proxypoold"))

failed = 0


def ok(cond, what):
    """Print one result line; count failures."""
    global failed
    if cond:
        print("ok - %s" % what, flush=True)
    else:
        print("not ok - %s" % what, flush=True)
        failed += 1
    return cond


def finish():
    if failed:
        print("%d failed" % failed)
        sys.exit(1)
    sys.exit(0)


def wait_for(fn, seconds=10.0, step=0.02):
    """Poll fn until it returns true or the time is up."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            if fn():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


class Env:
    """A temp dir with a redis-server and a proxypoold."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ra-test.")
        self.procs = []
        self.redis_sock = os.path.join(self.dir, "redis.sock")
        self.sock = os.path.join(self.dir, "pp.sock")
        self.conf = os.path.join(self.dir, "pp.conf")
        self.log = os.path.join(self.dir, "pp.log")
        self.redis_proc = None
        self.daemon = None
        atexit.register(self.cleanup)

    def start_redis(self):
        d = os.path.join(self.dir, "redis.d")
        os.makedirs(d, exist_ok=True)
        self.redis_proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.redis_sock,
             "--unixsocketperm", "700", "--dir", d, "--save", "",
             "--appendonly", "no", "--logfile",
             os.path.join(self.dir, "redis.log")])
        self.procs.append(self.redis_proc)
        r = redis.Redis(unix_socket_path=self.redis_sock)
        if not wait_for(lambda: r.ping()):
            raise SystemExit("redis-server did not start")
        return self.redis_proc

    def write_conf(self, pools, extra=""):
        # the test's own uid may run the admin commands (root always may)
        with open(self.conf, "w") as f:
            f.write('redis = { url = "unix://%s"; timeout = 1.0; };\n'
                    'listen = { socket = "%s"; mode = "0666"; '
                    'max_request = 4096; admin_uids = [ %d ]; };\n'
                    'log = { level = "info"; };\n%s\npools = ( %s );\n'
                    % (self.redis_sock, self.sock, os.getuid(), extra,
                       pools))

    def start_daemon(self):
        try:
            before = len(open(self.log).read())
        except OSError:
            before = 0
        logf = open(self.log, "a")
        self.daemon = subprocess.Popen([PROXYPOOLD, "-c", self.conf],
                                       stdout=logf, stderr=logf)
        self.procs.append(self.daemon)
        if not wait_for(lambda: "pools synced to Redis" in
                        open(self.log).read()[before:]):
            print(open(self.log).read())
            raise SystemExit("proxypoold did not start")
        return self.daemon

    def client(self, **kw):
        return redis.Redis(unix_socket_path=self.sock, decode_responses=True,
                           **kw)

    def cleanup(self):
        # SIGTERM first, so a LeakSanitizer build reports at exit; SIGKILL
        # what is still there after 5 s
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
        # a sanitizer's report in a server's log (an --enable-asan or
        # --enable-ubsan build) fails the test, shown in its log
        bad = []
        for f in glob.glob(os.path.join(self.dir, "*.log")):
            with open(f, errors="replace") as fh:
                text = fh.read()
            if re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error: ",
                         text):
                bad.append((f, text))
        shutil.rmtree(self.dir, ignore_errors=True)
        for f, text in bad:
            print("not ok - sanitizer report in %s:" % os.path.basename(f))
            i = re.search(r"Sanitizer|runtime error: ", text).start()
            print(text[max(0, i - 200):i + 2000])
        if bad:
            sys.stdout.flush()
            os._exit(1)


def pairs(reply):
    """A flat field/value array as a dict."""
    return dict(zip(reply[0::2], reply[1::2]))
