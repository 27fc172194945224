"""proxypool.scrapy: a real Scrapy crawl of a local site of 50 pages with
ProxyPoolMiddleware, with Scrapy's asyncio reactor (proxypool.aio) and
with the default one (the blocking client in threads).  The pool holds
two good tinyproxy upstreams, one the site bans (403), one dead proxy
and one SOCKS proxy: every page is fetched through a good pool proxy,
the dead one is ejected by the FAILED outcomes, the banned one
quarantined, the SOCKS one skipped, and no lease is left at the end."""
import json
import os
import subprocess

import pytest

import proxypool

from conftest import HERE, PYTHON3, TOP_SRCDIR

PAGES = 50


@pytest.mark.parametrize("reactor", ["asyncio", "default"])
def test_crawl(servers, reactor, tmp_path):
    pool = "scrapy_aio" if reactor == "asyncio" else "scrapy_thr"
    c = proxypool.Client(servers.sock, timeout=5)
    servers.target_reset()
    out = tmp_path / "out.json"
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP_SRCDIR,
                                                   "contrib/python"))
    p = subprocess.run(
        [PYTHON3, os.path.join(HERE, "crawl.py"), servers.sock, pool,
         servers.target + "/site/%d/0" % PAGES, str(out), reactor],
        env=env, capture_output=True, text=True, timeout=120)
    log = p.stderr
    assert p.returncode == 0, log[-3000:]
    res = json.loads(out.read_text())
    want = "AsyncioSelectorReactor" if reactor == "asyncio" else None
    if want:
        assert res["reactor"] == want
    else:
        assert res["reactor"] != "AsyncioSelectorReactor"
    assert ("(%s)" % ("asyncio" if reactor == "asyncio" else "threads")) \
        in log

    pages = res["pages"]
    urls = {pg["url"] for pg in pages}
    assert urls == {servers.target + "/site/%d/%d" % (PAGES, n)
                    for n in range(PAGES)}
    assert all(pg["status"] == 200 for pg in pages)
    good = {servers.tp["tp1"], servers.tp["tp2"]}
    assert all(pg["proxy"] in good for pg in pages)

    # the target saw every request come through a pool proxy
    st = servers.target_stats()
    assert st["by_proxy"].get("-", 0) == 0
    assert st["by_proxy"].get("tp1", 0) + st["by_proxy"].get("tp2", 0) \
        >= PAGES
    assert st["by_proxy"].get("banned", 0) >= 1

    # leases back to zero, the dead and the banned proxy out of rotation
    assert c.stats(pool).leases == 0
    dead = servers.item(pool, servers.dead)
    assert dead["state"] == "quarantined", dead
    assert servers.item(pool, servers.tp["banned"])["state"] == "quarantined"
    stats = res["stats"]
    assert stats["proxypool/leases"] >= PAGES + 2
    assert stats["proxypool/ok"] == PAGES
    assert stats["proxypool/bans"] >= 1
    assert stats["proxypool/failures"] >= 2
    assert stats["proxypool/retries"] >= 3
    assert stats["proxypool/skipped_socks"] >= 1
    assert "proxypool/unreleased" not in stats
    assert "skipping SOCKS proxy socks5://u:***@127.0.0.1:" in log
    assert "pw@" not in log                   # the password never shows
