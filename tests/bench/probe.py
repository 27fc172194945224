#!/usr/bin/python3
"""probe.py: the health-check benchmark (not part of make check).

    tests/bench/probe.py [--proxies 10000] [--stubs 4] [--inter 2]
                         [--seconds 10] [--inflight 2048]

Starts a private redis-server, a few probe_stub "proxies" on loopback and
proxypoold with one pool of N proxy URLs spread over the stubs (distinct
identities user<i>@127.0.0.1:port), every one probed with the http check.
Over the measured window it reports: probes completed per second (the
daemon's own counter), the daemon's and Redis' CPU time per probe, and the
LEASE latency (p50/p99) measured at the same time by a client on the
socket.  References from the same run: the LEASE latency of the same
daemon and pool before the check was turned on (RELOAD), and the PING
latency of the socket (what the machine's scheduling alone costs).

Then each function's calls and Redis time per call.  Ends with "name
value" lines: daemon_usec_per_probe, daemon_user_usec_per_probe (its
user-space part) and redis_usec_per_probe (CPU time of the processes over
the window, every probe, lease and timer included), trivial_usec (Redis'
time for a function that returns 1, measured before probing) and the two
per-probe times over it (redis_per_probe_over_trivial,
daemon_per_probe_over_trivial), redis_fcall_usec_per_probe (Redis' own
time of every function call but LEASE's and RELEASE's over the window,
from a SLOWLOG that logs every command) and redis_health_usec_per_probe
(of the ra*_health_* functions alone), the LEASE p99 while probing and
before, and their ratio lease_p99_probing_over_before.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

top_src = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
top_build = os.environ.get("top_builddir") or os.getcwd()
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


def wait(pred, secs, what):
    end = time.time() + secs
    while time.time() < end:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit("timeout waiting for " + what)


def cpu_of(pid, part=None):
    """CPU seconds of pid: user and system, or part "user" or "sys"."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    u, s = int(v[11]), int(v[12])
    t = u if part == "user" else s if part == "sys" else u + s
    return t / os.sysconf("SC_CLK_TCK")


def trivial_usec(r, calls=20000):
    """Redis time per call of a function that returns 1 (INFO
    commandstats), on the same server: the unit of the ratios."""
    r.execute_command("FUNCTION", "LOAD", "REPLACE",
                      "#!lua name=ra_bench\nredis.register_function("
                      "'ra_bench_one', function() return 1 end)")
    best = float("inf")
    for _ in range(3):
        r.config_resetstat()
        p = r.pipeline(transaction=False)
        for i in range(calls // 3):
            p.execute_command("FCALL", "ra_bench_one", 0)
            if i % 100 == 99:
                p.execute()
        p.execute()
        best = min(best, r.info("commandstats")["cmdstat_fcall"]
                   ["usec_per_call"])
    return best


def machine():
    """(busy, total) jiffies of every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def stats(c, pool):
    r = c.execute_command("STATS", pool)
    return dict(zip(r[0::2], r[1::2]))


def slowlog_start(r):
    """Log every command from now on."""
    r.config_set("slowlog-max-len", 1000000)
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.config_resetstat()


def slowlog_functions(r):
    """Stop logging; µs of Redis time per function called (FCALL and
    FCALL_RO) since slowlog_start, and how many entries the log held."""
    r.config_set("slowlog-log-slower-than", 10000)
    log = r.slowlog_get(-1)
    per, calls = {}, {}
    for e in log:
        argv = e["command"].split()
        if len(argv) > 1 and argv[0].upper() in (b"FCALL", b"FCALL_RO"):
            name = argv[1].decode()
            per[name] = per.get(name, 0) + e["duration"]
            calls[name] = calls.get(name, 0) + 1
    return per, calls, len(log)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def measure(t, seconds):
    """LEASE+RELEASE, then PING, in a loop for seconds: the LEASE and
    PING latencies in ms."""
    lease_lat, ping_lat = [], []
    cl = redis.Redis(unix_socket_path=t + "/pp.sock", decode_responses=True)
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        r = cl.execute_command("LEASE", "bench")
        t1 = time.perf_counter()
        cl.execute_command("RELEASE", "bench", r[r.index("token") + 1])
        t2 = time.perf_counter()
        cl.execute_command("PING")
        t3 = time.perf_counter()
        lease_lat.append((t1 - t0) * 1000)
        ping_lat.append((t3 - t2) * 1000)
        time.sleep(0.002)
    return lease_lat, ping_lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxies", type=int, default=10000)
    ap.add_argument("--stubs", type=int, default=4)
    ap.add_argument("--inter", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--inflight", type=int, default=2048)
    a = ap.parse_args()

    t = tempfile.mkdtemp(prefix="ra-bench-")
    procs = []
    try:
        rs = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", t + "/redis.sock",
             "--save", "", "--appendonly", "no", "--dir", t,
             "--logfile", t + "/redis.log"])
        procs.append(rs)
        wait(lambda: redis.Redis(unix_socket_path=t + "/redis.sock").ping(),
             10, "redis")
        ports = []
        for i in range(a.stubs):
            pf = "%s/stub%d.port" % (t, i)
            procs.append(subprocess.Popen(
                [top_build + "/tests/bench/probe_stub", pf]))
            wait(lambda: open(pf).read().endswith("\n"), 10, "stub")
            ports.append(int(open(pf).read()))
        with open(t + "/proxies", "w") as f:
            for i in range(a.proxies):
                f.write("http://user%d:x@127.0.0.1:%d\n" %
                        (i, ports[i % len(ports)]))
        def conf(check):
            with open(t + "/pp.conf", "w") as f:
                f.write("""
redis = { url = "unix://%(t)s/redis.sock"; timeout = 2.0; };
listen = { socket = "%(t)s/pp.sock"; mode = "0600"; };
log = { level = "warning"; file = "%(t)s/pp.log"; };
checks = { dir = "%(checks)s"; max_inflight = %(inflight)d; };
pools = ( { name = "bench"; lease_ttl = 60; proxies_file = "%(t)s/proxies";
  %(check)s } );
""" % {"t": t, "checks": top_build + "/checks/.libs",
                    "inflight": a.inflight,
                    "check": """check = { type = "http";
    url = "http://127.0.0.1:%d/"; inter = %g; fastinter = %g; rise = 1;
    fall = 2; timeout = 2.0; };""" % (ports[0], a.inter, a.inter)
                    if check else ""})

        conf(False)
        pp = subprocess.Popen([top_build + "/src/daemon/proxypoold", "-c",
                               t + "/pp.conf"])
        procs.append(pp)
        c = redis.Redis(unix_socket_path=t + "/pp.sock", decode_responses=True)
        wait(lambda: stats(c, "bench")["total"] == a.proxies, 30, "pool sync")
        rc = redis.Redis(unix_socket_path=t + "/redis.sock")
        idle_lat, idle_ping = measure(t, a.seconds / 2)
        trivial = trivial_usec(rc)
        conf(True)
        c.execute_command("RELOAD")
        wait(lambda: stats(c, "bench")["proxies_up"] >= a.proxies * 0.9, 60,
             "proxies up")
        time.sleep(1)

        s0 = stats(c, "bench")
        slowlog_start(rc)
        c0, r0, w0 = cpu_of(pp.pid), cpu_of(rs.pid), time.time()
        cu0 = cpu_of(pp.pid, "user")
        m0 = machine()
        lease_lat, ping_lat = measure(t, a.seconds)
        s1 = stats(c, "bench")
        c1, r1, w1 = cpu_of(pp.pid), cpu_of(rs.pid), time.time()
        cu1 = cpu_of(pp.pid, "user")
        fn, ncalls, logged = slowlog_functions(rc)
        if logged >= 1000000:
            print("warning: SLOWLOG full, Redis time per probe too low")
        hot = sum(v for k, v in fn.items()
                  if not k.endswith(("_lease", "_release")))
        health = sum(v for k, v in fn.items() if "_health_" in k)
        m1 = machine()
        probes = s1["probes"] - s0["probes"]
        rate = probes / (w1 - w0)
        cpu = c1 - c0
        print("proxies: %d on %d stubs, inter %gs (demand %.0f probes/s), "
              "max_inflight %d" % (a.proxies, a.stubs, a.inter,
                                   a.proxies / a.inter, a.inflight))
        print("probes completed: %.0f/s (%d in %.1f s); up %d down %d" %
              (rate, probes, w1 - w0, s1["proxies_up"], s1["proxies_down"]))
        print("daemon CPU: %.1f%% of a core, %.1f us per probe (user %.1f, "
              "kernel %.1f: each probe a new TCP connection through a "
              "stub on loopback, whose kernel work is partly the "
              "daemon's)" %
              (100 * cpu / (w1 - w0), 1e6 * cpu / probes if probes else 0,
               1e6 * (cu1 - cu0) / probes if probes else 0,
               1e6 * (cpu - (cu1 - cu0)) / probes if probes else 0))
        print("reference: a trivial function call costs Redis %.2f us "
              "(INFO commandstats, same server)" % trivial)
        print("redis-server CPU: %.1f%% of a core, %.1f us per probe" %
              (100 * (r1 - r0) / (w1 - w0),
               1e6 * (r1 - r0) / probes if probes else 0))
        print("machine: %d CPUs %.0f%% busy (everything: this benchmark, "
              "its stubs and kernel TCP, and any other load), load %.1f" %
              (os.cpu_count(), 100.0 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
               os.getloadavg()[0]))
        print("LEASE while probing: p50 %.3f ms, p99 %.3f ms (%d leases)" %
              (pct(lease_lat, 0.5), pct(lease_lat, 0.99), len(lease_lat)))
        print("LEASE before the check (reference): p50 %.3f ms, p99 %.3f ms "
              "(%d leases); probing/reference p99 ratio %.1f" %
              (pct(idle_lat, 0.5), pct(idle_lat, 0.99), len(idle_lat),
               pct(lease_lat, 0.99) / pct(idle_lat, 0.99)))
        print("PING on the same socket: p50 %.3f ms, p99 %.3f ms while "
              "probing, p99 %.3f ms before" %
              (pct(ping_lat, 0.5), pct(ping_lat, 0.99),
               pct(idle_ping, 0.99)))
        cs = rc.info("commandstats")
        print("redis commands per probe (functions' own calls included): " +
              ", ".join("%s %.2f" % (k[8:], v["calls"] / probes)
                        for k, v in sorted(cs.items(),
                                           key=lambda kv: -kv[1]["calls"])
                        if probes and v["calls"] / probes >= 0.01))
        for k in sorted(fn):
            print("function %s: %d calls, %.1f us per call, %.2f per probe" %
                  (k, ncalls[k], fn[k] / ncalls[k],
                   fn[k] / probes if probes else 0))
        per = (lambda v: v / probes if probes else float("nan"))
        for k, v in (
                ("proxies", a.proxies),
                ("probes_per_sec", "%.0f" % rate),
                ("daemon_usec_per_probe", "%.1f" % per(1e6 * cpu)),
                ("daemon_user_usec_per_probe", "%.1f" %
                 per(1e6 * (cu1 - cu0))),
                ("redis_usec_per_probe", "%.1f" % per(1e6 * (r1 - r0))),
                ("trivial_usec", "%.2f" % trivial),
                ("redis_per_probe_over_trivial", "%.1f" %
                 (per(1e6 * (r1 - r0)) / trivial)),
                ("daemon_per_probe_over_trivial", "%.1f" %
                 (per(1e6 * cpu) / trivial)),
                ("redis_fcall_usec_per_probe", "%.1f" % per(hot)),
                ("redis_health_usec_per_probe", "%.1f" % per(health)),
                ("lease_p99_probing_ms", "%.3f" % pct(lease_lat, 0.99)),
                ("lease_p99_before_ms", "%.3f" % pct(idle_lat, 0.99)),
                ("lease_p99_probing_over_before", "%.2f" %
                 (pct(lease_lat, 0.99) / pct(idle_lat, 0.99)))):
            print(k, v)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
