"""The blocking client: every method against the real daemon, typed
results and errors, and the lease context manager (renewal past the TTL,
the outcome it releases with)."""
import os
import subprocess
import threading
import time

import pytest

import proxypool
from proxypool import _proto

from conftest import TOP_SRCDIR, PYTHON3


def test_socket_from_argument_env_default(monkeypatch, servers):
    monkeypatch.delenv("PROXYPOOLD_SOCKET", raising=False)
    assert proxypool.Client().socket == "/run/proxypoold/proxypoold.sock"
    assert proxypool.DEFAULT_SOCKET == "/run/proxypoold/proxypoold.sock"
    monkeypatch.setenv("PROXYPOOLD_SOCKET", servers.sock)
    c = proxypool.Client()
    assert c.socket == servers.sock and c.ping() == "PONG"
    assert proxypool.Client("/x.sock").socket == "/x.sock"


def test_ping_pools_stats_info(client):
    assert client.ping() == "PONG"
    assert client.ping("hello") == "hello"
    assert set(client.pools()) >= {"one", "ten", "req", "scrapy_aio"}
    st = client.stats("ten")
    assert isinstance(st, proxypool.PoolStats)
    assert st.pool == "ten" and st.total == 10 and st.check == "none"
    # the proxy counts by health are proxies_up/proxies_down, none left
    # over in extra
    assert st.proxies_up == 0 and st.proxies_down == 0
    assert "up" not in st.extra and "proxies_up" not in st.extra
    # a daemon before issue 12 said up and down
    old = _proto.decode_stats(["pool", "p", "up", "3", "down", "1"])
    assert old.proxies_up == 3 and old.proxies_down == 1 and not old.extra
    every = client.stats()
    assert isinstance(every, list) and "ten" in {s.pool for s in every}
    info = client.info()
    assert info["Clients"]["admin"] == 1
    assert isinstance(info["Stats"]["commands"], int)
    assert "proxypoold_commands_total" in client.metrics()


def test_lease_renew_release(client):
    lease = client.lease("ten", ttl=5, name="n1")
    assert isinstance(lease, proxypool.Lease)
    assert lease.proxy.startswith("http://127.0.0.1:210")
    assert len(lease.token) == 32 and isinstance(lease.fence, int)
    assert lease.shared is False and lease.bound is False
    assert lease.pool == "ten" and lease.ttl == 5
    exp = client.renew("ten", lease.token, ttl=20)
    assert isinstance(exp, int) and exp > lease.expires
    assert lease.renew() >= exp - 20000
    assert client.binding("ten", "n1") == lease.proxy
    assert client.bindings("ten", lease.proxy) == ["n1"]
    client.release("ten", lease.token, "OK", latency_ms=12)
    with pytest.raises(proxypool.NotOwned) as ei:
        client.release("ten", lease.token)
    assert ei.value.code == "NOTOWNED"
    again = client.lease("ten", name="n1")
    assert again.proxy == lease.proxy and again.bound is True
    again.release()
    assert client.unbind("ten", "n1") is True
    assert client.unbind("ten", "n1") is False
    assert client.binding("ten", "n1") is None


def test_report_bind(client):
    p = "http://127.0.0.1:21003"
    client.report("ten", p, "ok", latency_ms=3)
    client.bind("ten", "b1", p, ttl=60)
    assert client.binding("ten", "b1") == p
    assert client.unbind("ten", "b1")
    with pytest.raises(proxypool.NoProxy):
        client.report("ten", "http://127.0.0.1:1", "FAILED")
    with pytest.raises(proxypool.NoProxy):
        client.bind("ten", "b2", "http://127.0.0.1:1")
    with pytest.raises(ValueError):
        client.report("ten", p, "maybe")


def test_shared(client):
    a = client.lease("sh")
    b = client.lease("sh", shared=True)
    assert a.shared and b.shared and a.proxy == b.proxy
    with pytest.raises(proxypool.Empty):
        client.lease("sh")
    a.release()
    b.release()


def test_lock(client):
    fence = client.lock("L", "me", 5)
    assert isinstance(fence, int)
    t0 = time.monotonic()
    with pytest.raises(proxypool.Busy):
        client.lock("L", "other", 5, wait=0.3)
    assert time.monotonic() - t0 >= 0.25
    with pytest.raises(proxypool.NotOwned):
        client.unlock("L", "other")
    threading.Timer(0.2, lambda: client.unlock("L", "me")).start()
    assert client.lock("L", "other", 5, wait=3) > fence
    client.unlock("L", "other")


def test_admin_commands(client, servers):
    items = client.list("ten")
    assert len(items) == 10 and all(isinstance(i, proxypool.ProxyInfo)
                                    for i in items)
    assert {i.state for i in items} <= {"free", "leased", "quarantined"}
    # no check on this pool: health none, the check fields zero, typed
    assert all(i.health == "none" and i.last_check == 0 and
               i.next_check == 0 and i.last_error == "" and
               isinstance(i.down_since, int) and not i.extra
               for i in items), items[0]
    cur, page = client.list_page("ten", count=4)   # COUNT is a hint
    assert isinstance(cur, str) and page
    assert len({i.proxy for i in client.iter_list("ten", count=3)}) == 10
    assert [i.proxy for i in client.list("ten", state="free")]
    client.add("ten", "HTTP://127.0.0.1:30000", priority=5, expires=600)
    assert "http://127.0.0.1:30000" in [i.proxy for i in client.list("ten")]
    assert client.remove("ten", "http://127.0.0.1:30000") is True
    assert client.remove("ten", "http://127.0.0.1:30000") is False
    gc = client.gc("ten")
    assert set(gc) == {"leases", "bindings", "items", "quarantine"}
    with pytest.raises(proxypool.ProxyPoolError, match="no checks"):
        client.check("ten", "http://127.0.0.1:21000")
    client.reload()


def test_check_result():
    r = _proto.decode_check(["verdict", "UP", "latency", "1.5",
                             "reason", "200"])
    assert r == proxypool.CheckResult("UP", 1.5, "200")


def test_typed_errors(client):
    with pytest.raises(proxypool.NoPool) as ei:
        client.lease("nosuchpool")
    assert ei.value.code == "NOPOOL" and isinstance(ei.value,
                                                    proxypool.ProxyPoolError)
    with pytest.raises(proxypool.Empty):
        client.lease("empty")
    t0 = time.monotonic()
    with pytest.raises(proxypool.Empty):
        client.lease("empty", wait=0.3)
    assert 0.25 <= time.monotonic() - t0 < 4
    with pytest.raises(proxypool.BadArg):
        client.lease("ten", ttl=-1)
    with pytest.raises(proxypool.BadArg):
        client.renew("ten", "xyz")
    with pytest.raises(proxypool.NotOwned):
        client.renew("ten", "0" * 32)
    with pytest.raises(proxypool.ProxyPoolError) as ei:
        client.execute("NOSUCHCOMMAND")
    assert ei.value.code == "ERR" and type(ei.value) is \
        proxypool.ProxyPoolError
    with pytest.raises(proxypool.ConnectionFailed):
        proxypool.Client("/nonexistent/pp.sock").ping()
    for code, cls in [("EMPTY", proxypool.Empty),
                      ("NOTOWNED", proxypool.NotOwned),
                      ("NOPOOL", proxypool.NoPool),
                      ("NOPROXY", proxypool.NoProxy),
                      ("BADARG", proxypool.BadArg),
                      ("TRYAGAIN", proxypool.TryAgain),
                      ("DENIED", proxypool.Denied)]:
        e = _proto.error_from_reply(code + " some text")
        assert type(e) is cls and e.code == code and \
            e.message == "some text"
        assert issubclass(cls, proxypool.ProxyPoolError)


def test_denied(servers):
    """An admin command from a peer that is not an admin: DENIED."""
    code = ("import proxypool, sys\n"
            "c = proxypool.Client(sys.argv[1])\n"
            "print(c.ping())\n"
            "try:\n"
            "    c.list('ten')\n"
            "except proxypool.Denied as e:\n"
            "    print('denied', e.code)\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP_SRCDIR,
                                                   "contrib/python"))
    if os.getuid() != 0:
        pytest.skip("not root (daemon_cli.sh checks DENIED unprivileged)")

    def nobody():
        os.setgid(65534)
        os.setuid(65534)
    out = subprocess.run([PYTHON3, "-c", code, servers.sock], env=env,
                         preexec_fn=nobody, capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.split() == ["PONG", "denied", "DENIED"], out.stderr


def test_wait_longer_than_timeout(servers):
    """A WAIT longer than the client's timeout is not cut short."""
    c = proxypool.Client(servers.sock, timeout=0.5)
    held = c.lease("one")
    threading.Timer(1.0, held.release).start()
    t0 = time.monotonic()
    got = c.lease("one", wait=5)
    assert 0.8 < time.monotonic() - t0 < 4 and got.proxy == held.proxy
    got.release()


# ---- the context manager ---------------------------------------------

def test_context_renews_past_ttl_and_releases_ok(client, servers):
    proxy = servers.tp["tp1"]
    with client.lease("one", ttl=1) as lease:
        first = lease.expires
        time.sleep(2.6)            # 2.6 TTLs: renewed every 1/3 s
        assert not lease.lost and lease.expires > first
        assert client.stats("one").leases == 1
        assert servers.item("one", proxy)["state"] == "leased"
        lease.latency_ms = 77
    assert lease.released
    assert client.stats("one").leases == 0
    it = servers.item("one", proxy)
    assert it["state"] == "free" and it["failures"] == 0
    assert float(it["latency"]) > 0


def test_context_releases_failed_on_exception(client, servers):
    proxy = servers.tp["tp1"]
    with pytest.raises(KeyError):
        with client.lease("one", ttl=5):
            raise KeyError("boom")
    assert client.stats("one").leases == 0
    assert servers.item("one", proxy)["failures"] == 1
    with client.lease("one") as lease:      # OK resets the failures
        pass
    assert servers.item("one", proxy)["failures"] == 0
    with pytest.raises(KeyError):
        with client.lease("one") as lease:  # the outcome set wins
            lease.ok()
            raise KeyError("not the proxy's fault")
    assert servers.item("one", proxy)["failures"] == 0
    with client.lease("one") as lease:
        lease.fail()
    assert servers.item("one", proxy)["failures"] == 1
    client.report("one", proxy, "OK")


def test_context_ban(client, servers):
    with client.lease("ban") as lease:
        lease.ban()
    assert servers.item("ban", lease.proxy)["state"] == "quarantined"
    with pytest.raises(proxypool.Empty):
        client.lease("ban")
    with pytest.raises(RuntimeError):
        with lease:
            pass
    client.remove("ban", lease.proxy)     # back in the pool, fresh
    client.add("ban", lease.proxy)


def test_context_lost_lease(client, servers):
    with pytest.raises(proxypool.NotOwned):
        with client.lease("ten", ttl=0.6) as lease:
            # taken back behind our back: the renewal finds out
            client.release("ten", lease.token)
            time.sleep(0.6)
            assert lease.lost
    assert client.stats("ten").leases == 0


def test_example_lease_py(servers):
    """contrib/examples/lease.py, rewritten on the package."""
    ex = os.path.join(TOP_SRCDIR, "contrib/examples/lease.py")
    out = subprocess.run([PYTHON3, ex, "-s", servers.sock, "one",
                          servers.target + "/ok"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "leased http://127.0.0.1:" in out.stdout
    assert "released OK" in out.stdout
