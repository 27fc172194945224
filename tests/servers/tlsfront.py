#!/usr/bin/python3
"""tlsfront.py: a TLS front for a local TCP server, so a plain proxy
(tinyproxy) is reached as an https:// proxy in the gateway's tests.

    tlsfront.py --backend PORT --cert C --key K --port-file F

Listens on 127.0.0.1 only, writes its port to F once listening, and
copies bytes both ways between each TLS client and a new connection to
127.0.0.1:PORT.
"""
import argparse
import asyncio
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultproxy import pipe  # noqa: E402


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)

    async def handle(creader, cwriter):
        try:
            breader, bwriter = await asyncio.open_connection(
                "127.0.0.1", args.backend)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, bwriter), pipe(breader, cwriter))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
