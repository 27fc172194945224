"""http_status.py: proxypoold's HTTP endpoint (the http group) with two
pools and a gateway listener: /metrics read by prometheus_client's text
parser (with the releases and REPORTs by pool and outcome, the
gateway's too, and the lease wait histogram), /status.json by json (its counts are STATS'), the status page and
a pool page loaded by headless Chromium (the rendered DOM has every pool
with STATS' counts, the proxies redacted and escaped, the table sorted by
its script; screenshots go to the log dir), basic auth (401 without the
password), 404s, 503 while Redis is down, reload moving and removing the
listener, a bad http group named file:line, and the stop closing it.
Skips (77) only without chromium."""
import html.parser
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import (Env, PROXYPOOLD, TOP_BUILDDIR, ok, finish,  # noqa
                         pairs, wait_for)

T = 10          # s for any one HTTP answer
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or \
    shutil.which("chromium-browser")
if CHROMIUM is None:
    print("1..0 # SKIP chromium is not installed (Debian: chromium)")
    sys.exit(77)
from prometheus_client.parser import text_string_to_metric_families  # noqa

# screenshots and dumped pages stay next to the test's log for a look
# (http_status-*.png, -*.html; make clean removes them)
LOGDIR = os.environ.get("LOGDIR") or os.path.join(
    TOP_BUILDDIR, "tests", "integ")
os.makedirs(LOGDIR, exist_ok=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return False
    except OSError:
        return True


def get(port, path, auth=None):
    """(status, headers, body text) of GET path."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if auth is not None:
        import base64
        req.add_header("Authorization", "Basic " +
                       base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=T) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def chromium(url, shot):
    """The DOM Chromium rendered from url (scripts run); a screenshot of
    it into LOGDIR/shot."""
    prof = os.path.join(env.dir, "chromium")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--disable-extensions",
            "--disable-dev-shm-usage", "--user-data-dir=" + prof,
            "--window-size=1400,800"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True,
                         timeout=90, text=True).stdout
    subprocess.run(base + ["--screenshot=" + os.path.join(
        LOGDIR, "http_status-" + shot),
                           url], capture_output=True, timeout=90)
    with open(os.path.join(LOGDIR, "http_status-" + shot[:-4] + ".html"),
              "w") as f:
        f.write(dom)
    return dom


class Dom(html.parser.HTMLParser):
    """Rows of the page's tables: pools (data-pool, data-k cells), the
    gateway's listeners, the proxies and the recent events (cell texts),
    and every element id seen."""

    def __init__(self, text):
        super().__init__()
        self.pools = {}
        self.listeners = []
        self.proxies = []
        self.events = []
        self.ids = set()
        self.tags = []
        self._row = None
        self._cell = None
        self._text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr":
            cls = a.get("class", "")
            if cls == "pool":
                self._row = ("pool", a["data-pool"], {})
                self.pools[a["data-pool"]] = self._row[2]
            elif cls == "listener":
                self._row = ("listener", None, {})
                self.listeners.append(self._row[2])
            elif cls == "proxy":
                self._row = ("proxy", None, [])
                self.proxies.append(self._row[2])
            elif cls == "event":
                self._row = ("event", None, [])
                self.events.append(self._row[2])
            else:
                self._row = None
        elif tag == "td" and self._row is not None:
            self._cell = a.get("data-k", "")
            self._text = ""

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            if self._row[0] in ("proxy", "event"):
                self._row[2].append(self._text)
            elif self._cell:
                self._row[2][self._cell] = self._text
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._text += data


env = Env()
env.start_redis()
HP, GP = free_port(), free_port()
CRED = "http://alice:s3cret@127.0.0.1:9001"
WEB = [CRED, "http://127.0.0.1:9002", "socks5://127.0.0.1:9003",
       "http://127.0.0.1:9004"]
API = ["http://127.0.0.1:9101", "http://127.0.0.1:9102"]
POOLS = ('{ name = "web"; proxies = [ %s ]; }, '
         '{ name = "api"; proxies = [ %s ]; }'
         % (", ".join('"%s"' % p for p in WEB),
            ", ".join('"%s"' % p for p in API)))
GW = 'gateway = ( { listen = "127.0.0.1:%d"; pool = "web"; } );\n' % GP


def http_group(port, extra=""):
    return 'http = { listen = "127.0.0.1:%d"; refresh = 30; %s };\n' % (
        port, extra)


env.write_conf(POOLS, GW + http_group(HP))
env.start_daemon()
c = env.client()
ok(wait_for(lambda: not refused(HP), T), "http.listen answers at start")

# a proxy URL whose user name would be markup if printed as is
# (the first the URL check takes; it may refuse them all: fine too)
injected = None
for INJ in ('http://<b>inj"\'&<b>:pw@127.0.0.1:9005',
            "http://%3Cb%3Einj%3Cb%3E:pw@127.0.0.1:9005"):
    try:
        c.execute_command("ADD", "web", INJ)
        injected = INJ
        print("# ADD took %s" % INJ)
        break
    except Exception as e:
        print("# ADD refused %s: %s" % (INJ, e))
lease = c.execute_command("LEASE", "api")
c.execute_command("LEASE", "web")
stats = {p: pairs(c.execute_command("STATS", p)) for p in ("web", "api")}

# /metrics: Prometheus text, METRICS' series
st, hd, body = get(HP, "/metrics")
ok(st == 200 and hd["Content-Type"].startswith("text/plain"),
   "/metrics answers 200 text/plain")
samples = {}
for fam in text_string_to_metric_families(body):
    for s in fam.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
ok(samples.get(("proxypoold_redis_up", ())) == 1, "/metrics: redis_up 1")
for p in ("web", "api"):
    for state in ("free", "leased", "quarantined"):
        key = ("proxypoold_pool_proxies",
               (("pool", p), ("state", state)))
        ok(samples.get(key) == stats[p][state],
           "/metrics: %s %s = STATS' %s" % (p, state, stats[p][state]))
for p in ("web", "api"):
    for h in ("up", "down"):
        key = ("proxypoold_pool_health", (("health", h), ("pool", p)))
        f = "proxies_" + h
        ok(samples.get(key) == stats[p][f],
           "/metrics: %s health %s = STATS' %s" % (p, h, stats[p][f]))
ok(any(k[0] == "proxypoold_build_info" and dict(k[1]).get("version")
       for k in samples), "/metrics: proxypoold_build_info has the version")
ok(any(k[0].startswith("proxypoold_gateway_") for k in samples),
   "/metrics has the gateway's series")
metrics_cmd = c.execute_command("METRICS")
ok(set(n for n, _ in samples) ==
   set(n for fam in text_string_to_metric_families(metrics_cmd)
       for n in [s.name for s in fam.samples]),
   "/metrics has METRICS' series")

# /status.json: the counts are STATS'
st, hd, body = get(HP, "/status.json")
ok(st == 200 and hd["Content-Type"] == "application/json",
   "/status.json answers 200 application/json")
doc = json.loads(body)
jp = {p["pool"]: p for p in doc["pools"]}
ok(sorted(jp) == ["api", "web"], "/status.json has both pools")
for p in ("web", "api"):
    for k in ("total", "free", "leased", "shared", "quarantined",
              "draining", "leases", "bindings", "proxies_up", "proxies_down",
              "probes"):
        ok(jp[p][k] == stats[p][k], "/status.json %s %s = STATS' %s" %
           (p, k, stats[p][k]))
ok(doc["redis"]["connected"] is True and isinstance(doc["uptime_seconds"],
                                                    int),
   "/status.json: Redis connected, uptime a number")
ok(len(doc["gateway"]) == 1 and
   doc["gateway"][0]["listen"] == "127.0.0.1:%d" % GP,
   "/status.json lists the gateway listener")

# the status page in a browser
dom = Dom(chromium("http://127.0.0.1:%d/" % HP, "status.png"))
ok(sorted(dom.pools) == ["api", "web"], "status page: every pool")
for p in ("web", "api"):
    row = dom.pools.get(p, {})
    for k in ("total", "free", "leased", "quarantined", "leases"):
        ok(row.get(k) == str(stats[p][k]), "status page: %s %s = %s" %
           (p, k, stats[p][k]))
ok(len(dom.listeners) == 1 and
   dom.listeners[0].get("listen") == "127.0.0.1:%d" % GP,
   "status page: the gateway listener")
ok({"version", "uptime", "redis-state"} <= dom.ids,
   "status page: version, uptime and Redis")
ok(os.path.getsize(os.path.join(LOGDIR, "http_status-status.png")) > 1000,
   "status page screenshot in %s" % LOGDIR)

# a pool page: the proxies redacted and escaped, sorted by the script
# (the fragment names a column and a direction: proxy, descending)
dom = Dom(chromium("http://127.0.0.1:%d/pool/web#sort=0,-1" % HP,
                   "pool-web.png"))
web_total = stats["web"]["total"]
ok(len(dom.proxies) == web_total, "pool page: %d proxies" % web_total)
names = [r[0] for r in dom.proxies]
ok(names == sorted(names, reverse=True),
   "pool page: sorted by the script (proxy, descending)")
ok(not any("s3cret" in n for n in names) and
   "http://alice:***@127.0.0.1:9001" in names,
   "pool page: credentials redacted")
ok("b" not in dom.tags, "pool page: a proxy URL cannot inject markup")
if injected:
    ok(any(n.startswith("http://<b>inj") or n.startswith("http://%3Cb")
           for n in names), "pool page: the markup URL shows as text")
ok(dom.pools.get("web", {}).get("leased") == str(stats["web"]["leased"]),
   "pool page: the pool's counts")
raw = get(HP, "/pool/web")[2]
ok("s3cret" not in raw and "<b>" not in raw,
   "pool page source: no password, no raw markup")

# 404s
ok(get(HP, "/nope")[0] == 404, "an unknown path is 404")
ok(get(HP, "/pool/nosuch")[0] == 404, "an unknown pool is 404")
st, _, body = get(HP, "/pool/%3Cscript%3E")
ok(st == 404 and "<script>" not in body, "a markup pool name is 404")

# the series by pool and outcome: RELEASE and REPORT answered here and
# the gateway's releases, and the lease wait histogram (a LEASE ... WAIT
# granted by a RELEASE 0.3 s later); deltas, the requests above counted


def scrape():
    """(samples, {family: type}) of /metrics."""
    sm, ty = {}, {}
    for fam in text_string_to_metric_families(get(HP, "/metrics")[2]):
        ty[fam.name] = fam.type
        for x in fam.samples:
            sm[(x.name, tuple(sorted(x.labels.items())))] = x.value
    return sm, ty


def rel(kind, pool, outcome):
    return ("proxypoold_%s_total" % kind,
            (("outcome", outcome), ("pool", pool)))


def wait_s(pool, part, le=None):
    lab = (("le", le), ("pool", pool)) if le else (("pool", pool),)
    return ("proxypoold_lease_wait_seconds_" + part, lab)


m0, types = scrape()
ok(types.get("proxypoold_releases") == "counter" and
   types.get("proxypoold_reports") == "counter",
   "/metrics: releases_total and reports_total are counters")
ok(types.get("proxypoold_lease_wait_seconds") == "histogram",
   "/metrics: lease_wait_seconds is a histogram")
ok(all(rel(k, p, o) in m0 for k in ("releases", "reports")
       for p in ("web", "api") for o in ("none", "ok", "failed", "banned")),
   "/metrics: every pool and outcome has its series from the start")
ok(m0.get(wait_s("api", "count")) >= 1,
   "/metrics: the LEASE of api above is in its lease wait histogram")
tok = pairs(lease)["token"]
c.execute_command("RELEASE", "api", tok, "FAILED")
c.execute_command("REPORT", "web", WEB[1], "BANNED")
try:
    c.execute_command("RELEASE", "api", tok, "OK")      # stale: not counted
except Exception:
    pass
held = [pairs(c.execute_command("LEASE", "api"))["token"] for _ in API]


def give_back():
    time.sleep(0.3)
    env.client().execute_command("RELEASE", "api", held[0])


th = threading.Thread(target=give_back)
th.start()
t0 = time.monotonic()
c.execute_command("LEASE", "api", "WAIT", "5")
waited = time.monotonic() - t0
th.join()
# the gateway: the pool's proxies do not exist, each try FAILED
gs = socket.create_connection(("127.0.0.1", GP), T)
gs.sendall(b"GET http://127.0.0.1:9/ HTTP/1.0\r\n\r\n")
gs.settimeout(T)
while gs.recv(4096):
    pass
gs.close()
key = rel("releases", "web", "failed")
wait_for(lambda: scrape()[0].get(key, 0) > m0.get(key, 0), T)
m1 = scrape()[0]


def delta(key):
    return m1.get(key, 0) - m0.get(key, 0)


ok(delta(rel("releases", "api", "failed")) == 1 and
   delta(rel("releases", "api", "ok")) == 0,
   "releases_total{api,failed} +1 (a stale RELEASE is not counted)")
ok(delta(rel("releases", "api", "none")) == 1,
   "releases_total{api,none} +1 (the RELEASE without an outcome)")
ok(delta(rel("reports", "web", "banned")) == 1 and
   delta(rel("releases", "web", "banned")) == 0,
   "reports_total{web,banned} +1, releases apart")
ok(delta(rel("releases", "web", "failed")) >= 1,
   "releases_total{web,failed} counts the gateway's releases (%d)"
   % delta(rel("releases", "web", "failed")))
ok(delta(wait_s("api", "count")) == 3 and
   delta(wait_s("api", "bucket", "+Inf")) == 3,
   "lease wait: 3 more grants in api")
ok(delta(wait_s("api", "bucket", "0.25")) == 2 and
   delta(wait_s("api", "bucket", "5")) == 3,
   "lease wait: the WAIT of %.2f s is in a bucket above 0.25 s" % waited)
ok(delta(wait_s("api", "sum")) >= 0.29,
   "lease wait: the sum grew by the wait (%.3f s)"
   % delta(wait_s("api", "sum")))
ok(m1.get(wait_s("web", "bucket", "0.001"), 0) <=
   m1.get(wait_s("web", "bucket", "0.01"), 0) <=
   m1.get(wait_s("web", "bucket", "+Inf"), 0),
   "lease wait: buckets are cumulative")
EJ = "proxypoold_ejections_total"
ok(types.get("proxypoold_ejections") == "counter" and
   all(("%s" % EJ, (("outcome", o), ("pool", p))) in m0
       for p in ("web", "api") for o in ("failed", "banned")),
   "/metrics: ejections_total, every pool and outcome from the start")
ok(delta((EJ, (("outcome", "banned"), ("pool", "web")))) == 1 and
   delta((EJ, (("outcome", "failed"), ("pool", "api")))) == 0,
   "ejections_total{web,banned} +1 (the REPORT BANNED), none for a "
   "FAILED under eject_failures")

# recent events: the ban above and one of the proxy with a password,
# in /status.json and on the pages, redacted, newest first
c.execute_command("REPORT", "web", CRED, "BANNED")
ev = json.loads(get(HP, "/status.json")[2])["events"]
bans = [e for e in ev if e["event"] == "banned"]
ok(len(bans) == 2 and bans[0]["proxy"] == "http://alice:***@127.0.0.1:9001"
   and bans[1]["proxy"] == WEB[1] and bans[0]["pool"] == "web" and
   bans[0]["detail"] == "REPORT" and
   bans[0]["source"] == "%s:%d" % (socket.gethostname(), env.daemon.pid) and
   bans[0]["until_ms"] > time.time() * 1000 and
   abs(bans[0]["time_ms"] - time.time() * 1000) < 60000,
   "/status.json: the bans, newest first, redacted (%s)" % bans)
dom = Dom(chromium("http://127.0.0.1:%d/" % HP, "status-events.png"))
evs = [r for r in dom.events if len(r) == 7 and r[3] == "banned"]
ok([r[2] for r in evs] == ["http://alice:***@127.0.0.1:9001", WEB[1]] and
   all(r[1] == "web" and r[5] == "REPORT" and
       r[6] == bans[0]["source"] for r in evs),
   "status page: the recent bans (%s)" % dom.events)
raw = get(HP, "/pool/api")[2]
ok('id="events"' in raw and "9001" not in raw,
   "a pool page shows its own events only")
ok("s3cret" not in get(HP, "/")[2] + json.dumps(ev),
   "no password in the events")

# basic auth: reload with a password
env.write_conf(POOLS, GW + http_group(HP, 'password = "pa55";'))
c.execute_command("RELOAD")
st, hd, _ = get(HP, "/")
ok(st == 401 and hd.get("WWW-Authenticate", "").startswith("Basic"),
   "with http.password: 401 without it, asking for Basic")
ok(get(HP, "/metrics", auth="x:wrong")[0] == 401,
   "with http.password: 401 with a wrong one")
ok(get(HP, "/metrics", auth="prom:pa55")[0] == 200,
   "with http.password: 200 with it")

# reload moves the listener, then removes it; a bad group keeps it
HP2 = free_port()
env.write_conf(POOLS, GW + http_group(HP2))
c.execute_command("RELOAD")
ok(refused(HP) and get(HP2, "/")[0] == 200,
   "reload: the listener moved to the new port")
bad = 'http = { listen = "0.0.0.0:%d"; };\n' % HP
env.write_conf(POOLS, GW + bad)
try:
    c.execute_command("RELOAD")
    err = ""
except Exception as e:
    err = str(e)
ok("pp.conf:" in err and "http.listen" in err and "password" in err,
   "a non-loopback http.listen without a password: file:line (%s)" % err)
ok(get(HP2, "/")[0] == 200, "a failed reload keeps the listener")
r = subprocess.run([PROXYPOOLD, "-t", "-c", env.conf], capture_output=True,
                   text=True)
ok(r.returncode != 0 and "pp.conf:" in r.stderr + r.stdout,
   "proxypoold -t names file:line of the http group")
env.write_conf(POOLS, GW)
c.execute_command("RELOAD")
ok(refused(HP2), "reload without the http group closes it")
env.write_conf(POOLS, GW + http_group(HP))
c.execute_command("RELOAD")
ok(get(HP, "/")[0] == 200, "reload with it again listens again")

# Redis down: 503 with a clear text; /metrics still says so
env.redis_proc.send_signal(signal.SIGKILL)
env.redis_proc.wait()
ok(wait_for(lambda: get(HP, "/")[0] == 503, T),
   "Redis down: the status page is 503")
st, _, body = get(HP, "/status.json")
ok(st == 503 and "Redis" in body and "unreachable" in body,
   "Redis down: /status.json is 503 saying why")
ok(get(HP, "/pool/web")[0] == 503, "Redis down: a pool page is 503")
st, _, body = get(HP, "/metrics")
ok(st == 200 and "proxypoold_redis_up 0" in body,
   "Redis down: /metrics says redis_up 0")

# the stop closes it
env.daemon.send_signal(signal.SIGTERM)
try:
    env.daemon.wait(T)
except subprocess.TimeoutExpired:
    pass
ok(env.daemon.poll() is not None and refused(HP),
   "SIGTERM: the daemon exits and the port is closed")
finish()
