"""A minimal discarding SMTP server: PIPELINING always, CHUNKING (BDAT) on request.

The fallback and smoke-test server of the benchmark, for machines without Postfix's
smtp-sink or Exim. It checks nothing and keeps nothing; it answers every pipelined
command in order and flushes its replies once it has consumed all input it has.
Run as a program it prints ``READY <port>`` once listening and serves until killed.

    python benchmarks/sink_server.py --chunking
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

HOSTNAME = b"bench-sink"


class SinkProtocol(asyncio.Protocol):
    """One SMTP session; state is which kind of input the next bytes are."""

    def __init__(self, chunking: bool) -> None:
        self.chunking = chunking
        self.buffer = bytearray()
        self.in_data = False  # reading a DATA body up to CRLF.CRLF
        self.bdat_left = 0  # bytes of the current BDAT chunk still to read
        self.bdat_last = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 " + HOSTNAME + b" ESMTP benchmark sink\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            if self.bdat_left:
                taken = min(self.bdat_left, len(self.buffer))
                del self.buffer[:taken]
                self.bdat_left -= taken
                if self.bdat_left:
                    break
                replies.append(
                    b"250 2.0.0 Ok: queued\r\n" if self.bdat_last else b"250 2.0.0 Ok\r\n"
                )
                continue
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    keep = 4  # the terminator may straddle two reads
                    del self.buffer[: max(0, len(self.buffer) - keep)]
                    break
                del self.buffer[: end + 5]
                self.in_data = False
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                break
            line = bytes(self.buffer[:line_end])
            del self.buffer[: line_end + 2]
            reply, closing = self._command(line)
            replies.append(reply)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if closing and self.transport is not None:
            self.transport.close()

    def _command(self, line: bytes) -> tuple[bytes, bool]:
        verb, _, argument = line.partition(b" ")
        verb = verb.upper()
        if verb == b"EHLO":
            features = [b"PIPELINING", b"8BITMIME", b"SIZE 52428800", b"ENHANCEDSTATUSCODES"]
            if self.chunking:
                features.append(b"CHUNKING")
            lines = [HOSTNAME, *features]
            body = b"".join(b"250-" + item + b"\r\n" for item in lines[:-1])
            return body + b"250 " + lines[-1] + b"\r\n", False
        if verb == b"DATA":
            self.in_data = True
            self.buffer[0:0] = b"\r\n"  # so an empty body's "." matches the terminator
            return b"354 End data with <CR><LF>.<CR><LF>\r\n", False
        if verb == b"BDAT" and self.chunking:
            size, _, last = argument.partition(b" ")
            self.bdat_left = int(size)
            self.bdat_last = last.upper() == b"LAST"
            if self.bdat_left == 0:  # an empty chunk is answered at once
                return (
                    b"250 2.0.0 Ok: queued\r\n" if self.bdat_last else b"250 2.0.0 Ok\r\n"
                ), False
            # the reply comes when the chunk has been read; nothing to say yet
            return b"", False
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n", True
        if verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            return b"250 2.0.0 Ok\r\n", False
        return b"502 5.5.2 Error: command not recognized\r\n", False


async def serve(
    port: int = 0, chunking: bool = False, ready: asyncio.Future[int] | None = None
) -> None:
    """Listen on 127.0.0.1:port until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(chunking), "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    else:
        print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--chunking", action="store_true", help="also advertise CHUNKING (BDAT)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.chunking))


if __name__ == "__main__":
    main()
