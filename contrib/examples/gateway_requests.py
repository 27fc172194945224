#!/usr/bin/python3
"""gateway_requests.py: requests through proxypoold's gateway.

    gateway_requests.py [--gateway HOST:PORT] [--user USER] URL...

The gateway leases a proxy for each request (each CONNECT tunnel for
https:// URLs), retries another proxy when one fails before answering,
and releases it with the outcome (403 and 429 count as BANNED).  There
is no lease code here: only the proxies setting.  --user picks the pool
and a sticky session: "web", "web-session-acct7".
"""
import argparse
import os

import requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway",
                    default=os.environ.get("PROXYPOOL_GATEWAY",
                                           "127.0.0.1:3128"))
    ap.add_argument("--user", default="")
    ap.add_argument("urls", nargs="+")
    args = ap.parse_args()

    cred = args.user + ":@" if args.user else ""
    proxy = "http://%s%s" % (cred, args.gateway)
    with requests.Session() as s:
        s.proxies = {"http": proxy, "https": proxy}
        s.trust_env = False             # this proxy, not the environment's
        for url in args.urls:
            r = s.get(url, timeout=60)
            print(url, r.status_code, r.headers.get("X-Proxypool-Proxy", "-"),
                  r.headers.get("X-Proxypool-Error", ""))


if __name__ == "__main__":
    main()
