"""gateway_session.py: sticky sessions of proxypoold's gateway (proxy user
name POOL-session-ID): 20 requests of a session, 5 at a time, through one
upstream (the target counts X-Proxy-Id, tinyproxy adds it), another
session concurrently on another upstream, a tunnel of the session on its
upstream, and the session moving (X-Proxypool-Session-Moved: 1) when its
proxy is removed (REMOVE), banned (quarantined) or dropped by a reload."""
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import ok, finish, wait_for  # noqa: E402
from gateway_util import (GwEnv, T, basic, case, free_port,  # noqa: E402
                          recv_response)

import requests  # noqa: E402

env = GwEnv()
env.start_redis()
env.start_target()
tp = {}
for n in ("tpa", "tpb", "tpc", "tpd"):
    tp[n] = "http://127.0.0.1:%d" % env.start_tinyproxy(n)[0]
ID = {v: k for k, v in tp.items()}
G0 = free_port()


def conf(names):
    env.write_gw('{ name = "st"; proxies = [ %s ]; }'
                 % ", ".join('"%s"' % tp[n] for n in names),
                 '{ listen = "127.0.0.1:%d"; pool = "st"; proxy_header = true;'
                 ' session_ttl = 60; }' % G0)


conf(("tpa", "tpb", "tpc", "tpd"))
env.start_daemon()


def px(user):
    u = "http://%s:x@127.0.0.1:%d" % (user, G0)
    return {"http": u, "https": u}


def get(user, path):
    r = requests.get(env.turl + path, proxies=px(user), timeout=T)
    return (r.status_code, r.headers.get("X-Proxypool-Proxy"),
            r.headers.get("X-Proxypool-Session"),
            r.headers.get("X-Proxypool-Session-Moved"), r.text)


bound = {}


@case
def sticky():
    env.reset_stats()
    jobs = [("st-session-s1", "/s1/%d" % i) for i in range(20)] + \
        [("st-session-s2", "/slow?ms=50") for i in range(20)]
    # s1's and s2's requests interleaved, 5 at a time for each
    with ThreadPoolExecutor(5) as e1, ThreadPoolExecutor(5) as e2:
        f = [(e1 if u.endswith("s1") else e2).submit(get, u, p)
             for u, p in jobs]
        res = [x.result(T) for x in f]
    s1, s2 = res[:20], res[20:]
    ok(all(r[0] == 200 for r in res), "40 requests of two sessions, 5 at a "
       "time each, all 200 (%s)" % sorted({r[0] for r in res}))
    p1, p2 = {r[1] for r in s1}, {r[1] for r in s2}
    ok(len(p1) == 1 and len(p2) == 1 and None not in p1 | p2,
       "each session's requests share one upstream (s1 %s, s2 %s)" %
       (p1, p2))
    ok(p1 != p2 and None not in p1 | p2, "the two sessions got two upstreams (%s %s)" % (p1, p2))
    ok({r[2] for r in s1} == {"s1"} and {r[2] for r in s2} == {"s2"},
       "X-Proxypool-Session names the session (%s %s)" %
       ({r[2] for r in s1}, {r[2] for r in s2}))
    ok(not any(r[3] for r in res), "no Session-Moved while nothing moved")
    by = env.stats()["by_proxy"]
    ok(len(by) == 2 and sorted(by.values()) == [20, 20] and
       {ID.get(x) for x in p1 | p2} == set(by),
       "the target saw 20 requests from each of two tinyproxies (%s)" % by)
    bound["s1"], bound["s2"] = p1.pop(), p2.pop()


@case
def session_tunnel():
    import socket
    s = socket.create_connection(("127.0.0.1", G0), T)
    s.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n"
               "Proxy-Authorization: %s\r\n\r\n"
               % (env.tport, basic("st-session-s1", "x"))).encode())
    st, hdr, _ = recv_response(s, head_only=True)
    s.sendall(b"GET /tun HTTP/1.1\r\nHost: x\r\n\r\n")
    st2, _, body = recv_response(s)
    s.close()
    h = env.stats()["seen"].get("/tun", {}).get("headers", {})
    ok(st == 200 and st2 == 200 and body == b"ok\n",
       "a CONNECT tunnel of session s1 (%d %d)" % (st, st2))
    ok(hdr.get("x-proxypool-proxy") == bound.get("s1"),
       "the tunnel goes through s1's upstream (%s, s1 on %s)" %
       (hdr.get("x-proxypool-proxy"), bound.get("s1")))


@case
def moved_by_remove():
    old = bound["s1"]
    ok(env.cmd("REMOVE", "st", old) == 1, "REMOVE s1's proxy")
    r = get("st-session-s1", "/after-remove")
    ok(r[0] == 200 and r[1] != old and r[1] in ID,
       "s1 after its proxy is removed: 200 through another (%s, was %s)" %
       (r[1], old))
    ok(r[3] == "1", "X-Proxypool-Session-Moved: 1 (%s)" % r[3])
    r2 = [get("st-session-s1", "/again%d" % i) for i in range(3)]
    ok({x[1] for x in r2} == {r[1]} and not any(x[3] for x in r2),
       "then it stays there, without Session-Moved (%s)" %
       [x[1:4] for x in r2])
    bound["s1"] = r[1]
    r = get("st-session-s2", "/s2-undisturbed")
    ok(r[1] == bound["s2"] and not r[3], "s2 did not move (%s)" % (r[1:4],))


@case
def moved_by_ban():
    old = bound["s2"]
    r = get("st-session-s2", "/status/403")
    lst = env.list_pool("st")
    ok(r[0] == 403 and lst[old]["state"] == "quarantined",
       "a 403 bans s2's proxy (%d %s)" % (r[0], lst[old]["state"]))
    r = get("st-session-s2", "/after-ban")
    ok(r[0] == 200 and r[1] != old and r[3] == "1",
       "s2 moves off its quarantined proxy with Session-Moved (%s)" %
       (r[1:4],))
    bound["s2"] = r[1]


@case
def moved_by_reload():
    old = bound["s1"]
    keep = [n for n in tp if tp[n] != old]
    conf(keep)
    ok(env.reload() == "OK", "RELOAD without s1's proxy")
    ok(wait_for(lambda: old not in env.list_pool("st"), T),
       "the proxy left the pool")
    r = get("st-session-s1", "/after-reload")
    ok(r[0] == 200 and r[1] != old and r[3] == "1",
       "s1 moves with Session-Moved after the reload (%s, was %s)" %
       (r[1:4], old))


@case
def new_session_other_pool():
    r = get("-session-s9", "/empty-pool-name")
    ok(r[0] == 200 and r[2] == "s9", "-session-ID with an empty pool name "
       "is the listener's pool (%s)" % (r[:3],))


finish()
