"""proxypool.aio: the same API in coroutines, ``async with`` leases renewed
by a task, and 50 concurrent tasks never granted one proxy at once."""
import asyncio
import time

import pytest

import proxypool
import proxypool.aio


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_methods(servers):
    async def main():
        async with proxypool.aio.Client(servers.sock, timeout=5) as c:
            assert await c.ping() == "PONG"
            assert "ten" in await c.pools()
            assert (await c.stats("ten")).total == 10
            assert (await c.info())["Clients"]["admin"] == 1
            lease = await c.lease("ten", ttl=5, name="a1")
            assert isinstance(lease, proxypool.aio.AsyncLease)
            assert await c.binding("ten", "a1") == lease.proxy
            assert await c.bindings("ten", lease.proxy) == ["a1"]
            assert await lease.renew(10) > lease.expires - 10000
            await lease.release("OK", 4)
            with pytest.raises(proxypool.NotOwned):
                await c.renew("ten", lease.token)
            assert await c.unbind("ten", "a1") is True
            await c.bind("ten", "a2", lease.proxy)
            await c.report("ten", lease.proxy, "OK", 2)
            assert await c.unbind("ten", "a2") is True
            assert len(await c.list("ten")) == 10
            cur, page = await c.list_page("ten", count=5)
            assert isinstance(cur, str) and page
            await c.add("ten", "http://127.0.0.1:30001")
            assert await c.remove("ten", "http://127.0.0.1:30001")
            assert set(await c.gc("ten")) == {"leases", "bindings", "items",
                                              "quarantine"}
            fence = await c.lock("AL", "me", 5)
            with pytest.raises(proxypool.Busy):
                await c.lock("AL", "you", 5, wait=0.2)
            await c.unlock("AL", "me")
            assert isinstance(fence, int)
            with pytest.raises(proxypool.NoPool):
                await c.lease("nosuchpool")
            with pytest.raises(proxypool.Empty):
                await c.lease("empty", wait=0.2)
            assert "proxypoold_" in await c.metrics()
            with pytest.raises(proxypool.ProxyPoolError, match="no checks"):
                await c.check("ten", "http://127.0.0.1:21000")
        with pytest.raises(proxypool.ConnectionFailed):
            await proxypool.aio.Client("/nonexistent.sock").ping()
    run(main())


def test_async_with_renews_and_releases(servers):
    proxy = servers.tp["tp1"]

    async def main():
        c = proxypool.aio.Client(servers.sock, timeout=5)
        async with c.lease("one", ttl=1) as lease:
            first = lease.expires
            await asyncio.sleep(2.6)
            assert not lease.lost and lease.expires > first
            assert (await c.stats("one")).leases == 1
            lease.latency_ms = 30
        assert (await c.stats("one")).leases == 0
        assert servers.item("one", proxy)["failures"] == 0
        with pytest.raises(ZeroDivisionError):
            async with c.lease("one"):
                1 / 0
        assert servers.item("one", proxy)["failures"] == 1
        lease = await c.lease("one")
        async with lease:
            lease.ok()
        assert servers.item("one", proxy)["failures"] == 0
        await c.close()
    run(main())


def test_50_tasks_no_double_grant(servers):
    grants = []

    async def worker(c, n, stop_at):
        while time.monotonic() < stop_at:
            async with c.lease("ten", ttl=10, wait=5) as lease:
                t_got = time.monotonic()
                await asyncio.sleep(0.001 * (n % 4))
                grants.append((lease.proxy, lease.fence, t_got,
                               time.monotonic()))

    async def main():
        c = proxypool.aio.Client(servers.sock, timeout=5)
        stop_at = time.monotonic() + 3.0
        await asyncio.gather(*(worker(c, n, stop_at) for n in range(50)))
        st = await c.stats("ten")
        await c.close()
        return st
    st = run(main())
    assert st.leases == 0
    assert len(grants) > 200
    fences = [g[1] for g in grants]
    assert len(set(fences)) == len(fences)
    by_proxy = {}
    for proxy, _, t0, t1 in grants:
        by_proxy.setdefault(proxy, []).append((t0, t1))
    assert len(by_proxy) == 10
    for spans in by_proxy.values():
        spans.sort()
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert b0 >= a1, "one proxy held by two tasks at once"
