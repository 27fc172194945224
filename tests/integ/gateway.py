"""gateway.py: proxypoold's gateway listeners through curl, requests and
raw sockets, with tinyproxy and faultproxy.py upstreams, to the local
HTTP and HTTPS target: plain GET, POST (Content-Length and chunked),
keep-alive, HEAD, CONNECT + TLS, SOCKS5, a 50 MB download and a chunked
response; hop-by-hop headers and credentials; retries over a dead
upstream ejected by outcomes alone; BANNED for ban statuses and
ban_body, FAILED for resets and proxy-made statuses, latency; 407, 400,
431, NOPOOL, EMPTY, 504 and TRYAGAIN answers; a slow-reading client's
download bounded in memory; INFO and METRICS counters."""
import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import ok, finish, wait_for  # noqa: E402
from gateway_util import (GwEnv, RssPeak, T, basic, case, curl,  # noqa
                          curl_head, free_port, raw_request, recv_response,
                          skip, socks5)

import requests  # noqa: E402
import urllib3  # noqa: E402

urllib3.disable_warnings()
try:
    import socks  # noqa: F401  (python3-socks: requests' socks5h://)
    HAVE_SOCKS = True
except ImportError:
    HAVE_SOCKS = False

FILL = bytes(range(256)) * 256         # target.py's /bytes and /chunked
MB50 = 50 * 1024 * 1024


def pattern(n):
    return (FILL * (n // len(FILL) + 1))[:n]


env = GwEnv()
env.start_redis()
env.start_target()
tpa, _ = env.start_tinyproxy("tpa")
tpb, _ = env.start_tinyproxy("tpb")
tpc, _ = env.start_tinyproxy("tpc", auth="pu:pp")
sa, _ = env.start_fault("sa", "socks")
sb, _ = env.start_fault("sb", "socks", "--auth", "su:sp")
b1, _ = env.start_fault("b1", "ok")
b2, _ = env.start_fault("b2", "ok")
bb1, _ = env.start_fault("bb1", "ok")
rst, _ = env.start_fault("rst", "reset")
s503, _ = env.start_fault("s503", "status", "--status", "503")
dead = free_port()
# tpa again as an https:// proxy (tlsfront.py, the target's certificate)
_tf = os.path.join(env.dir, "tlsfront.port")
env.procs.append(subprocess.Popen(
    [sys.executable, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "servers", "tlsfront.py"),
     "--backend", str(tpa), "--cert", env.cert,
     "--key", os.path.join(env.dir, "key.pem"), "--port-file", _tf],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
tls_port = wait_for(lambda: os.path.exists(_tf), T) and int(open(_tf).read())
G0, G1, G2, G3, G4 = (free_port(), free_port(), free_port(), free_port(),
                      free_port())
TPA = "http://127.0.0.1:%d" % tpa
TPB = "http://127.0.0.1:%d" % tpb
DEAD = "http://127.0.0.1:%d" % dead
env.write_gw(
    '{ name = "web"; proxies = [ "%s", "%s" ]; },'
    '{ name = "one"; proxies = [ "%s" ]; },'
    '{ name = "sk"; proxies = [ "socks5://127.0.0.1:%d",'
    '  "socks5://su:sp@127.0.0.1:%d" ]; },'
    '{ name = "cred"; proxies = [ "http://pu:pp@127.0.0.1:%d" ]; },'
    '{ name = "mix"; proxies = [ "%s", "%s" ];'
    '  eject = { failures = 2; base_time = 120; max_time = 300; }; },'
    '{ name = "ban"; proxies = [ "http://127.0.0.1:%d",'
    '  "http://127.0.0.1:%d" ]; },'
    '{ name = "bb"; proxies = [ "http://127.0.0.1:%d" ]; },'
    '{ name = "rst"; proxies = [ "http://127.0.0.1:%d" ];'
    '  eject = { failures = 100; }; },'
    '{ name = "ps"; proxies = [ "http://127.0.0.1:%d", "%s" ];'
    '  eject = { failures = 100; }; },'
    '{ name = "tls"; shared = true;'
    '  proxies = [ "https://127.0.0.1:%d" ]; eject = { failures = 100; }; }'
    % (TPA, TPB, TPA, sa, sb, tpc, TPA, DEAD, b1, b2, bb1, rst, s503, TPB,
       tls_port),
    '{ listen = "127.0.0.1:%d"; pool = "web"; proxy_header = true;'
    '  retries = 2; ban_body = "captcha"; },'
    '{ listen = "127.0.0.1:%d"; pool = "web"; password = "sekret";'
    '  proxy_header = true; },'
    '{ listen = "127.0.0.1:%d"; pool = "one"; timeout = 1.0; },'
    '{ listen = "127.0.0.1:%d"; pool = "tls"; proxy_cacert = "%s";'
    '  proxy_header = true; },'
    '{ listen = "127.0.0.1:%d"; pool = "tls"; retries = 0; }'
    % (G0, G1, G2, G3, env.cert, G4))
env.start_daemon()
GW = "http://127.0.0.1:%d" % G0
PX = {"http": GW, "https": GW}
L0 = "127.0.0.1:%d" % G0


def px(user, pw="x", port=G0):
    u = "http://%s:%s@127.0.0.1:%d" % (user, pw, port)
    return {"http": u, "https": u}


def seen(path):
    return env.stats()["seen"].get(path, {})


# --- 1. plain requests, keep-alive, HEAD, CONNECT, SOCKS5 -------------
@case
def plain_curl():
    rc, out, err = curl("-i", "-x", GW, env.turl + "/a")
    st, hdr, body = curl_head(out)
    ok(rc == 0 and st == 200 and body == b"ok\n",
       "curl GET through the gateway (rc %d, %d, %r %s)" % (rc, st, body, err))
    ok(hdr.get("x-proxypool-proxy") in (TPA, TPB),
       "X-Proxypool-Proxy names the upstream (%s)" %
       hdr.get("x-proxypool-proxy"))
    h = seen("/a").get("headers", {})
    ok(h.get("x-proxy-id") in ("tpa", "tpb"),
       "the target got it through a tinyproxy (%s)" % h.get("x-proxy-id"))
    ok(not {"via", "x-forwarded-for", "forwarded", "proxy-authorization",
            "proxy-connection"} & set(h),
       "no Via, X-Forwarded-For or Proxy-* header reached the target (%s)"
       % sorted(h))


@case
def plain_requests():
    r = requests.get(env.turl + "/b", proxies=PX, timeout=T)
    ok(r.status_code == 200 and r.text == "ok\n",
       "requests GET (%d %r)" % (r.status_code, r.text))
    small = b"hello=world"
    rc, out, err = curl("-x", GW, "--data-binary", "hello=world",
                        env.turl + "/echo")
    ok(rc == 0 and out == small, "curl POST Content-Length (%r %s)" %
       (out, err))
    big = os.urandom(300000)
    r = requests.post(env.turl + "/echo", data=big, proxies=PX, timeout=T)
    s = seen("/echo")
    ok(r.status_code == 200 and r.content == big and
       s.get("body_len") == len(big),
       "requests POST of 300 kB with Content-Length (%d, %d bytes back, "
       "target got %s)" % (r.status_code, len(r.content), s.get("body_len")))

    def gen():
        for i in range(10):
            yield big[i * 30000:(i + 1) * 30000]
    for name, proxies in (("tinyproxy", PX), ("socks", px("sk"))):
        r = requests.post(env.turl + "/echo", data=gen(), proxies=proxies,
                          timeout=T)
        s = seen("/echo")
        ok(r.status_code == 200 and r.content == big and
           s.get("body_len") == len(big),
           "requests POST chunked through a %s upstream (%d, %d bytes back,"
           " target got %s)" % (name, r.status_code, len(r.content),
                                s.get("body_len")))
    rc, out, err = curl("-x", GW, "-H", "Transfer-Encoding: chunked",
                        "--data-binary", "abc" * 1000, env.turl + "/echo")
    ok(rc == 0 and out == b"abc" * 1000, "curl POST chunked (%d bytes, %s)"
       % (len(out), err))


@case
def keepalive():
    before = env.info_gw(listen=L0)
    c = http.client.HTTPConnection("127.0.0.1", G0, timeout=T)
    got = []
    for i in range(5):
        c.request("GET", env.turl + "/ka%d" % i)
        r = c.getresponse()
        got.append((r.status, r.read(), r.getheader("Connection")))
    c.request("POST", env.turl + "/echo", body=b"between")
    r = c.getresponse()
    got.append((r.status, r.read(), None))
    c.request("HEAD", env.turl + "/h")
    r = c.getresponse()
    got.append((r.status, r.read(), r.getheader("Content-Length")))
    c.request("GET", env.turl + "/after-head")
    r = c.getresponse()
    got.append((r.status, r.read(), None))
    c.close()
    after = env.info_gw(listen=L0)
    ok(all(g[0] == 200 for g in got) and
       [g[1] for g in got] == [b"ok\n"] * 5 + [b"between", b"", b"ok\n"],
       "8 requests (GET, POST, HEAD, GET) on one connection (%s)" % got)
    ok(after["connections"] - before["connections"] == 1 and
       after["requests"] - before["requests"] == 8,
       "INFO: one connection, 8 requests (%d, %d)" %
       (after["connections"] - before["connections"],
        after["requests"] - before["requests"]))
    ok(got[6][2] == "3", "HEAD answers the GET's Content-Length, no body "
       "(%s)" % got[6][2])
    rc, out, err = curl("-I", "-x", GW, env.turl + "/h2")
    st, hdr, body = curl_head(out)
    ok(rc == 0 and st == 200 and body == b"" and
       seen("/h2").get("method") == "HEAD",
       "curl -I: HEAD upstream, 200 without a body (rc %d %d %s)" %
       (rc, st, err))


@case
def connect_tls():
    rc, out, err = curl("-x", GW, "--cacert", env.cert,
                        env.tlsurl + "/tls1")
    ok(rc == 0 and out == b"ok\n", "curl CONNECT + TLS (rc %d %r %s)" %
       (rc, out, err))
    r = requests.get(env.tlsurl + "/tls2", proxies=PX, verify=env.cert,
                     timeout=T)
    ok(r.status_code == 200 and r.text == "ok\n",
       "requests CONNECT + TLS, verified by the test cert (%d)" %
       r.status_code)
    r = requests.get(env.tlsurl + "/tls3", proxies=px("sk"), verify=False,
                     timeout=T)
    ok(r.status_code == 200 and r.text == "ok\n",
       "requests CONNECT + TLS through a SOCKS5 upstream (%d)" %
       r.status_code)
    s = requests.Session()
    codes = [s.get(env.tlsurl + "/tls4", proxies=PX, verify=env.cert,
                   timeout=T).status_code for _ in range(3)]
    ok(codes == [200] * 3, "3 requests in one CONNECT tunnel (%s)" % codes)


@case
def socks_clients():
    rc, out, err = curl("--socks5-hostname", "127.0.0.1:%d" % G0,
                        env.turl + "/s1")
    ok(rc == 0 and out == b"ok\n", "curl --socks5-hostname, HTTP (rc %d %r"
       " %s)" % (rc, out, err))
    rc, out, err = curl("--socks5-hostname", "127.0.0.1:%d" % G0,
                        "--cacert", env.cert, env.tlsurl + "/s2")
    ok(rc == 0 and out == b"ok\n", "curl --socks5-hostname, HTTPS (rc %d "
       "%r %s)" % (rc, out, err))
    rc, out, err = curl("-x", "socks5h://sk:x@127.0.0.1:%d" % G0,
                        env.turl + "/s3")
    ok(rc == 0 and out == b"ok\n", "curl SOCKS5 with user name sk: the sk "
       "pool's SOCKS upstreams (rc %d %r %s)" % (rc, out, err))
    rc, out, err = curl("--socks4a", "127.0.0.1:%d" % G0, env.turl + "/s4")
    ok(rc != 0, "SOCKS4a is not spoken (rc %d)" % rc)
    if not HAVE_SOCKS:
        skip("requests through SOCKS5", "python3-socks not installed")
    else:
        u = "socks5h://127.0.0.1:%d" % G0
        r = requests.get(env.turl + "/s5", proxies={"http": u, "https": u},
                         timeout=T)
        ok(r.status_code == 200 and r.text == "ok\n",
           "requests socks5h:// HTTP (%d)" % r.status_code)
        r = requests.get(env.tlsurl + "/s6", proxies={"http": u, "https": u},
                         verify=env.cert, timeout=T)
        ok(r.status_code == 200 and r.text == "ok\n",
           "requests socks5h:// HTTPS (%d)" % r.status_code)


@case
def big_download():
    n = 0
    head = b""
    with RssPeak(env.daemon.pid) as rss:
        r = requests.get(env.turl + "/bytes?n=%d" % MB50, proxies=PX,
                         stream=True, timeout=T * 4)
        for chunk in r.iter_content(65536):
            if len(head) < 200000:
                head += chunk
            n += len(chunk)
    ok(r.status_code == 200 and n == MB50 and head[:200000] ==
       pattern(200000)[:len(head[:200000])],
       "50 MB download streamed whole (%d bytes)" % n)
    ok(rss.growth_mb < 16, "the daemon's RSS grew %.1f MB over the 50 MB "
       "download (%d kB to %d kB)" % (rss.growth_mb, rss.base, rss.peak))
    with RssPeak(env.daemon.pid) as rss:
        rc, out, err = curl("-x", GW, "--cacert", env.cert,
                            env.tlsurl + "/bytes?n=%d" % MB50, timeout=60)
    ok(rc == 0 and len(out) == MB50 and out[:65536] == FILL,
       "50 MB through a CONNECT tunnel (%d bytes, %s)" % (len(out), err))
    ok(rss.growth_mb < 16, "the daemon's RSS grew %.1f MB over the tunnel's"
       " 50 MB" % rss.growth_mb)


@case
def chunked_response():
    want = pattern(300000)
    for name, prox in (("tinyproxy", GW), ("socks", "http://sk:x@" + L0)):
        rc, out, err = curl("-i", "-x", prox, env.turl + "/chunked?n=300000")
        st, hdr, body = curl_head(out)
        ok(rc == 0 and st == 200 and ("chunked" in hdr.get(
            "transfer-encoding", "") or "content-length" in hdr),
           "curl chunked response through a %s upstream: 200, framed (rc %d"
           " %d %s)" % (name, rc, st, sorted(hdr)))
        rc, out, err = curl("-x", prox, env.turl + "/chunked?n=300000")
        ok(rc == 0 and out == want, "chunked response body whole through a "
           "%s upstream (%d bytes)" % (name, len(out)))
    r = requests.get(env.turl + "/chunked?n=123457", proxies=PX, timeout=T)
    ok(r.status_code == 200 and r.content == pattern(123457),
       "requests chunked response (%d bytes)" % len(r.content))


@case
def hop_by_hop():
    req = ("GET %s/hop HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Proxy-Authorization: %s\r\nProxy-Connection: keep-alive\r\n"
           "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
           "Keep-Alive: timeout=5\r\nX-E2E: yes\r\n\r\n"
           % (env.turl, env.tport, basic("sk", "x"))).encode()
    st, hdr, body = raw_request(G0, req)
    h = seen("/hop").get("headers", {})
    ok(st == 200 and h.get("x-e2e") == "yes",
       "an end-to-end header reaches the target (%d %s)" % (st, sorted(h)))
    ok(not {"x-hop", "keep-alive", "proxy-connection", "proxy-authorization",
            "via", "x-forwarded-for"} & set(h),
       "hop-by-hop headers, Proxy-Authorization, Via, X-Forwarded-For do "
       "not (the target saw %s)" % sorted(h))
    # the listener with a password: the client's credentials stay here,
    # the upstream's own go to it
    r = requests.get(env.turl + "/cred", proxies=px("cred", "sekret", G1),
                     timeout=T)
    h = seen("/cred").get("headers", {})
    ok(r.status_code == 200 and h.get("x-proxy-id") == "tpc",
       "an upstream tinyproxy with BasicAuth gets its own credentials (%d)"
       % r.status_code)
    ok("pp" not in r.headers.get("X-Proxypool-Proxy", "pp") and
       "127.0.0.1:%d" % tpc in r.headers.get("X-Proxypool-Proxy", ""),
       "X-Proxypool-Proxy redacts the upstream's password (%s)" %
       r.headers.get("X-Proxypool-Proxy"))
    r = requests.get(env.tlsurl + "/cred2", proxies=px("cred", "sekret", G1),
                     verify=env.cert, timeout=T)
    ok(r.status_code == 200, "CONNECT through the BasicAuth tinyproxy (%d)"
       % r.status_code)
    ok(all(requests.get(env.turl + "/sk%d" % i,
                        proxies=px("sk", "sekret", G1),
                        timeout=T).status_code == 200 for i in range(4)) and
       all("proxy-authorization" not in seen("/sk%d" % i).get("headers", {})
           for i in range(4)),
       "through SOCKS5 upstreams (one with RFC 1929 credentials) the target"
       " never sees the client's Proxy-Authorization")


# --- 2. a dead upstream: retries, FAILED, ejection by outcomes --------
@case
def dead_upstream():
    before = env.info_gw(listen=L0)
    codes = []
    for i in range(40):
        codes.append(requests.get(env.turl + "/mix%d" % i,
                                  proxies=px("mix"), timeout=T).status_code)
        lst = env.list_pool("mix")
        if lst.get(DEAD, {}).get("state") == "quarantined" and i >= 9:
            break
    after = env.info_gw(listen=L0)
    lst = env.list_pool("mix")
    ok(codes and all(c == 200 for c in codes),
       "every request through the pool with a dead upstream succeeds (%s)"
       % codes)
    ok(after["retries"] > before["retries"] and
       after["failed"] - before["failed"] >= 2,
       "INFO counts retries (%d) and FAILED outcomes (%d)" %
       (after["retries"] - before["retries"],
        after["failed"] - before["failed"]))
    ok(lst.get(DEAD, {}).get("state") == "quarantined" and
       lst.get(TPA, {}).get("state") == "free",
       "the dead upstream is ejected by its outcomes, the good one is free "
       "(%s)" % {k: v.get("state") for k, v in lst.items()})
    ok(env.pool_stats("mix").get("check") == "none",
       "no health check on that pool")


# --- 3. BANNED, FAILED, latency ---------------------------------------
def info_bans():
    m = re.search(r"^bans:(\d+)", env.info_text(), re.M)
    return int(m.group(1)) if m else -1


@case
def banned():
    before = env.info_gw(listen=L0)
    bans0 = info_bans()
    r1 = requests.get(env.turl + "/status/403", proxies=px("ban"), timeout=T)
    p1 = r1.headers.get("X-Proxypool-Proxy")
    r2 = requests.get(env.turl + "/status/429", proxies=px("ban"), timeout=T)
    p2 = r2.headers.get("X-Proxypool-Proxy")
    lst = env.list_pool("ban")
    ok(r1.status_code == 403 and r2.status_code == 429,
       "the target's 403 and 429 reach the client (%d, %d)" %
       (r1.status_code, r2.status_code))
    ok(p1 and p2 and p1 != p2 and
       all(v.get("state") == "quarantined" for v in lst.values()),
       "403 and 429 ban their upstream: both quarantined (%s %s %s)" %
       (p1, p2, {k: v.get("state") for k, v in lst.items()}))
    r = requests.get(env.turl + "/x", proxies=px("ban"), timeout=T)
    ok(r.status_code == 502 and
       r.headers.get("X-Proxypool-Error") == "EMPTY",
       "a pool with every proxy banned: 502 EMPTY (%d %s)" %
       (r.status_code, r.headers.get("X-Proxypool-Error")))
    r = requests.get(env.turl + "/body?s=please+solve+the+captcha",
                     proxies=px("bb"), timeout=T)
    lst = env.list_pool("bb")
    ok(r.status_code == 200 and
       all(v.get("state") == "quarantined" for v in lst.values()),
       "ban_body matching the body bans the upstream (%d %s)" %
       (r.status_code, {k: v.get("state") for k, v in lst.items()}))
    after = env.info_gw(listen=L0)
    ok(after["banned"] - before["banned"] == 3,
       "INFO banned counts 3 (%d)" % (after["banned"] - before["banned"]))
    # the releases that banned are answered: counted as bans, and recent
    # events naming the gateway (the release is not waited for)
    ok(wait_for(lambda: info_bans() - bans0 == 3, T),
       "INFO bans: the three bans the gateway's releases made (%d)" %
       (info_bans() - bans0))
    metrics = env.client().execute_command("METRICS")
    if isinstance(metrics, bytes):
        metrics = metrics.decode()
    ok('proxypoold_ejections_total{pool="ban",outcome="banned"} 2' in
       metrics, "METRICS: ejections_total{ban,banned} 2")


@case
def failed_outcomes():
    before = env.info_gw(listen=L0)
    r = requests.get(env.turl + "/r", proxies=px("rst"), timeout=T)
    ok(r.status_code == 502 and
       r.headers.get("X-Proxypool-Error") == "FAILED",
       "an upstream resetting every connection: 502 FAILED (%d %s)" %
       (r.status_code, r.headers.get("X-Proxypool-Error")))
    rr = "http://127.0.0.1:%d" % rst
    ok(wait_for(lambda: int(env.list_pool("rst")[rr]["failures"]) >= 1, T),
       "the reset is a FAILED outcome (failures %s)" %
       env.list_pool("rst")[rr]["failures"])
    after = env.info_gw(listen=L0)
    ok(after["failed"] > before["failed"] and
       after["errors"] > before["errors"],
       "INFO failed and errors count it (%d %d)" %
       (after["failed"] - before["failed"], after["errors"] -
        before["errors"]))
    # a proxy-made 503 is a retry on the other proxy and FAILED for it
    codes = [requests.get(env.turl + "/ps%d" % i, proxies=px("ps"),
                          timeout=T).status_code for i in range(6)]
    p503 = "http://127.0.0.1:%d" % s503
    f = int(env.list_pool("ps")[p503]["failures"])
    ok(codes == [200] * 6 and f >= 1,
       "an upstream answering 503 itself: retried elsewhere, FAILED "
       "(%s, failures %d)" % (codes, f))


@case
def latency():
    before = env.info_gw(idx=2)
    r = requests.get(env.turl + "/slow?ms=300", proxies=px("one", port=G2),
                     timeout=T)
    after = env.info_gw(idx=2)
    lat = int(env.list_pool("one")[TPA]["latency"])
    ok(r.status_code == 200 and
       after["latency_count"] == before["latency_count"] + 1 and
       after["latency_ms"] - before["latency_ms"] >= 290,
       "INFO latency of a 300 ms answer (%d ms over %d)" %
       (after["latency_ms"] - before["latency_ms"],
        after["latency_count"] - before["latency_count"]))
    ok(lat >= 50, "LIST shows the upstream's latency (%d ms)" % lat)


# --- 5. credentials, malformed requests, limits -----------------------
@case
def auth():
    before = env.info_gw(idx=1)
    G1U = "http://127.0.0.1:%d" % G1
    rc, out, err = curl("-i", "-x", G1U, env.turl + "/auth")
    st, hdr, _ = curl_head(out)
    ok(st == 407 and hdr.get("proxy-authenticate") ==
       'Basic realm="proxypoold"',
       "no credentials: 407 with Proxy-Authenticate (%d %s)" %
       (st, hdr.get("proxy-authenticate")))
    rc, out, err = curl("-i", "-x", G1U, "-U", "web:wrong",
                        env.turl + "/auth")
    st, hdr, _ = curl_head(out)
    ok(st == 407 and "proxy-authenticate" in hdr,
       "a bad password: 407 (%d)" % st)
    st, hdr, _ = raw_request(G1, (
        "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        "Proxy-Authorization: %s\r\n\r\n" % (env.tlsport, env.tlsport,
                                             basic("web", "wrong"))).encode())
    ok(st == 407 and hdr.get("proxy-authenticate") ==
       'Basic realm="proxypoold"', "CONNECT with a bad password: 407 (%d)"
       % st)
    rc, out, err = curl("-x", G1U, "-U", "web:sekret", "--cacert", env.cert,
                        env.tlsurl + "/auth2")
    ok(rc == 0 and out == b"ok\n", "CONNECT with the password works (%s)"
       % err)
    rc, out, err = curl("-x", G1U, "-U", ":sekret", env.turl + "/auth3")
    ok(rc == 0 and out == b"ok\n", "an empty user name is the listener's "
       "pool (%r %s)" % (out, err))
    s, what = socks5(G1, "127.0.0.1", env.tport, "web", "wrong")
    ok(s is None and what == "auth", "SOCKS5 with a bad password: auth "
       "failure (%s)" % what)
    s, what = socks5(G1, "127.0.0.1", env.tport)
    ok(s is None and what == "method", "SOCKS5 without credentials on a "
       "listener with a password: no acceptable method (%s)" % what)
    s, what = socks5(G1, "127.0.0.1", env.tport, "web", "sekret")
    st = 0
    if s:
        s.sendall(b"GET /socksauth HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _, body = recv_response(s)
        s.close()
    ok(what == "ok" and st == 200, "SOCKS5 with the password (%s %d)" %
       (what, st))
    after = env.info_gw(idx=1)
    ok(after["auth_failures"] - before["auth_failures"] >= 4,
       "INFO auth_failures (%d)" % (after["auth_failures"] -
                                    before["auth_failures"]))


@case
def malformed():
    res = {}

    def slow():
        try:
            r = requests.get(env.turl + "/slow?ms=1500", proxies=PX,
                             timeout=T)
            res["slow"] = (r.status_code, r.text)
        except Exception as e:
            res["slow"] = repr(e)
    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: "/slow?ms=1500" in env.stats()["seen"], 5)
    bad = {
        "origin-form GET": b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n",
        "garbage line": b"BLAH\r\n\r\n",
        "header without a colon": ("GET %s/ HTTP/1.1\r\nBad Header\r\n\r\n"
                                   % env.turl).encode(),
        "binary": b"\x01\x02\x03 \xff\xfe\r\n\r\n",
        "CONNECT without a port": b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",
        "a space before the colon (smuggling)": (
            "POST %s/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked"
            "\r\n\r\n0\r\n\r\n" % env.turl).encode(),
        "a control byte in a value": ("GET %s/ HTTP/1.1\r\nX-A: \x01b\r\n"
                                      "\r\n" % env.turl).encode(),
    }
    for what, data in bad.items():
        st, hdr, _ = raw_request(G0, data)
        ok(st == 400, "%s: 400 (%d)" % (what, st))
    t.join(T)
    ok(res.get("slow") == (200, "ok\n"), "a concurrent request of another "
       "client is undisturbed (%s)" % (res.get("slow"),))
    flood = ("GET %s/flood HTTP/1.1\r\nHost: x\r\n" % env.turl +
             "".join("X-Flood-%d: %s\r\n" % (i, "a" * 1000)
                     for i in range(70)) + "\r\n").encode()
    st, hdr, _ = raw_request(G0, flood)
    ok(st == 431, "a 70 kB head: 431 (%d)" % st)
    one = ("GET %s/flood HTTP/1.1\r\nX-Long: %s\r\n\r\n"
           % (env.turl, "b" * 100000)).encode()
    st, hdr, _ = raw_request(G0, one)
    ok(st == 431, "a 100 kB header line: 431 (%d)" % st)
    ok("/flood" not in env.stats()["seen"], "the flood never went upstream")
    r = requests.get(env.turl + "/after", proxies=PX, timeout=T)
    ok(r.status_code == 200, "the gateway serves on after them")


@case
def gateway_errors():
    r = requests.get(env.turl + "/x", proxies=px("nosuch"), timeout=T)
    ok(r.status_code == 502 and
       r.headers.get("X-Proxypool-Error") == "NOPOOL",
       "an unknown pool: 502 NOPOOL (%d %s)" %
       (r.status_code, r.headers.get("X-Proxypool-Error")))
    ok("no such pool 'nosuch' (pools: " in r.text and "web" in r.text,
       "and the answer names the pool asked for and the pools (%r)" %
       r.text)
    t0 = time.monotonic()
    r = requests.get(env.turl + "/slow?ms=4000", proxies=px("one", port=G2),
                     timeout=T)
    el = time.monotonic() - t0
    ok(r.status_code == 504 and el < 3.5, "no answer within timeout = 1: "
       "504 after %.1f s (%d)" % (el, r.status_code))


@case
def slow_reader():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(T)
    s.connect(("127.0.0.1", G0))
    with RssPeak(env.daemon.pid) as rss:
        s.sendall(("GET %s/bytes?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" %
                   (env.turl, MB50)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        got = len(head.partition(b"\r\n\r\n")[2])
        time.sleep(2)                  # not reading at all for a while
        paused = rss.peak
        while got < MB50:
            d = s.recv(65536)
            if not d:
                break
            got += len(d)
            time.sleep(0.0005)
    s.close()
    ok(got == MB50, "a slow reader gets all 50 MB (%d)" % got)
    ok((paused - rss.base) / 1024.0 < 6 and rss.growth_mb < 8,
       "while it does not read, and over the download, the daemon's RSS "
       "grows %.1f / %.1f MB" % ((paused - rss.base) / 1024.0,
                                 rss.growth_mb))


@case
def counters():
    g = env.info_gw(listen=L0)
    keys = ("listen pool requests tunnels ok failed banned retries errors "
            "auth_failures bytes_in bytes_out latency_ms latency_count")
    ok(g is not None and all(k in g for k in keys.split()) and
       g["pool"] == "web", "INFO # Gateway has every counter (%s)" % g)
    ok("# Gateway" in env.info_text(), "INFO has a # Gateway section")
    ok(g["bytes_out"] > 2 * MB50 and g["tunnels"] >= 3 and g["ok"] > 20,
       "INFO bytes_out, tunnels and ok add up (%d %d %d)" %
       (g["bytes_out"], g["tunnels"], g["ok"]))
    m = env.cmd("METRICS")
    m = m if isinstance(m, str) else m.decode()
    lab = '{listener="%s",pool="web"}' % L0
    ok(all(("proxypoold_gateway_%s_total%s" % (k, lab)) in m
           for k in ("requests", "tunnels", "ok", "failed", "banned")),
       "METRICS proxypoold_gateway_*_total{listener=,pool=}")
    import json
    ctl = os.path.join(os.environ.get("top_builddir", "."), "src", "ctl",
                       "proxypoolctl")
    out = subprocess.run([ctl, "-s", env.sock, "--json", "gateway"],
                         stdout=subprocess.PIPE, timeout=T).stdout
    rows = {r["listen"]: r for r in json.loads(out)}
    g = env.info_gw(listen=L0)
    ok(L0 in rows and rows[L0]["requests"] == g["requests"] and
       rows[L0]["bytes_out"] == g["bytes_out"],
       "proxypoolctl --json gateway has the listener's counters (%s)" %
       rows.get(L0))
    out = subprocess.run([ctl, "-s", env.sock, "gateway"],
                         stdout=subprocess.PIPE, timeout=T).stdout.decode()
    ok(out.splitlines()[0].split()[:2] == ["LISTEN", "POOL"] and
       any(line.split()[0] == L0 for line in out.splitlines()[1:]),
       "proxypoolctl gateway prints a row per listener")


@case
def https_upstream():
    gw3 = "http://127.0.0.1:%d" % G3
    r = requests.get(env.turl + "/tls-plain", proxies={"http": gw3},
                     timeout=T)
    ok(r.status_code == 200 and r.text == "ok\n" and
       r.headers.get("X-Proxypool-Proxy") == "https://127.0.0.1:%d" %
       tls_port, "a plain request through an https proxy (TLS to the "
       "proxy, checked against proxy_cacert) (%d %s)" %
       (r.status_code, r.headers.get("X-Proxypool-Proxy")))
    ok(seen("/tls-plain").get("headers", {}).get("x-proxy-id") == "tpa",
       "it went through the tinyproxy behind the TLS front")
    r = requests.get(env.tlsurl + "/tls-tunnel", proxies={"https": gw3},
                     timeout=T, verify=env.cert)
    ok(r.status_code == 200 and r.text == "ok\n",
       "CONNECT + TLS through an https proxy (%d)" % r.status_code)
    gw4 = "http://127.0.0.1:%d" % G4
    r = requests.get(env.turl + "/tls-unverified", proxies={"http": gw4},
                     timeout=T)
    ok(r.status_code == 502 and
       r.headers.get("X-Proxypool-Error") == "FAILED" and
       "/tls-unverified" not in env.stats()["seen"],
       "without proxy_cacert the self-signed proxy is refused: 502 FAILED "
       "(%d %s)" % (r.status_code, r.headers.get("X-Proxypool-Error")))


@case
def redis_down():
    env.redis_proc.kill()
    env.redis_proc.wait()
    got = {}

    def tryagain():
        r = requests.get(env.turl + "/down", proxies=PX, timeout=T)
        got["r"] = (r.status_code, r.headers.get("X-Proxypool-Error"))
        return r.status_code == 503
    ok(wait_for(tryagain, T, 0.2) and got["r"][1] == "TRYAGAIN",
       "Redis down: 503 TRYAGAIN (%s)" % (got.get("r"),))


finish()
