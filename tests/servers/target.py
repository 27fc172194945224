#!/usr/bin/python3
"""target.py: the local HTTP and HTTPS target of the health-check tests.

    target.py --port-file F [--tls-port-file F --cert C --key K]
              [--ban-proxy ID]

Every path answers 200 "ok\\n" except:
  /slow?ms=N   waits N ms first
  /status/N    answers status N
  /bytes?n=N   answers N bytes (Content-Length), written as they drain
  /chunked?n=N answers N bytes in chunked encoding, in chunks of 1000
  /echo        answers the request's body (Content-Length or chunked)
  /body?s=S    answers S (URL-decoded; ban_body tests)
  /page/N      an HTML page linking to /page/N+1 and /page/N+2 while
               N < 8 (crawlers)
  /site/T/N    page N of a site of T pages: HTML linking to pages 2N+1
               and 2N+2 of it (those below T); 403 when the request's
               X-Proxy-Id is the --ban-proxy one
  /_stats      JSON: {"total": n, "by_proxy": {X-Proxy-Id: n},
               "seen": {path: {"method": m, "headers": {name: value}}},
               "elapsed": seconds since the start or the last /_reset}
               (not counted); "seen" holds the last request of each path,
               header names in lower case, "body_len" and
               "body_md5" of its body (Content-Length or chunked)
  /_reset      zeroes the counters (not counted)
Listens on 127.0.0.1 only; writes each port to its file once listening.
"""
import argparse
import asyncio
import hashlib
import json
import os
import ssl
import sys
import time
import urllib.parse

counts = {"total": 0, "by_proxy": {}, "seen": {}}
since = time.monotonic()
ban_proxy = None
FILL = bytes(range(256)) * 256      # 64 KiB of the bodies /bytes sends


async def read_body(reader, hdr):
    """The request body, by Content-Length or chunked."""
    if "chunked" in hdr.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return body
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    n = int(hdr.get("content-length", "0") or "0")
    return await reader.readexactly(n) if n else b""


def arg(path, name, default):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    return q.get(name, [default])[0]


async def send_bytes(writer, n, chunked):
    off = 0
    while n > 0:
        part = (FILL[off:] + FILL[:off])[:min(n, 1000 if chunked else
                                             len(FILL))]
        off = (off + len(part)) % len(FILL)
        if chunked:
            writer.write(b"%x\r\n" % len(part) + part + b"\r\n")
        else:
            writer.write(part)
        n -= len(part)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")


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
        reqbody = await read_body(reader, hdr)
        stream = None
        ctype = None            # no Content-Type header but for /site/
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
            counts["seen"][path] = {
                "method": method, "headers": hdr, "body_len": len(reqbody),
                "body_md5": hashlib.md5(reqbody).hexdigest()}
            if path.startswith("/slow"):
                ms = int(path.partition("ms=")[2] or "500")
                await asyncio.sleep(ms / 1000.0)
            elif path.startswith("/status/"):
                status = int(path[8:])
            elif path.startswith("/bytes"):
                stream = (int(arg(path, "n", "0")), False)
            elif path.startswith("/chunked"):
                stream = (int(arg(path, "n", "0")), True)
            elif path.startswith("/echo"):
                body = reqbody
            elif path.startswith("/body"):
                body = arg(path, "s", "").encode()
            elif path.startswith("/page/"):
                n = int(path[6:])
                links = "".join('<a href="/page/%d">%d</a>\n' % (m, m)
                                for m in (n + 1, n + 2) if n < 8)
                body = ("<html><head><title>page %d</title></head><body>\n"
                        "%s</body></html>\n" % (n, links)).encode()
            elif path.startswith("/site/"):
                status, body = site_page(path, pid)
                ctype = b"text/html"
        if stream is not None:
            writer.write(b"HTTP/1.1 200 X\r\n" +
                         (b"Transfer-Encoding: chunked\r\n" if stream[1]
                          else b"Content-Length: %d\r\n" % stream[0]) +
                         b"Connection: close\r\n\r\n")
            if method != "HEAD":
                await send_bytes(writer, *stream)
        else:
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" %
                         (status, len(body)) +
                         (b"Content-Type: %s\r\n" % ctype if ctype else b"") +
                         b"Connection: close\r\n\r\n")
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


def site_page(path, proxy_id):
    """The page /site/T/N: links to pages 2N+1 and 2N+2 below T."""
    total, n = (int(x) for x in path[6:].split("/")[:2])
    if ban_proxy is not None and proxy_id == ban_proxy:
        return 403, b"banned\n"
    links = "".join('<a href="/site/%d/%d">page %d</a>\n' % (total, k, k)
                    for k in (2 * n + 1, 2 * n + 2) if k < total)
    return 200, ("<html><body><h1>page %d</h1>\n%s</body></html>\n"
                 % (n, links)).encode()


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
    p.add_argument("--ban-proxy")
    args = p.parse_args()
    ban_proxy = args.ban_proxy
    try:
        asyncio.run(main(args))
    except KeyboardInterrupt:
        sys.exit(0)
