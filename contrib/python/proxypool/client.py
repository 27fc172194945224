"""proxypool.Client: the blocking client of proxypoold (redis-py over the
daemon's UNIX socket), and its Lease."""
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import redis
from redis.connection import UnixDomainSocketConnection

from . import _proto as P
from ._proto import (CheckResult, ConnectionFailed, LeaseInfo, PoolStats,
                     ProxyInfo, ProxyPoolError)

log = logging.getLogger("proxypool")


def renew_interval(ttl: Optional[float], expires_ms: int) -> float:
    """Seconds between renewals: a third of the TTL (of the time the lease
    has left, by the local clock, when the TTL is the pool's)."""
    if ttl is None:
        ttl = max(0.3, expires_ms / 1000.0 - time.time())
    return max(0.05, ttl / 3.0)


@dataclass(repr=False)
class LeaseBase(LeaseInfo):
    """A lease and the outcome it will be released with.

    ``outcome`` is None until ban(), fail() or ok() sets it; a lease used
    as a context manager is then released with OK when the block ends
    normally and FAILED when it raises.  ``latency_ms``, when set, is sent
    with the release.  ``lost`` becomes true when a background renewal
    finds the lease gone (expired, or taken back); using the proxy any
    longer is then unsafe."""
    pool: str = ""
    ttl: Optional[float] = None
    outcome: Optional[str] = None
    latency_ms: Optional[float] = None
    lost: bool = False
    released: bool = False

    def ban(self) -> None:
        """Release with BANNED: the site refused this proxy."""
        self.outcome = "BANNED"

    def fail(self) -> None:
        """Release with FAILED: the proxy did not work."""
        self.outcome = "FAILED"

    def ok(self) -> None:
        """Release with OK, even if the block raises."""
        self.outcome = "OK"

    def _exit_outcome(self, failed: bool) -> str:
        if self.outcome is not None:
            return self.outcome
        return "FAILED" if failed else "OK"

    def __repr__(self) -> str:
        return ("%s(pool=%r, proxy=%r, fence=%d, expires=%d, shared=%s, "
                "bound=%s)" % (type(self).__name__, self.pool,
                               P.redact(self.proxy), self.fence,
                               self.expires, self.shared, self.bound))


@dataclass(repr=False)
class Lease(LeaseBase):
    """A lease of the blocking client.  ``with client.lease(...) as l``
    renews it in a background thread every third of its TTL and releases
    it at the end of the block (see LeaseBase for the outcome)."""
    client: Optional["Client"] = field(default=None, compare=False)
    _stop: Optional[threading.Event] = field(default=None, compare=False)
    _thread: Optional[threading.Thread] = field(default=None,
                                                compare=False)

    def renew(self, ttl: Optional[float] = None) -> int:
        """Extend the lease by ttl seconds (its own TTL by default, else
        the pool's); returns the new expiry (ms, Redis clock)."""
        assert self.client is not None
        self.expires = self.client.renew(
            self.pool, self.token, ttl if ttl is not None else self.ttl)
        return self.expires

    def release(self, outcome: Optional[str] = None,
                latency_ms: Optional[float] = None) -> None:
        """Give the proxy back with an outcome (OK, FAILED, BANNED, or None
        for no feedback) and the latency seen."""
        assert self.client is not None
        self._stop_renewing()
        if self.released:
            return
        self.released = True
        self.client.release(self.pool, self.token, outcome, latency_ms)

    # background renewal
    def _renewer(self) -> None:
        assert self._stop is not None
        interval = renew_interval(self.ttl, self.expires)
        delay = interval
        while not self._stop.wait(delay):
            try:
                self.renew()
                delay = interval
            except P.NotOwned:
                log.warning("lease of %s in pool %s lost: %s",
                            P.redact(self.proxy), self.pool,
                            "renewal answered NOTOWNED")
                self.lost = True
                return
            except ProxyPoolError as e:
                # TRYAGAIN, a lost connection: try again sooner
                log.warning("renewal of %s in pool %s failed: %s",
                            P.redact(self.proxy), self.pool, e)
                delay = min(interval, 1.0)

    def _start_renewing(self) -> None:
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._renewer, daemon=True,
                name="proxypool-renew-%s" % self.token[:8])
            self._thread.start()

    def _stop_renewing(self) -> None:
        if self._thread is not None:
            assert self._stop is not None
            self._stop.set()
            if self._thread is not threading.current_thread():
                self._thread.join()
            self._thread = None

    def __enter__(self) -> "Lease":
        if self.released:
            raise RuntimeError("this lease was released")
        self._start_renewing()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._stop_renewing()
        if self.released:
            return
        outcome = self._exit_outcome(exc_type is not None)
        if exc_type is None:
            self.release(outcome, self.latency_ms)
            return
        try:       # the block's exception is the one that matters
            self.release(outcome, self.latency_ms)
        except ProxyPoolError as e:
            log.warning("release of %s in pool %s failed: %s",
                        P.redact(self.proxy), self.pool, e)


class Client:
    """A blocking client of proxypoold.

    ``socket`` is the daemon's UNIX socket: the argument, else
    $PROXYPOOLD_SOCKET, else /run/proxypoold/proxypoold.sock.  ``timeout`` bounds the
    wait for each answer (on top of a command's WAIT).  Thread-safe:
    every call takes a connection of a pool (at most ``max_connections``).
    Error replies raise the ProxyPoolError subclass of their code word;
    no answer raises ConnectionFailed."""

    def __init__(self, socket: Optional[str] = None,
                 timeout: float = P.DEFAULT_TIMEOUT,
                 max_connections: Optional[int] = None):
        self.socket = P.socket_path(socket)
        self.timeout = timeout
        self._pool = redis.ConnectionPool(
            connection_class=UnixDomainSocketConnection, path=self.socket,
            socket_timeout=timeout, decode_responses=True,
            max_connections=max_connections)

    def __repr__(self) -> str:
        return "proxypool.Client(%r)" % self.socket

    def close(self) -> None:
        """Close the connections (the client stays usable)."""
        self._pool.disconnect()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def execute(self, *args: Any, wait: float = 0.0) -> Any:
        """Send one command and return its raw reply (strings, integers,
        lists); ``wait`` is how much longer than the timeout the answer may
        take."""
        try:
            conn = self._pool.get_connection(str(args[0]))
        except redis.RedisError as e:
            raise ConnectionFailed("%s: %s" % (self.socket, e)) from e
        try:
            conn.send_command(*args)
            if wait and not conn.can_read(timeout=wait + self.timeout):
                raise redis.TimeoutError("no answer within %gs"
                                         % (wait + self.timeout))
            return conn.read_response()
        except redis.ResponseError as e:
            raise P.error_from_reply(str(e)) from None
        except (redis.RedisError, OSError) as e:
            conn.disconnect()
            raise ConnectionFailed("%s: %s" % (self.socket, e)) from e
        except BaseException:
            conn.disconnect()      # an answer may still be on its way
            raise
        finally:
            self._pool.release(conn)

    def _run(self, cmd: P.Cmd) -> Any:
        return cmd.decode(self.execute(*cmd.args, wait=cmd.wait))

    # ---- user commands -------------------------------------------
    def lease(self, pool: str, ttl: Optional[float] = None,
              name: Optional[str] = None, wait: Optional[float] = None,
              shared: Optional[bool] = None) -> Lease:
        """LEASE a proxy of ``pool`` for ``ttl`` seconds (the pool's
        lease_ttl by default); ``name`` prefers and binds the proxy bound
        to that name; ``wait`` queues up to that many seconds for a free
        proxy; ``shared`` True/False overrides the pool's shared setting.
        Raises Empty, NoPool, BadArg, TryAgain.

        The Lease is a context manager::

            with client.lease("web", ttl=30, wait=5) as lease:
                fetch(lease.proxy)      # renewed meanwhile
                if banned: lease.ban()  # else OK, or FAILED on an error
        """
        i = self._run(P.lease(pool, ttl, name, wait, shared))
        return Lease(client=self, pool=pool, ttl=ttl, **vars(i))

    def renew(self, pool: str, token: str,
              ttl: Optional[float] = None) -> int:
        """RENEW a lease; returns the new expiry (ms).  NotOwned when the
        token is stale."""
        return self._run(P.renew(pool, token, ttl))

    def release(self, pool: str, token: str, outcome: Optional[str] = None,
                latency_ms: Optional[float] = None) -> None:
        """RELEASE a lease with an outcome (OK, FAILED, BANNED or None) and
        the latency seen (ms).  NotOwned when the token is stale."""
        self._run(P.release(pool, token, outcome, latency_ms))

    def report(self, pool: str, proxy: str, outcome: str,
               latency_ms: Optional[float] = None) -> None:
        """REPORT an outcome for a proxy without a lease.  NoProxy when the
        pool does not hold it."""
        self._run(P.report(pool, proxy, outcome, latency_ms))

    def bind(self, pool: str, name: str, proxy: str,
             ttl: Optional[float] = None) -> None:
        """BIND a name to a proxy (for ttl seconds, the pool's bind_ttl by
        default)."""
        self._run(P.bind(pool, name, proxy, ttl))

    def unbind(self, pool: str, name: str) -> bool:
        """UNBIND a name; True if a binding was removed."""
        return self._run(P.unbind(pool, name))

    def binding(self, pool: str, name: str) -> Optional[str]:
        """The proxy bound to a name, or None."""
        return self._run(P.binding(pool, name))

    def bindings(self, pool: str, proxy: str) -> List[str]:
        """The names bound to a proxy."""
        return self._run(P.bindings(pool, proxy))

    def ping(self, message: Optional[str] = None) -> str:
        """PING: "PONG", or the message."""
        return self._run(P.ping(message))

    def lock(self, name: str, owner: str, ttl: float,
             wait: Optional[float] = None) -> int:
        """LOCK a name for owner for ttl seconds, waiting up to ``wait``
        seconds; returns the fence.  Busy when another owner holds it."""
        return self._run(P.lock(name, owner, ttl, wait))

    def unlock(self, name: str, owner: str) -> None:
        """UNLOCK; NotOwned when another owner holds it."""
        self._run(P.unlock(name, owner))

    def pools(self) -> List[str]:
        """The names of the pools in Redis."""
        return self._run(P.pools())

    def stats(self, pool: Optional[str] = None
              ) -> Union[PoolStats, List[PoolStats]]:
        """STATS of a pool, or of every pool (a list) without one."""
        return self._run(P.stats(pool))

    def info(self) -> Dict[str, Dict[str, Any]]:
        """INFO as {section: {key: value}}: info()["Clients"]["admin"]."""
        return self._run(P.info())

    # ---- admin commands (DENIED for peers that are not admins) ------
    def list_page(self, pool: str, cursor: str = "0",
                  state: Optional[str] = None, count: Optional[int] = None
                  ) -> Tuple[str, List[ProxyInfo]]:
        """One LIST page: (next cursor, "0" when done; items)."""
        return self._run(P.list_page(pool, cursor, state, count))

    def iter_list(self, pool: str, state: Optional[str] = None,
                  count: int = 1000) -> Iterator[ProxyInfo]:
        """Every proxy of a pool (LIST, following the cursor)."""
        cursor = "0"
        while True:
            cursor, items = self.list_page(pool, cursor, state, count)
            yield from items
            if cursor == "0":
                return

    def list(self, pool: str, state: Optional[str] = None) -> List[ProxyInfo]:
        """Every proxy of a pool, in a list (state: only those in it)."""
        return [*self.iter_list(pool, state)]

    def add(self, pool: str, url: str, priority: Optional[int] = None,
            expires: Optional[float] = None) -> None:
        """ADD (or update) a proxy; ``expires``: it leaves after that many
        seconds."""
        self._run(P.add(pool, url, priority, expires))

    def remove(self, pool: str, url: str) -> bool:
        """REMOVE a proxy (drained when leased); False if absent."""
        return self._run(P.remove(pool, url))

    def check(self, pool: str, url: str) -> CheckResult:
        """Run the pool's health check on a proxy now."""
        return self._run(P.check(pool, url))

    def gc(self, pool: str) -> Dict[str, int]:
        """Collect expired state now: counts of leases, bindings, items,
        quarantine."""
        return self._run(P.gc(pool))

    def reload(self) -> None:
        """RELOAD the configuration; ProxyPoolError naming the bad
        setting when the file is not valid."""
        self._run(P.reload())

    def metrics(self) -> str:
        """METRICS: Prometheus text."""
        return self._run(P.metrics())
