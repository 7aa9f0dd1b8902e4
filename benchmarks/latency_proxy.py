"""A TCP proxy on loopback that delays every chunk by a fixed time in each direction.

Each chunk read at time t is written at t + delay, in order; delays overlap rather
than queue behind each other, so the link behaves like a long wire, not a slow one.
Run as a program it prints ``READY <port>`` once listening and serves until killed.

    python benchmarks/latency_proxy.py --target 127.0.0.1:2525 --delay 0.010
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket

CHUNK_SIZE = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await in_flight.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:  # the sender closed: pass the EOF on, delayed like data
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    delivery = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await reader.read(CHUNK_SIZE)
            in_flight.put_nowait((loop.time() + delay, chunk))
            if not chunk:
                break
        await delivery
    except (ConnectionError, OSError):
        delivery.cancel()


async def _serve_one(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    for writer in (client_writer, server_writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:  # the proxy must not add Nagle delays of its own
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(
            _pump(client_reader, server_writer, delay),
            _pump(server_reader, client_writer, delay),
        )
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


async def serve(
    target: tuple[str, int], delay: float, port: int = 0, ready: asyncio.Future[int] | None = None
) -> None:
    """Listen on 127.0.0.1:port and forward to target with ``delay`` seconds each way."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(reader, writer, target, delay)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    else:
        print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, type=_host_port, help="HOST:PORT to forward to")
    parser.add_argument("--delay", type=float, default=0.010, help="seconds added each way")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.target, args.delay, args.port))


if __name__ == "__main__":
    main()
