#!/usr/bin/python3
"""faultproxy.py: a small HTTP proxy for tests that can misbehave on purpose.

    faultproxy.py --mode MODE [--port N] [--port-file F] [--delay MS]
                  [--status N] [--id NAME]

Modes:
  ok       a forward proxy: absolute-form requests and CONNECT tunnels, to
           loopback addresses only (anything else gets 403)
  slow     like ok, after waiting --delay ms
  reset    accept, then reset the connection (RST)
  status   answer every request with --status itself
  garbage  answer with random bytes, then close
  hang     accept and never answer
  direct   answer 200 "ok" itself without contacting the target (benchmarks)
  socks    a SOCKS4, SOCKS4a and SOCKS5 proxy (CONNECT), loopback targets
           only; with --auth user:pass SOCKS5 clients must authenticate

Forwarded requests carry "X-Proxy-Id: <id>" (default: the port) so the test
target can count probes per proxy.  Listens on 127.0.0.1; writes the port
to --port-file once listening (tests wait for that file).
"""
import argparse
import asyncio
import ipaddress
import os
import socket
import struct
import sys

args = None


def loopback(host):
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


async def pipe(reader, writer):
    """Copy reader to writer until either side ends (tlsfront.py too)."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.CancelledError):  # resets, TLS errors
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], [l for l in lines[1:] if l]


async def forward(line, headers, reader, writer):
    method, target, version = line.split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not loopback(host):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            ur, uw = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        return
    if not target.startswith("http://"):
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return
    rest = target[7:]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":") if ":" in hostport.split("]")[-1] \
        else (hostport, "", "80")
    if not loopback(host):
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return
    try:
        ur, uw = await asyncio.open_connection(host.strip("[]"), int(port))
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        return
    out = ["%s /%s HTTP/1.1" % (method, path)]
    length = 0
    for h in headers:
        name = h.split(":", 1)[0].strip().lower()
        if name.startswith("proxy-") or name == "connection":
            continue
        if name == "content-length":
            length = int(h.split(":", 1)[1])
        out.append(h)
    out.append("X-Proxy-Id: %s" % args.id)
    out.append("Connection: close")
    uw.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
    if length:
        uw.write(await reader.readexactly(length))
    await uw.drain()
    await pipe(ur, writer)
    uw.close()


async def socks(reader, writer):
    """One SOCKS4/4a/5 CONNECT, then relay both ways."""
    ver = (await reader.readexactly(1))[0]
    if ver == 4:
        cmd, port = struct.unpack("!BH", await reader.readexactly(3))
        ip = await reader.readexactly(4)
        await reader.readuntil(b"\0")         # user id
        host = socket.inet_ntoa(ip)
        if ip[:3] == b"\0\0\0" and ip[3] != 0:  # 4a: the name follows
            host = (await reader.readuntil(b"\0"))[:-1].decode()
        ok = cmd == 1 and loopback(host)
        if ok:
            try:
                ur, uw = await asyncio.open_connection(host, port)
            except OSError:
                ok = False
        writer.write(b"\0" + (b"\x5a" if ok else b"\x5b") + b"\0" * 6)
        await writer.drain()
        if ok:
            await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        return
    if ver != 5:
        return
    n = (await reader.readexactly(1))[0]
    methods = await reader.readexactly(n)
    want = 2 if args.auth else 0
    if want not in methods:
        writer.write(b"\x05\xff")
        return
    writer.write(bytes([5, want]))
    if args.auth:
        await reader.readexactly(1)
        user = await reader.readexactly((await reader.readexactly(1))[0])
        pw = await reader.readexactly((await reader.readexactly(1))[0])
        good = (user + b":" + pw).decode() == args.auth
        writer.write(b"\x01" + (b"\0" if good else b"\x01"))
        if not good:
            return
    _, cmd, _, atyp = await reader.readexactly(4)
    if atyp == 1:
        host = socket.inet_ntoa(await reader.readexactly(4))
    elif atyp == 3:
        host = (await reader.readexactly(
            (await reader.readexactly(1))[0])).decode()
    else:
        host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    port = struct.unpack("!H", await reader.readexactly(2))[0]
    rep = 0 if cmd == 1 and loopback(host) else 2
    if rep == 0:
        try:
            ur, uw = await asyncio.open_connection(host, port)
        except OSError:
            rep = 5
    writer.write(bytes([5, rep, 0, 1]) + b"\0" * 6)
    await writer.drain()
    if rep == 0:
        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))


async def handle(reader, writer):
    sock = writer.get_extra_info("socket")
    try:
        if args.mode == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if args.mode == "hang":
            await reader.read()
            return
        if args.mode == "socks":
            await socks(reader, writer)
            return
        line, headers = await read_head(reader)
        if args.mode == "slow":
            await asyncio.sleep(args.delay / 1000.0)
        if args.mode == "status":
            writer.write(("HTTP/1.1 %d Test\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n" % args.status).encode())
        elif args.mode == "garbage":
            writer.write(os.urandom(64) + b"\r\n\r\n")
        elif args.mode == "direct":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                         b"Connection: close\r\n\r\nok\n")
        else:
            await forward(line, headers, reader, writer)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", args.port,
                                        backlog=1024)
    port = server.sockets[0].getsockname()[1]
    if args.id is None:
        args.id = str(port)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="ok",
                   choices=["ok", "slow", "reset", "status", "garbage",
                            "hang", "direct", "socks"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--delay", type=int, default=500)
    p.add_argument("--status", type=int, default=503)
    p.add_argument("--id")
    p.add_argument("--auth", help="user:pass SOCKS5 clients must send")
    args = p.parse_args()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
