"""proxypool.requests: a requests transport adapter that leases a proxy
of a pool for every request and releases it with the outcome.

    import requests, proxypool.requests
    s = requests.Session()
    adapter = proxypool.requests.PoolAdapter(pool="web")
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.get("http://example.test/")    # through a leased proxy

or ``proxypool.requests.PoolSession(pool="web")``, which mounts it.  The
proxy is released BANNED when the status is one of ``ban_statuses``
(default 403 and 429), FAILED when the request raises (connection
refused, reset, timeout through the proxy), else OK, always with the
time to the response's head in ms.  ``response.proxypool_proxy`` names
the proxy used (password redacted)."""
import logging
import time
from typing import Any, Callable, Collection, Mapping, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import _proto as P
from .client import Client

__all__ = ["PoolAdapter", "PoolSession", "DEFAULT_BAN_STATUSES"]

DEFAULT_BAN_STATUSES = frozenset({403, 429})

log = logging.getLogger("proxypool")


class PoolAdapter(HTTPAdapter):
    """An HTTPAdapter whose every request goes through a proxy leased from
    ``pool`` (any ``proxies`` the session gives are ignored).

    ``client``: a proxypool.Client (default: one on ``socket``, else
    $PROXYPOOLD_SOCKET, else the default socket); ``ttl``: the lease's
    TTL, which must cover the request (default 60 s); ``wait``: seconds to
    queue for a free proxy (default 10; proxypool.Empty when none frees
    up); ``name``: a binding name, so the requests of this adapter prefer
    one proxy (a sticky session); ``ban_statuses``: statuses released
    BANNED; ``outcome``: a function (response) -> "OK"/"FAILED"/"BANNED"
    that overrides the status rule.  Other arguments go to HTTPAdapter."""

    def __init__(self, pool: str, client: Optional[Client] = None,
                 socket: Optional[str] = None, ttl: float = 60.0,
                 wait: Optional[float] = 10.0, name: Optional[str] = None,
                 ban_statuses: Collection[int] = DEFAULT_BAN_STATUSES,
                 outcome: Optional[Callable[[requests.Response], str]] = None,
                 **kwargs: Any):
        # a proxy may close a kept-alive connection just as it is used
        # again ("Remote end closed connection without response"): an
        # idempotent request goes again, on a new connection to the same
        # leased proxy, before it counts as the proxy's failure
        kwargs.setdefault("max_retries", Retry(
            total=2, connect=2, read=1, redirect=0, status=0,
            raise_on_status=False))
        super().__init__(**kwargs)
        self.pool = pool
        self.client = client or Client(socket)
        self.ttl = ttl
        self.wait = wait
        self.name = name
        self.ban_statuses = frozenset(ban_statuses)
        self._outcome = outcome

    def outcome_of(self, response: requests.Response) -> str:
        """The outcome of a response: BANNED for a ban status, else OK."""
        if self._outcome is not None:
            return self._outcome(response)
        return "BANNED" if response.status_code in self.ban_statuses \
            else "OK"

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Optional[Mapping[str, str]] = None
             ) -> requests.Response:
        lease = self.client.lease(self.pool, ttl=self.ttl, name=self.name,
                                  wait=self.wait)
        t0 = time.monotonic()
        try:
            resp = super().send(request, stream=stream, timeout=timeout,
                                verify=verify, cert=cert,
                                proxies={"http": lease.proxy,
                                         "https": lease.proxy})
        except BaseException:
            self._release(lease, "FAILED", (time.monotonic() - t0) * 1000)
            raise
        ms = (time.monotonic() - t0) * 1000
        try:
            outcome = P.outcome_word(self.outcome_of(resp))
        except BaseException:
            self._release(lease, "FAILED", ms)
            raise
        self._release(lease, outcome, ms)
        resp.proxypool_proxy = P.redact(lease.proxy)  # type: ignore
        resp.proxypool_outcome = outcome  # type: ignore
        return resp

    @staticmethod
    def _release(lease: Any, outcome: Optional[str], ms: float) -> None:
        # a release that fails (the lease expired: NOTOWNED) loses only
        # the feedback, never the response or the request's own error
        try:
            lease.release(outcome, ms)
        except P.ProxyPoolError as e:
            log.warning("release of %s in pool %s failed: %s",
                        P.redact(lease.proxy), lease.pool, e)


class PoolSession(requests.Session):
    """A requests.Session with a PoolAdapter mounted for http:// and
    https:// (arguments as PoolAdapter's).  It ignores the environment's
    proxy settings."""

    def __init__(self, pool: str, **kwargs: Any):
        super().__init__()
        self.trust_env = False
        self.adapter = PoolAdapter(pool, **kwargs)
        self.mount("http://", self.adapter)
        self.mount("https://", self.adapter)
