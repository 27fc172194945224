"""proxypool.aio.Client: the asyncio client of proxypoold (redis.asyncio),
with the API of proxypool.Client in coroutines, and ``async with``
leases renewed by a task.

    client = proxypool.aio.Client()
    async with client.lease("web", ttl=30, wait=5) as lease:
        await fetch(lease.proxy)
"""
import asyncio
import logging
from dataclasses import dataclass, field
from typing import (Any, AsyncIterator, Dict, Generator, List, Optional,
                    Tuple, Union)

import redis
import redis.asyncio
from redis.asyncio.connection import UnixDomainSocketConnection

from . import _proto as P
from ._proto import (CheckResult, ConnectionFailed, PoolStats, ProxyInfo,
                     ProxyPoolError)
from .client import LeaseBase, renew_interval

log = logging.getLogger("proxypool")

__all__ = ["Client", "AsyncLease"]


@dataclass(repr=False)
class AsyncLease(LeaseBase):
    """A lease of the asyncio client; ``async with`` renews it in a task
    every third of its TTL and releases it at the end of the block with
    the outcome (see LeaseBase)."""
    client: Optional["Client"] = field(default=None, compare=False)
    _stop: Optional[asyncio.Event] = field(default=None, compare=False)
    _task: Optional["asyncio.Task[None]"] = field(default=None,
                                                  compare=False)

    async def renew(self, ttl: Optional[float] = None) -> int:
        """Extend the lease (its own TTL by default); the new expiry."""
        assert self.client is not None
        self.expires = await self.client.renew(
            self.pool, self.token, ttl if ttl is not None else self.ttl)
        return self.expires

    async def release(self, outcome: Optional[str] = None,
                      latency_ms: Optional[float] = None) -> None:
        """Give the proxy back with an outcome and the latency seen."""
        assert self.client is not None
        await self._stop_renewing()
        if self.released:
            return
        self.released = True
        await self.client.release(self.pool, self.token, outcome,
                                  latency_ms)

    async def _renewer(self) -> None:
        assert self._stop is not None
        interval = renew_interval(self.ttl, self.expires)
        delay = interval
        while True:
            try:
                # only the wait is ever cancelled, never a call in flight
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await self.renew()
                delay = interval
            except P.NotOwned:
                log.warning("lease of %s in pool %s lost: renewal "
                            "answered NOTOWNED", P.redact(self.proxy),
                            self.pool)
                self.lost = True
                return
            except ProxyPoolError as e:
                log.warning("renewal of %s in pool %s failed: %s",
                            P.redact(self.proxy), self.pool, e)
                delay = min(interval, 1.0)

    def _start_renewing(self) -> None:
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.ensure_future(self._renewer())

    async def _stop_renewing(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            assert self._stop is not None
            self._stop.set()
            await task

    async def __aenter__(self) -> "AsyncLease":
        if self.released:
            raise RuntimeError("this lease was released")
        self._start_renewing()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self._stop_renewing()
        if self.released:
            return
        outcome = self._exit_outcome(exc_type is not None)
        if exc_type is None:
            await self.release(outcome, self.latency_ms)
            return
        try:
            await self.release(outcome, self.latency_ms)
        except ProxyPoolError as e:
            log.warning("release of %s in pool %s failed: %s",
                        P.redact(self.proxy), self.pool, e)


class _LeaseCall:
    """What Client.lease returns: awaitable (``lease = await
    client.lease(...)``) and an async context manager (``async with
    client.lease(...) as lease``)."""

    def __init__(self, client: "Client", cmd: P.Cmd, pool: str,
                 ttl: Optional[float]):
        self._client, self._cmd, self._pool, self._ttl = (client, cmd, pool,
                                                          ttl)
        self._lease: Optional[AsyncLease] = None

    async def _get(self) -> AsyncLease:
        i = await self._client._run(self._cmd)
        return AsyncLease(client=self._client, pool=self._pool,
                          ttl=self._ttl, **vars(i))

    def __await__(self) -> Generator[Any, None, AsyncLease]:
        return self._get().__await__()

    async def __aenter__(self) -> AsyncLease:
        self._lease = await self._get()
        return await self._lease.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._lease is not None
        await self._lease.__aexit__(exc_type, exc, tb)


class Client:
    """An asyncio client of proxypoold; the methods of proxypool.Client as
    coroutines.  ``socket`` as there ($PROXYPOOLD_SOCKET, else
    /run/proxypoold/proxypoold.sock); ``timeout`` bounds each answer on top of its
    WAIT.  Safe for any number of tasks of one event loop: each call takes
    a connection of its own from a pool."""

    def __init__(self, socket: Optional[str] = None,
                 timeout: float = P.DEFAULT_TIMEOUT,
                 max_connections: Optional[int] = None):
        self.socket = P.socket_path(socket)
        self.timeout = timeout
        self._pool = redis.asyncio.ConnectionPool(
            connection_class=UnixDomainSocketConnection, path=self.socket,
            socket_timeout=timeout, decode_responses=True,
            max_connections=max_connections)

    def __repr__(self) -> str:
        return "proxypool.aio.Client(%r)" % self.socket

    async def close(self) -> None:
        """Close the connections."""
        await self._pool.disconnect()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def execute(self, *args: Any, wait: float = 0.0) -> Any:
        """Send one command; its raw reply (see proxypool.Client.execute).
        A cancelled call closes its connection, so no answer is ever read
        by another call."""
        try:
            conn = await self._pool.get_connection(str(args[0]))
        except (redis.RedisError, OSError) as e:
            raise ConnectionFailed("%s: %s" % (self.socket, e)) from e
        try:
            await conn.send_command(*args)
            if wait and not await conn.can_read(timeout=wait + self.timeout):
                raise redis.TimeoutError("no answer within %gs"
                                         % (wait + self.timeout))
            return await conn.read_response()
        except redis.ResponseError as e:
            raise P.error_from_reply(str(e)) from None
        except (redis.RedisError, OSError) as e:
            await conn.disconnect()
            raise ConnectionFailed("%s: %s" % (self.socket, e)) from e
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await self._pool.release(conn)

    async def _run(self, cmd: P.Cmd) -> Any:
        return cmd.decode(await self.execute(*cmd.args, wait=cmd.wait))

    # ---- user commands -------------------------------------------
    def lease(self, pool: str, ttl: Optional[float] = None,
              name: Optional[str] = None, wait: Optional[float] = None,
              shared: Optional[bool] = None) -> _LeaseCall:
        """LEASE (see proxypool.Client.lease): ``await`` it for an
        AsyncLease, or ``async with`` it to renew and release around a
        block."""
        return _LeaseCall(self, P.lease(pool, ttl, name, wait, shared), pool,
                          ttl)

    async def renew(self, pool: str, token: str,
                    ttl: Optional[float] = None) -> int:
        """RENEW; the new expiry (ms)."""
        return await self._run(P.renew(pool, token, ttl))

    async def release(self, pool: str, token: str,
                      outcome: Optional[str] = None,
                      latency_ms: Optional[float] = None) -> None:
        """RELEASE with an outcome and latency."""
        await self._run(P.release(pool, token, outcome, latency_ms))

    async def report(self, pool: str, proxy: str, outcome: str,
                     latency_ms: Optional[float] = None) -> None:
        """REPORT an outcome without a lease."""
        await self._run(P.report(pool, proxy, outcome, latency_ms))

    async def bind(self, pool: str, name: str, proxy: str,
                   ttl: Optional[float] = None) -> None:
        """BIND a name to a proxy."""
        await self._run(P.bind(pool, name, proxy, ttl))

    async def unbind(self, pool: str, name: str) -> bool:
        """UNBIND; True if a binding was removed."""
        return await self._run(P.unbind(pool, name))

    async def binding(self, pool: str, name: str) -> Optional[str]:
        """The proxy bound to a name, or None."""
        return await self._run(P.binding(pool, name))

    async def bindings(self, pool: str, proxy: str) -> List[str]:
        """The names bound to a proxy."""
        return await self._run(P.bindings(pool, proxy))

    async def ping(self, message: Optional[str] = None) -> str:
        """PING."""
        return await self._run(P.ping(message))

    async def lock(self, name: str, owner: str, ttl: float,
                   wait: Optional[float] = None) -> int:
        """LOCK; the fence, Busy when held elsewhere."""
        return await self._run(P.lock(name, owner, ttl, wait))

    async def unlock(self, name: str, owner: str) -> None:
        """UNLOCK."""
        await self._run(P.unlock(name, owner))

    async def pools(self) -> List[str]:
        """The pool names."""
        return await self._run(P.pools())

    async def stats(self, pool: Optional[str] = None
                    ) -> Union[PoolStats, List[PoolStats]]:
        """STATS of a pool, or of every pool."""
        return await self._run(P.stats(pool))

    async def info(self) -> Dict[str, Dict[str, Any]]:
        """INFO as {section: {key: value}}."""
        return await self._run(P.info())

    # ---- admin commands --------------------------------------------
    async def list_page(self, pool: str, cursor: str = "0",
                        state: Optional[str] = None,
                        count: Optional[int] = None
                        ) -> Tuple[str, List[ProxyInfo]]:
        """One LIST page: (next cursor, items)."""
        return await self._run(P.list_page(pool, cursor, state, count))

    async def iter_list(self, pool: str, state: Optional[str] = None,
                        count: int = 1000) -> AsyncIterator[ProxyInfo]:
        """Every proxy of a pool, following LIST's cursor."""
        cursor = "0"
        while True:
            cursor, items = await self.list_page(pool, cursor, state, count)
            for i in items:
                yield i
            if cursor == "0":
                return

    async def list(self, pool: str,
                   state: Optional[str] = None) -> List[ProxyInfo]:
        """Every proxy of a pool, in a list."""
        return [i async for i in self.iter_list(pool, state)]

    async def add(self, pool: str, url: str, priority: Optional[int] = None,
                  expires: Optional[float] = None) -> None:
        """ADD a proxy."""
        await self._run(P.add(pool, url, priority, expires))

    async def remove(self, pool: str, url: str) -> bool:
        """REMOVE a proxy; False if absent."""
        return await self._run(P.remove(pool, url))

    async def check(self, pool: str, url: str) -> CheckResult:
        """Run the pool's check on a proxy now."""
        return await self._run(P.check(pool, url))

    async def gc(self, pool: str) -> Dict[str, int]:
        """Collect expired state now."""
        return await self._run(P.gc(pool))

    async def reload(self) -> None:
        """RELOAD the configuration."""
        await self._run(P.reload())

    async def metrics(self) -> str:
        """METRICS: Prometheus text."""
        return await self._run(P.metrics())
