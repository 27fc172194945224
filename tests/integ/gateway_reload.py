"""gateway_reload.py: proxypoold's gateway listeners across reloads: RELOAD
adding a listener, changing a listener's pool and removing one while a
CONNECT tunnel and a SOCKS5 tunnel through the removed one stay open and
keep carrying bytes (an echo server at their far end); their leases end
when they close; SIGHUP brings a listener back."""
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_util import ok, finish, wait_for  # noqa: E402
from gateway_util import (EchoServer, GwEnv, T, case, free_port,  # noqa
                          recv_response, socks5)

import requests  # noqa: E402

env = GwEnv()
env.start_redis()
env.start_target()
echo = EchoServer()
TPA = "http://127.0.0.1:%d" % env.start_tinyproxy(
    "tpa", connect_ports=(echo.port,))[0]
PB = ["http://127.0.0.1:%d" % env.start_tinyproxy(
    n, connect_ports=(echo.port,))[0] for n in ("tpb", "tpc", "tpd")]
A, B, C = free_port(), free_port(), free_port()
# the two tunnels hold two of pb's proxies (exclusive leases)
POOLS = ('{ name = "pa"; proxies = [ "%s" ]; },'
         '{ name = "pb"; proxies = [ %s ]; }'
         % (TPA, ", ".join('"%s"' % p for p in PB)))
LA, LB, LC = ("127.0.0.1:%d" % p for p in (A, B, C))


def listener(port, pool):
    return ('{ listen = "127.0.0.1:%d"; pool = "%s"; proxy_header = true; }'
            % (port, pool))


env.write_gw(POOLS, listener(A, "pa") + "," + listener(B, "pb"))
env.start_daemon()


def via(port):
    """The upstream of one plain request through 127.0.0.1:PORT."""
    u = "http://127.0.0.1:%d" % port
    r = requests.get(env.turl + "/via", proxies={"http": u}, timeout=T)
    return r.status_code, r.headers.get("X-Proxypool-Proxy")


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return False
    except ConnectionRefusedError:
        return True


def echoes(s, what):
    s.sendall(what)
    got = b""
    while len(got) < len(what):
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got == what


ok(via(A) == (200, TPA) and via(B)[1] in PB,
   "before: A on pool pa, B on pool pb")

# a CONNECT tunnel and a SOCKS5 tunnel through B, to the echo server
tun = socket.create_connection(("127.0.0.1", B), T)
tun.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
             % (echo.port, echo.port)).encode())
st, hdr, _ = recv_response(tun, head_only=True)
ok(st == 200 and echoes(tun, b"before\n"), "a CONNECT tunnel through B "
   "echoes (%d)" % st)
sk, what = socks5(B, "127.0.0.1", echo.port)
ok(sk is not None and echoes(sk, b"socks before\n"),
   "a SOCKS5 tunnel through B echoes (%s)" % what)
ok(env.pool_stats("pb")["leased"] == 2, "pb's proxies are leased by the "
   "tunnels (%s)" % env.pool_stats("pb")["leased"])


@case
def reload_cmd():
    env.write_gw(POOLS, listener(A, "pb") + "," + listener(C, "pa"))
    ok(env.reload() == "OK", "RELOAD: A to pool pb, C added, B removed")
    ok(wait_for(lambda: via(C) == (200, TPA), T),
       "the new listener C answers, on pool pa (%s)" % (via(C),))
    a = via(A)
    ok(a[0] == 200 and a[1] in PB, "A's pool is pb now (%s)" % (a,))
    ok(wait_for(lambda: refused(B), T), "B takes no new connection")
    ok(echoes(tun, b"after the reload\n" * 1000),
       "the CONNECT tunnel through B still carries bytes both ways")
    ok(echoes(sk, b"socks after\n" * 1000),
       "so does the SOCKS5 tunnel")
    info = env.info_text()
    ok("listen=%s" % LA in info and "listen=%s" % LC in info,
       "INFO lists A and C")
    ok(env.pool_stats("pb")["leased"] == 2, "the tunnels still hold "
       "their leases")
    tun.close()
    sk.close()
    ok(wait_for(lambda: env.pool_stats("pb")["leased"] == 0, T),
       "closed, the tunnels release their leases (leased %s)" %
       env.pool_stats("pb")["leased"])
    ok(wait_for(lambda: "listen=%s" % LB not in env.info_text(), T),
       "INFO no longer lists B")


@case
def reload_sighup():
    env.write_gw(POOLS, listener(A, "pa") + "," + listener(B, "pa"))
    env.daemon.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: via(B) == (200, TPA), T),
       "SIGHUP: B is back, on pool pa")
    ok(via(A) == (200, TPA), "A is on pa again")
    ok(wait_for(lambda: refused(C), T), "C is gone")


finish()
