#!/usr/bin/env python3
"""lease.py: lease a proxy from proxypoold with the proxypool package, use
it, and release it with the outcome.

    lease.py [-s SOCKET] [--wait S] POOL [URL ...]

For each URL, fetches it through the leased proxy (urllib) and releases
with ok, failed (network error, 5xx) or banned (403 or 429 from the site),
plus the latency in ms.  Without a URL it only leases, renews once and
releases ok, which shows the protocol.  The lease is renewed in the
background while the block runs (proxypool.Client.lease).  The package
is contrib/python (pip install contrib/python); run from the source tree,
this script finds it there.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.request

try:
    import proxypool
except ImportError:     # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "python"))
    import proxypool


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
    ap.add_argument("-s", "--socket", help="default $PROXYPOOLD_SOCKET, "
                    "else " + proxypool.DEFAULT_SOCKET)
    ap.add_argument("--wait", type=float,
                    default=float(os.environ.get("LEASE_WAIT", "5")),
                    help="seconds to wait for a free proxy (default 5)")
    ap.add_argument("pool")
    ap.add_argument("urls", nargs="*")
    a = ap.parse_args()
    client = proxypool.Client(a.socket)
    try:
        with client.lease(a.pool, ttl=60, wait=a.wait) as lease:
            print(f"leased {lease.proxy} (fence {lease.fence})")
            if not a.urls:
                print(f"renewed until {lease.renew(60)}")
            for url in a.urls:
                outcome, ms = fetch(lease.proxy, url)
                print(f"{url}: {outcome} in {ms:.0f} ms")
                lease.outcome, lease.latency_ms = outcome, ms
                if outcome != "OK":
                    break
        print(f"released {lease.outcome or 'OK'}")
    except proxypool.ConnectionFailed as e:
        print(f"cannot reach proxypoold at {client.socket}: {e}",
              file=sys.stderr)
        return 3
    except proxypool.ProxyPoolError as e:
        # e.code: EMPTY, NOTOWNED, NOPOOL, ...
        print(f"proxypoold: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
