#!/usr/bin/env python3
"""lease.py: lease a proxy from proxypoold with redis-py, use it, renew the
lease while working, and release it with the outcome.

    lease.py [-s SOCKET] [--wait S] POOL [URL ...]

For each URL, fetches it through the leased proxy (urllib) and releases
with ok, failed (network error, 5xx) or banned (403 or 429 from the site),
plus the latency in ms.  Without a URL it only leases, renews once and
releases ok, which shows the protocol.  proxypoold speaks RESP, so redis-py
is the client: execute_command() sends one socket command.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.request

import redis


def pairs(reply):
    """A flat [field, value, ...] reply as a dict of str -> str/int."""
    it = iter(reply)
    return {k.decode(): (v.decode() if isinstance(v, bytes) else v)
            for k, v in zip(it, it)}


class Lease:
    """One lease: use as a context manager; release() says how it went."""

    def __init__(self, r, pool, ttl=60, wait=None, name=None):
        self.r, self.pool = r, pool
        args = ["LEASE", pool, "TTL", ttl]
        if wait is not None:
            args += ["WAIT", wait]
        if name is not None:
            args += ["NAME", name]
        f = pairs(r.execute_command(*args))
        self.proxy, self.token = f["proxy"], f["token"]
        self.expires, self.fence = int(f["expires"]), int(f["fence"])
        self.outcome, self.latency, self.done = "OK", None, False

    def renew(self, ttl=60):
        """Extend the lease; returns the new expiry (ms, Redis clock)."""
        self.expires = int(self.r.execute_command(
            "RENEW", self.pool, self.token, "TTL", ttl))
        return self.expires

    def release(self, outcome="OK", latency=None):
        args = ["RELEASE", self.pool, self.token, outcome.upper()]
        if latency is not None:
            args += ["LATENCY", int(latency)]
        self.r.execute_command(*args)
        self.done = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.done:
            # an exception while using the proxy counts as a failure
            self.release("FAILED" if exc_type else self.outcome,
                         self.latency)
        return False


def fetch(proxy, url, timeout=20):
    """Fetch url through proxy; returns (outcome, latency ms)."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
    t0 = time.monotonic()
    try:
        with opener.open(url, timeout=timeout) as resp:
            resp.read()
            outcome = "OK"
    except urllib.error.HTTPError as e:
        outcome = "BANNED" if e.code in (403, 429) else (
            "FAILED" if e.code >= 500 else "OK")
    except (urllib.error.URLError, OSError):
        outcome = "FAILED"
    return outcome, (time.monotonic() - t0) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-s", "--socket",
                    default=os.environ.get("PROXYPOOLD_SOCKET",
                                           "/run/proxypoold.sock"))
    ap.add_argument("--wait", type=float,
                    default=float(os.environ.get("LEASE_WAIT", "5")),
                    help="seconds to wait for a free proxy (default 5)")
    ap.add_argument("pool")
    ap.add_argument("urls", nargs="*")
    a = ap.parse_args()
    r = redis.Redis(unix_socket_path=a.socket, socket_timeout=a.wait + 30)
    try:
        with Lease(r, a.pool, ttl=60, wait=a.wait) as lease:
            print(f"leased {lease.proxy} (fence {lease.fence})")
            if not a.urls:
                print(f"renewed until {lease.renew(60)}")
            for url in a.urls:
                outcome, ms = fetch(lease.proxy, url)
                print(f"{url}: {outcome} in {ms:.0f} ms")
                lease.outcome, lease.latency = outcome, ms
                if outcome != "OK":
                    break
        print(f"released {lease.outcome}")
    except redis.exceptions.ResponseError as e:
        # the first word is the code: EMPTY, NOTOWNED, NOPOOL, ...
        print(f"proxypoold: {e}", file=sys.stderr)
        return 1
    except redis.exceptions.ConnectionError as e:
        print(f"cannot reach proxypoold at {a.socket}: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
