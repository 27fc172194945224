#!/usr/bin/python3
"""target.py: the local HTTP and HTTPS target of the health-check tests.

    target.py --port-file F [--tls-port-file F --cert C --key K]

Every path answers 200 "ok\\n" except:
  /slow?ms=N   waits N ms first
  /status/N    answers status N
  /_stats      JSON: {"total": n, "by_proxy": {X-Proxy-Id: n},
               "seen": {path: {"method": m, "headers": {name: value}}},
               "elapsed": seconds since the start or the last /_reset}
               (not counted); "seen" holds the last request of each path,
               header names in lower case
  /_reset      zeroes the counters (not counted)
Listens on 127.0.0.1 only; writes each port to its file once listening.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import time

counts = {"total": 0, "by_proxy": {}, "seen": {}}
since = time.monotonic()


async def handle(reader, writer):
    global since
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        hdr = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                hdr[k.strip().lower()] = v.strip()
        status, body = 200, b"ok\n"
        if path == "/_stats":
            body = json.dumps(dict(counts,
                                   elapsed=time.monotonic() - since)).encode()
        elif path == "/_reset":
            counts["total"] = 0
            counts["by_proxy"] = {}
            counts["seen"] = {}
            since = time.monotonic()
        else:
            counts["total"] += 1
            pid = hdr.get("x-proxy-id", "-")
            counts["by_proxy"][pid] = counts["by_proxy"].get(pid, 0) + 1
            counts["seen"][path] = {"method": method, "headers": hdr}
            if path.startswith("/slow"):
                ms = int(path.partition("ms=")[2] or "500")
                await asyncio.sleep(ms / 1000.0)
            elif path.startswith("/status/"):
                status = int(path[8:])
        writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % (status, len(body)))
        if method != "HEAD":
            writer.write(body)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError,
            ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def announce(server, path):
    port = server.sockets[0].getsockname()[1]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


async def main(a):
    servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)]
    announce(servers[0], a.port_file)
    if a.tls_port_file:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        servers.append(await asyncio.start_server(handle, "127.0.0.1", 0,
                                                  ssl=ctx, backlog=1024))
        announce(servers[1], a.tls_port_file)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--tls-port-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    try:
        asyncio.run(main(p.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)
