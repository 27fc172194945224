"""The socket protocol of proxypoold, without I/O: errors, result types,
the argument list of every command and the decoding of its reply.  The
sync client (proxypool.client) and the asyncio one (proxypool.aio) send
what these functions build and decode with what they return."""
import os
import re
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, List, NamedTuple, Optional,
                    Sequence, Tuple, Type, Union)

#: the socket when neither the argument nor $PROXYPOOLD_SOCKET names one
#: (proxypoold's default listen.socket)
DEFAULT_SOCKET = "/run/proxypoold/proxypoold.sock"

#: seconds a call may take to be answered, on top of its WAIT
DEFAULT_TIMEOUT = 10.0

OUTCOMES = ("OK", "FAILED", "BANNED")


def socket_path(socket: Optional[str] = None) -> str:
    """The socket to use: the argument, else $PROXYPOOLD_SOCKET, else
    DEFAULT_SOCKET."""
    return socket or os.environ.get("PROXYPOOLD_SOCKET") or DEFAULT_SOCKET


def redact(url: str) -> str:
    """A proxy URL with its password shown as ***, as the daemon logs it."""
    return re.sub(r"^([a-zA-Z0-9+.-]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


# ---- errors ---------------------------------------------------------

class ProxyPoolError(Exception):
    """An error reply of proxypoold, or the daemon cannot be reached.

    ``code`` is the reply's code word (``EMPTY``, ``NOTOWNED``, ...; ``ERR``
    for a generic error, ``CONNECTION`` when there is no answer) and
    ``message`` the rest of the reply."""

    code = "ERR"

    def __init__(self, message: str = "", code: Optional[str] = None):
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(("%s %s" % (self.code, message)).strip())


class Empty(ProxyPoolError):
    """No proxy can be leased now (or the WAIT ran out)."""
    code = "EMPTY"


class NotOwned(ProxyPoolError):
    """Stale lease token (the lease expired or was released), or a lock
    held by another owner."""
    code = "NOTOWNED"


class NoPool(ProxyPoolError):
    """No such pool."""
    code = "NOPOOL"


class NoProxy(ProxyPoolError):
    """REPORT or BIND of a proxy the pool does not hold."""
    code = "NOPROXY"


class BadArg(ProxyPoolError):
    """Bad argument; nothing changed."""
    code = "BADARG"


class TryAgain(ProxyPoolError):
    """Redis is unreachable or too slow, or the daemon is stopping: retry
    later."""
    code = "TRYAGAIN"


class Denied(ProxyPoolError):
    """An admin command from a peer that is not an admin."""
    code = "DENIED"


class Busy(ProxyPoolError):
    """LOCK: the lock is held by another owner."""
    code = "BUSY"


class ConnectionFailed(ProxyPoolError):
    """The daemon's socket cannot be reached, closed the connection, or
    did not answer in time."""
    code = "CONNECTION"


ERRORS: Dict[str, Type[ProxyPoolError]] = {
    c.code: c for c in (Empty, NotOwned, NoPool, NoProxy, BadArg, TryAgain,
                        Denied, Busy)}


def error_from_reply(text: str) -> ProxyPoolError:
    """The exception for an error reply's text ("CODE message").  redis-py
    strips the code ERR, so a text without a known code word is ERR."""
    code, _, rest = text.partition(" ")
    cls = ERRORS.get(code)
    if cls is not None:
        return cls(rest)
    return ProxyPoolError(text, code="ERR")


# ---- results --------------------------------------------------------

def pairs(reply: Sequence[Any]) -> Dict[str, Any]:
    """A flat [field, value, ...] reply as a dict."""
    return dict(zip(reply[0::2], reply[1::2]))


@dataclass
class LeaseInfo:
    """What LEASE answers: the proxy URL (credentials included), the
    token that renews and releases it, its expiry (ms since the epoch, by
    Redis' clock), the fence (grows with every grant), whether the lease
    is shared and whether it came from the NAME's binding."""
    proxy: str
    token: str
    expires: int
    fence: int
    shared: bool
    bound: bool


def decode_lease(reply: Sequence[Any]) -> LeaseInfo:
    f = pairs(reply)
    return LeaseInfo(proxy=f["proxy"], token=f["token"],
                     expires=int(f["expires"]), fence=int(f["fence"]),
                     shared=bool(int(f.get("shared", 0))),
                     bound=bool(int(f.get("bound", 0))))


@dataclass
class PoolStats:
    """STATS of one pool: the counters, the health fields (``check`` is
    the check type or ``none``; ``proxies_up`` and ``proxies_down`` the
    proxies the health checks found UP and DOWN; ``errors`` the probe
    failure reasons and their counts) and any field a newer daemon adds,
    in ``extra``."""
    pool: str
    total: int = 0
    free: int = 0
    leased: int = 0
    shared: int = 0
    quarantined: int = 0
    draining: int = 0
    leases: int = 0
    bindings: int = 0
    check: str = "none"
    proxies_up: int = 0
    proxies_down: int = 0
    probes: int = 0
    local_probes: int = 0
    probes_per_sec: float = 0.0
    probes_inflight: int = 0
    errors: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a daemon before issue 12 named the proxy counts up and down
        for old in ("up", "down"):
            if old in self.extra and "proxies_" + old not in self.extra:
                setattr(self, "proxies_" + old,
                        _as(int, self.extra.pop(old)))


_STAT_TYPES = {k: v for k, v in PoolStats.__annotations__.items()
               if k != "extra"}


def _as(typ: Any, v: Any) -> Any:
    try:
        if typ == "int" or typ is int:
            return int(v)
        if typ == "float" or typ is float:
            return float(v)
    except (TypeError, ValueError):
        return v
    return v if v is None or isinstance(v, str) else str(v)


def decode_stats(reply: Sequence[Any]) -> PoolStats:
    f = pairs(reply)
    known = {k: _as(_STAT_TYPES[k], v) for k, v in f.items()
             if k in _STAT_TYPES}
    extra = {k: v for k, v in f.items() if k not in _STAT_TYPES}
    return PoolStats(extra=extra, **known)


@dataclass
class ProxyInfo:
    """One proxy of LIST: its URL (password redacted), state (``free``,
    ``leased``, ``quarantined``, ``draining``, ...), priority, holders,
    the expiry of its lease and the end of its quarantine (ms, 0 = none),
    since when it is DOWN, consecutive failures and latency average (ms);
    its health (``up``, ``down``, ``unknown``; ``none`` without a check),
    when a proxy not UP was last checked, when it is checked next (ms, 0
    = none) and its last error."""
    proxy: str
    state: str
    priority: int = 0
    holders: int = 0
    expires: int = 0
    until: int = 0
    failures: int = 0
    latency: float = 0.0
    down_since: int = 0
    health: str = "none"
    last_check: int = 0
    next_check: int = 0
    last_error: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)


_ITEM_TYPES = {k: v for k, v in ProxyInfo.__annotations__.items()
               if k != "extra"}


def decode_item(reply: Sequence[Any]) -> ProxyInfo:
    f = pairs(reply)
    known = {k: _as(_ITEM_TYPES[k], v) for k, v in f.items()
             if k in _ITEM_TYPES}
    extra = {k: v for k, v in f.items() if k not in _ITEM_TYPES}
    return ProxyInfo(extra=extra, **known)


def decode_list(reply: Sequence[Any]) -> Tuple[str, List[ProxyInfo]]:
    return str(reply[0]), [decode_item(i) for i in reply[1]]


@dataclass
class CheckResult:
    """CHECK: the verdict (UP, WARN, DOWN, UNKNOWN), latency (ms) and
    reason."""
    verdict: str
    latency: float
    reason: str


def decode_check(reply: Sequence[Any]) -> CheckResult:
    f = pairs(reply)
    return CheckResult(verdict=str(f.get("verdict", "")),
                       latency=float(f.get("latency", 0) or 0),
                       reason=str(f.get("reason", "")))


def _num(v: str) -> Union[int, float, str]:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def decode_info(text: str) -> Dict[str, Dict[str, Union[int, float, str]]]:
    """INFO's text as {section: {key: value}}, numbers as numbers."""
    out: Dict[str, Dict[str, Union[int, float, str]]] = {}
    sect = out.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            sect = out.setdefault(line[1:].strip(), {})
            continue
        k, sep, v = line.partition(":")
        if sep:
            sect[k] = _num(v)
    if not out[""]:
        del out[""]
    return out


# ---- commands -------------------------------------------------------

class Cmd(NamedTuple):
    """One request: its arguments, the decoder of its reply, and its WAIT
    (seconds the answer may take on top of the client's timeout)."""
    args: List[Any]
    decode: Callable[[Any], Any]
    wait: float = 0.0


def _ident(x: Any) -> Any:
    return x


def _ok(x: Any) -> None:
    return None


def _bool(x: Any) -> bool:
    return bool(int(x))


def _int(x: Any) -> int:
    return int(x)


def _str_list(x: Any) -> List[str]:
    return [str(i) for i in x]


def outcome_word(outcome: Optional[str]) -> Optional[str]:
    if outcome is None:
        return None
    w = str(outcome).upper()
    if w not in OUTCOMES:
        raise ValueError("outcome must be OK, FAILED or BANNED, not %r"
                         % (outcome,))
    return w


def _latency(args: List[Any], latency_ms: Optional[float]) -> None:
    if latency_ms is not None:
        args += ["LATENCY", max(0, int(round(latency_ms)))]


def _secs(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def lease(pool: str, ttl: Optional[float] = None, name: Optional[str] = None,
          wait: Optional[float] = None,
          shared: Optional[bool] = None) -> Cmd:
    args: List[Any] = ["LEASE", pool]
    if name is not None:
        args += ["NAME", name]
    if ttl is not None:
        args += ["TTL", _secs(ttl)]
    if wait:
        args += ["WAIT", _secs(wait)]
    if shared is not None:
        args.append("SHARED" if shared else "EXCLUSIVE")
    return Cmd(args, decode_lease, float(wait or 0))


def renew(pool: str, token: str, ttl: Optional[float] = None) -> Cmd:
    args: List[Any] = ["RENEW", pool, token]
    if ttl is not None:
        args += ["TTL", _secs(ttl)]
    return Cmd(args, _int)


def release(pool: str, token: str, outcome: Optional[str] = None,
            latency_ms: Optional[float] = None) -> Cmd:
    args: List[Any] = ["RELEASE", pool, token]
    w = outcome_word(outcome)
    if w:
        args.append(w)
    _latency(args, latency_ms)
    return Cmd(args, _ok)


def report(pool: str, proxy: str, outcome: str,
           latency_ms: Optional[float] = None) -> Cmd:
    args: List[Any] = ["REPORT", pool, proxy, outcome_word(outcome)]
    _latency(args, latency_ms)
    return Cmd(args, _ok)


def bind(pool: str, name: str, proxy: str,
         ttl: Optional[float] = None) -> Cmd:
    args: List[Any] = ["BIND", pool, name, proxy]
    if ttl is not None:
        args += ["TTL", _secs(ttl)]
    return Cmd(args, _ok)


def unbind(pool: str, name: str) -> Cmd:
    return Cmd(["UNBIND", pool, name], _bool)


def binding(pool: str, name: str) -> Cmd:
    return Cmd(["BINDING", pool, name], lambda x: None if x is None
               else str(x))


def bindings(pool: str, proxy: str) -> Cmd:
    return Cmd(["BINDINGS", pool, proxy], _str_list)


def ping(message: Optional[str] = None) -> Cmd:
    return Cmd(["PING"] + ([message] if message is not None else []), str)


def lock(name: str, owner: str, ttl: float,
         wait: Optional[float] = None) -> Cmd:
    args: List[Any] = ["LOCK", name, owner, _secs(ttl)]
    if wait:
        args += ["WAIT", _secs(wait)]
    return Cmd(args, _int, float(wait or 0))


def unlock(name: str, owner: str) -> Cmd:
    return Cmd(["UNLOCK", name, owner], _ok)


def pools() -> Cmd:
    return Cmd(["POOLS"], _str_list)


def stats(pool: Optional[str] = None) -> Cmd:
    if pool is None:
        return Cmd(["STATS"], lambda r: [decode_stats(s) for s in r])
    return Cmd(["STATS", pool], decode_stats)


def list_page(pool: str, cursor: str = "0", state: Optional[str] = None,
              count: Optional[int] = None) -> Cmd:
    args: List[Any] = ["LIST", pool]
    if state is not None:
        args += ["STATE", state]
    if cursor not in (None, "0", 0):
        args += ["CURSOR", cursor]
    if count is not None:
        args += ["COUNT", int(count)]
    return Cmd(args, decode_list)


def add(pool: str, url: str, priority: Optional[int] = None,
        expires: Optional[float] = None) -> Cmd:
    args: List[Any] = ["ADD", pool, url]
    if priority is not None:
        args += ["PRIORITY", int(priority)]
    if expires is not None:
        args += ["EXPIRES", _secs(expires)]
    return Cmd(args, _ok)


def remove(pool: str, url: str) -> Cmd:
    return Cmd(["REMOVE", pool, url], _bool)


def check(pool: str, url: str) -> Cmd:
    return Cmd(["CHECK", pool, url], decode_check)


def gc(pool: str) -> Cmd:
    return Cmd(["GC", pool], lambda r: {k: int(v) for k, v in
                                        pairs(r).items()})


def reload() -> Cmd:
    return Cmd(["RELOAD"], _ok)


def info() -> Cmd:
    return Cmd(["INFO"], lambda r: decode_info(str(r)))


def metrics() -> Cmd:
    return Cmd(["METRICS"], str)
