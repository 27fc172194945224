"""proxypool.scrapy: a Scrapy downloader middleware that leases a proxy of
a proxypoold pool for every request and releases it with the outcome.

settings.py::

    DOWNLOADER_MIDDLEWARES = {"proxypool.scrapy.ProxyPoolMiddleware": 610}
    PROXYPOOL_POOL = "web"

Settings (all but PROXYPOOL_POOL optional):

- ``PROXYPOOL_POOL``: the pool (the middleware is off without it).
- ``PROXYPOOL_SOCKET``: the daemon's socket (default $PROXYPOOLD_SOCKET,
  else /run/proxypoold/proxypoold.sock).
- ``PROXYPOOL_BAN_STATUSES``: response statuses released BANNED (default
  403, 429).
- ``PROXYPOOL_WAIT``: seconds a request queues for a free proxy (default
  30); past it the request is dropped (IgnoreRequest, stat
  ``proxypool/empty``).
- ``PROXYPOOL_LEASE_TTL``: the lease's TTL (default DOWNLOAD_TIMEOUT +
  15 s: a lease outlives its download, and one left by a crash returns
  by itself).
- ``PROXYPOOL_RETRY_TIMES``: how many times a request that was banned or
  failed is sent again through another proxy (default 5); then it goes
  on to the other middlewares (RetryMiddleware, the errback).
- ``PROXYPOOL_MAX_SKIPS``: SOCKS proxies skipped per request before it is
  dropped (default 10): Scrapy cannot use SOCKS proxies, so a SOCKS lease
  is logged, given back without an outcome and another one leased.
- ``PROXYPOOL_SESSION_SHARED``: lease the proxies of sessions (below)
  SHARED (default False).
- ``PROXYPOOL_TIMEOUT``: seconds an answer of the daemon may take on top
  of the WAIT (default 10).

``request.meta["proxypool_session"] = "acct-7"`` leases with
``NAME acct-7``: the proxy bound to that name when it is free and
healthy, else another one that the name is then bound to.
``request.meta["proxypool"] = False`` sends a request without the pool,
and a request whose ``meta["proxy"]`` was set elsewhere is left alone.

Outcomes: a response is BANNED when ``response_is_ban(request,
response)`` says so (its status is in PROXYPOOL_BAN_STATUSES), else OK;
an exception is BANNED when ``exception_is_ban(request, exception)``
is true (never, by default), else FAILED; each with the download
latency.  Define these methods on the spider, or on a subclass of the
middleware, to decide otherwise (as with scrapy-rotating-proxies).

Asyncio-safe: with Scrapy's asyncio reactor (TWISTED_REACTOR =
"twisted.internet.asyncioreactor.AsyncioSelectorReactor") it uses
proxypool.aio; with another reactor the blocking client runs in a
thread pool of its own.  Nothing blocks the reactor either way.

Stats: ``proxypool/leases``, ``proxypool/ok``, ``proxypool/bans``,
``proxypool/failures``, ``proxypool/retries``,
``proxypool/retries_exhausted``, ``proxypool/skipped_socks``,
``proxypool/empty``, ``proxypool/errors``, ``proxypool/unreleased``
(leases still held when the spider closed, released then)."""
import logging
import time
from typing import Any, Dict, Optional, Set

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.reactor import is_asyncio_reactor_installed

from . import _proto as P

__all__ = ["ProxyPoolMiddleware"]

log = logging.getLogger("proxypool.scrapy")

_TOKEN = "_proxypool_token"
_PROXY = "_proxypool_proxy"
_T0 = "_proxypool_t0"
_RETRIES = "proxypool_retries"


def is_socks(proxy: str) -> bool:
    """Whether a proxy URL is a SOCKS one (which Scrapy cannot use)."""
    return proxy.lower().startswith("socks")


class ProxyPoolMiddleware:
    """Leases a proxy per request (see the module's documentation)."""

    def __init__(self, crawler: Any):
        s = crawler.settings
        self.pool: str = s.get("PROXYPOOL_POOL") or ""
        if not self.pool:
            raise NotConfigured("PROXYPOOL_POOL is not set")
        self.crawler = crawler
        self.stats = crawler.stats
        self.socket: Optional[str] = s.get("PROXYPOOL_SOCKET")
        self.ban_statuses: Set[int] = {
            int(x) for x in s.getlist("PROXYPOOL_BAN_STATUSES", [403, 429])}
        self.wait: float = s.getfloat("PROXYPOOL_WAIT", 30.0)
        self.ttl: float = s.getfloat(
            "PROXYPOOL_LEASE_TTL", s.getfloat("DOWNLOAD_TIMEOUT", 180) + 15)
        self.retry_times: int = s.getint("PROXYPOOL_RETRY_TIMES", 5)
        self.max_skips: int = s.getint("PROXYPOOL_MAX_SKIPS", 10)
        self.session_shared: bool = s.getbool("PROXYPOOL_SESSION_SHARED",
                                              False)
        self.timeout: float = s.getfloat("PROXYPOOL_TIMEOUT",
                                         P.DEFAULT_TIMEOUT)
        self.threads: int = s.getint("CONCURRENT_REQUESTS", 16) + 4
        self._aio: Optional[bool] = None
        self._client: Any = None
        self._threadpool: Any = None
        self._held: Dict[str, str] = {}      # token -> proxy
        self._socks_logged: Set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> "ProxyPoolMiddleware":
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    # ---- the client: proxypool.aio, or the blocking one in threads ----
    def _setup(self) -> None:
        if self._aio is not None:
            return
        self._aio = is_asyncio_reactor_installed()
        if self._aio:
            from .aio import Client as AioClient
            self._client = AioClient(self.socket, timeout=self.timeout)
        else:
            from twisted.internet import reactor
            from twisted.python.threadpool import ThreadPool
            from .client import Client
            self._client = Client(self.socket, timeout=self.timeout)
            self._threadpool = ThreadPool(1, self.threads, "proxypool")
            self._threadpool.start()
            reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
                "during", "shutdown", self._threadpool.stop)
        log.info("proxypool: pool %s on %s (%s)", self.pool,
                 self._client.socket,
                 "asyncio" if self._aio else "threads")

    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        self._setup()
        fn = getattr(self._client, method)
        if self._aio:
            return await fn(*args, **kw)
        from twisted.internet import reactor, threads
        return await threads.deferToThreadPool(
            reactor, self._threadpool, fn, *args, **kw)

    async def _release(self, token: str, outcome: Optional[str],
                       latency_ms: Optional[float]) -> None:
        self._held.pop(token, None)
        try:
            await self._call("release", self.pool, token, outcome,
                             latency_ms)
        except P.ProxyPoolError as e:
            self.stats.inc_value("proxypool/errors")
            log.warning("proxypool: release in pool %s failed: %s",
                        self.pool, e)

    # ---- outcomes -------------------------------------------------
    def response_is_ban(self, request: Request, response: Response) -> bool:
        """Whether a response means the site banned the proxy: its status
        is in PROXYPOOL_BAN_STATUSES."""
        return response.status in self.ban_statuses

    def exception_is_ban(self, request: Request, exception: Any) -> bool:
        """Whether an exception means a ban (else the proxy FAILED):
        never, by default."""
        return False

    def _policy(self, spider: Any, name: str) -> Any:
        f = getattr(spider, name, None)
        return f if callable(f) else getattr(self, name)

    # ---- downloader middleware ----------------------------------------
    async def process_request(self, request: Request, spider: Any) -> None:
        meta = request.meta
        if meta.get("proxypool") is False:
            return None
        if "proxy" in meta and meta["proxy"] != meta.get(_PROXY):
            return None               # a proxy chosen by someone else
        if meta.get(_TOKEN):          # already leased (should not happen)
            return None
        name = meta.get("proxypool_session")
        shared = True if name is not None and self.session_shared else None
        lease: Any = None
        skipped = []
        try:
            for _ in range(self.max_skips + 1):
                lease = await self._call("lease", self.pool, ttl=self.ttl,
                                         name=name, wait=self.wait,
                                         shared=shared)
                if not is_socks(lease.proxy):
                    break
                self._held[lease.token] = lease.proxy
                skipped.append(lease.token)
                self._skip_log(lease.proxy)
                lease = None
        except P.Empty as e:
            self.stats.inc_value("proxypool/empty")
            raise IgnoreRequest("proxypool: no proxy free in pool %s "
                                "within %gs: %s" % (self.pool, self.wait,
                                                    e)) from None
        except P.ProxyPoolError as e:
            self.stats.inc_value("proxypool/errors")
            raise IgnoreRequest("proxypool: cannot lease from pool %s: %s"
                                % (self.pool, e)) from None
        finally:
            for token in skipped:     # held until now: leased only once
                await self._release(token, None, None)
        if lease is None:
            raise IgnoreRequest("proxypool: only SOCKS proxies in pool %s "
                                "after %d leases; Scrapy cannot use them"
                                % (self.pool, self.max_skips + 1))
        self._held[lease.token] = lease.proxy
        self.stats.inc_value("proxypool/leases")
        meta["proxy"] = lease.proxy
        meta[_PROXY] = lease.proxy
        meta[_TOKEN] = lease.token
        meta[_T0] = time.monotonic()
        return None

    def _skip_log(self, proxy: str) -> None:
        self.stats.inc_value("proxypool/skipped_socks")
        lvl = logging.DEBUG if proxy in self._socks_logged else logging.WARNING
        self._socks_logged.add(proxy)
        log.log(lvl, "proxypool: skipping SOCKS proxy %s of pool %s: Scrapy "
                "cannot use SOCKS proxies (use proxypoold's gateway, or keep "
                "them in another pool); leasing another one",
                P.redact(proxy), self.pool)

    def _latency_ms(self, request: Request) -> Optional[float]:
        lat = request.meta.get("download_latency")
        if lat is not None:
            return float(lat) * 1000
        t0 = request.meta.get(_T0)
        return (time.monotonic() - t0) * 1000 if t0 is not None else None

    async def process_response(self, request: Request, response: Response,
                               spider: Any) -> Any:
        token = request.meta.pop(_TOKEN, None)
        if token is None:
            return response
        ban = bool(self._policy(spider, "response_is_ban")(request,
                                                           response))
        await self._release(token, "BANNED" if ban else "OK",
                            self._latency_ms(request))
        if not ban:
            self.stats.inc_value("proxypool/ok")
            return response
        self.stats.inc_value("proxypool/bans")
        log.debug("proxypool: %s banned %s (status %d)", request.url,
                  P.redact(request.meta.get(_PROXY, "")), response.status)
        return self._retry(request, "ban") or response

    async def process_exception(self, request: Request, exception: Any,
                                spider: Any) -> Any:
        token = request.meta.pop(_TOKEN, None)
        if token is None:
            return None
        if isinstance(exception, IgnoreRequest):
            # dropped by a later middleware: not the proxy's doing
            await self._release(token, None, None)
            return None
        ban = bool(self._policy(spider, "exception_is_ban")(request,
                                                            exception))
        await self._release(token, "BANNED" if ban else "FAILED",
                            self._latency_ms(request))
        self.stats.inc_value("proxypool/bans" if ban
                             else "proxypool/failures")
        log.debug("proxypool: %s through %s: %s", request.url,
                  P.redact(request.meta.get(_PROXY, "")), exception)
        return self._retry(request, "ban" if ban else "failure")

    def _retry(self, request: Request, why: str) -> Optional[Request]:
        n = int(request.meta.get(_RETRIES, 0))
        if n >= self.retry_times:
            self.stats.inc_value("proxypool/retries_exhausted")
            log.info("proxypool: gave up %s after %d proxies (%s)",
                     request.url, n + 1, why)
            return None
        new = request.replace(dont_filter=True)
        new.meta.pop("proxy", None)
        for k in (_PROXY, _T0, "download_latency"):
            new.meta.pop(k, None)
        new.meta[_RETRIES] = n + 1
        self.stats.inc_value("proxypool/retries")
        return new

    def spider_closed(self, spider: Any) -> Any:
        """Release what is still held, close the client."""
        return deferred_from_coro(self._close())

    async def _close(self) -> None:
        if self._held:
            self.stats.set_value("proxypool/unreleased", len(self._held))
        for token in list(self._held):
            await self._release(token, None, None)
        if self._client is not None and self._aio:
            await self._client.close()
        elif self._client is not None:
            self._client.close()
