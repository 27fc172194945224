"""proxypool.requests: 100 requests through tinyproxy leased per request,
outcomes and latency in the daemon's LIST and STATS, a 403 banning and a
dead proxy failing."""
import pytest
import requests

import proxypool
import proxypool.requests


def test_100_requests(servers):
    c = proxypool.Client(servers.sock, timeout=5)
    releases0 = c.info()["Stats"]["releases"]
    servers.target_reset()
    s = proxypool.requests.PoolSession("req", client=c, wait=5)
    seen = {}
    for i in range(100):
        r = s.get(servers.target + "/ok/%d" % i, timeout=10)
        assert r.status_code == 200 and r.text == "ok\n"
        assert r.proxypool_outcome == "OK"
        seen[r.proxypool_proxy] = seen.get(r.proxypool_proxy, 0) + 1
    assert set(seen) == {servers.tp["tp1"], servers.tp["tp2"]}
    st = servers.target_stats()
    # every request went through a pool proxy: tagged by its tinyproxy
    assert st["by_proxy"].get("-", 0) == 0
    assert st["by_proxy"].get("tp1", 0) + st["by_proxy"].get("tp2", 0) \
        == 100
    assert c.stats("req").leases == 0
    assert c.info()["Stats"]["releases"] - releases0 >= 100
    for p in ("tp1", "tp2"):
        it = servers.item("req", servers.tp[p])
        assert it["state"] == "free" and it["failures"] == 0
        assert float(it["latency"]) > 0       # the latencies reached it


def test_403_bans(servers):
    c = proxypool.Client(servers.sock, timeout=5)
    a = proxypool.requests.PoolAdapter("ban", client=c, wait=None)
    s = requests.Session()
    s.mount("http://", a)
    r = s.get(servers.target + "/status/403", timeout=10)
    assert r.status_code == 403 and r.proxypool_outcome == "BANNED"
    assert servers.item("ban", servers.tp["tp2"])["state"] == "quarantined"
    assert c.stats("ban").quarantined == 1
    with pytest.raises(proxypool.Empty):
        s.get(servers.target + "/ok", timeout=10)
    c.remove("ban", servers.tp["tp2"])
    c.add("ban", servers.tp["tp2"])


def test_ban_statuses_and_outcome(servers):
    c = proxypool.Client(servers.sock, timeout=5)
    s = proxypool.requests.PoolSession("req", client=c, ban_statuses={418})
    r = s.get(servers.target + "/status/429", timeout=10)
    assert r.status_code == 429 and r.proxypool_outcome == "OK"
    s = proxypool.requests.PoolSession(
        "req", client=c, outcome=lambda resp: "FAILED"
        if resp.status_code >= 500 else "OK")
    r = s.get(servers.target + "/status/503", timeout=10)
    assert r.proxypool_outcome == "FAILED"
    s.get(servers.target + "/ok", timeout=10)
    for p in ("tp1", "tp2"):
        c.report("req", servers.tp[p], "OK")


def test_exception_fails(servers):
    c = proxypool.Client(servers.sock, timeout=5)
    s = proxypool.requests.PoolSession("dead", client=c)
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get(servers.target + "/ok", timeout=5)
    it = servers.item("dead", servers.dead)
    assert it["state"] == "quarantined", it
    assert c.stats("dead").leases == 0
