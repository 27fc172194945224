"""proxypool: the Python client of proxypoold, the proxy-pool lease daemon.

    import proxypool
    client = proxypool.Client()              # $PROXYPOOLD_SOCKET or the default
    with client.lease("web", ttl=30, wait=5) as lease:
        fetch(lease.proxy)                   # renewed in the background
        if refused:
            lease.ban()                      # released BANNED; else OK,
                                             # FAILED if the block raises

proxypool.aio.Client is the asyncio client (``async with``);
proxypool.requests.PoolAdapter leases per request for requests, and
proxypool.scrapy.ProxyPoolMiddleware per request for Scrapy.  Error
replies raise subclasses of ProxyPoolError named after their code word.
"""
from ._proto import (DEFAULT_SOCKET, DEFAULT_TIMEOUT, Busy, BadArg,
                     CheckResult, ConnectionFailed, Denied, Empty, LeaseInfo,
                     NoPool, NoProxy, NotOwned, PoolStats, ProxyInfo,
                     ProxyPoolError, TryAgain, redact, socket_path)
from .client import Client, Lease

__version__ = "0.1.0"

__all__ = ["Client", "Lease", "LeaseInfo", "PoolStats", "ProxyInfo",
           "CheckResult", "ProxyPoolError", "Empty", "NotOwned", "NoPool",
           "NoProxy", "BadArg", "TryAgain", "Denied", "Busy",
           "ConnectionFailed", "DEFAULT_SOCKET", "DEFAULT_TIMEOUT",
           "redact", "socket_path"]
