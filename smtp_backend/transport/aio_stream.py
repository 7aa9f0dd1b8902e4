"""The asyncio side of one SMTP connection: a protocol that feeds bytes to the ReplyParser.

A plain ``asyncio.Protocol`` (not streams) so STARTTLS is ``loop.start_tls`` on every
supported Python, and replies are parsed as the bytes arrive, with no second buffer.
"""

from __future__ import annotations

import asyncio

from ..errors import SMTPProtocolError, SMTPServerDisconnected
from ..protocol import ReplyParser
from ..results import Reply


class ReplyStream(asyncio.Protocol):
    """Bytes in -> replies out for one connection; writes with flow control."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.parser = ReplyParser()
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._error: BaseException | None = None  # why no more replies will come

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except SMTPProtocolError as exc:
            self._error = exc
            if self.transport is not None:
                self.transport.close()
        self._wake()

    def eof_received(self) -> bool:
        if self._error is None:
            self._error = SMTPServerDisconnected("Connection unexpectedly closed")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._error is None:
            reason = f": {exc}" if exc else ""
            self._error = SMTPServerDisconnected(f"Connection unexpectedly closed{reason}")
        self._wake()
        self._resume()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._resume()

    # -- for the driver ----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return (
            self.transport is not None and self._error is None and not self.transport.is_closing()
        )

    async def read_reply(self, timeout: float | None) -> Reply:
        """The next reply; ``TimeoutError`` when none is complete within ``timeout``."""
        deadline = None if timeout is None else self._loop.time() + timeout
        while True:
            reply = self.parser.next_reply()
            if reply is not None:
                return reply
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            try:
                await self._wait(self._waiter, deadline)
            finally:
                self._waiter = None

    async def write(self, data: bytes, timeout: float | None) -> None:
        """Write ``data``; wait (up to ``timeout``) while the transport's buffer is full."""
        if not self.is_open:
            raise self._error or SMTPServerDisconnected("Server not connected")
        assert self.transport is not None
        self.transport.write(data)
        if self._paused:
            self._drain_waiter = self._loop.create_future()
            deadline = None if timeout is None else self._loop.time() + timeout
            try:
                await self._wait(self._drain_waiter, deadline)
            finally:
                self._drain_waiter = None
            if self._error is not None:
                raise self._error

    async def _wait(self, future: asyncio.Future[None], deadline: float | None) -> None:
        # Our own timer, not wait_for: wait_for (before 3.12) can swallow a cancellation.
        timer = None
        if deadline is not None:
            timer = self._loop.call_at(deadline, _expire, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()

    def restart_after_tls(self, transport: asyncio.Transport) -> bytes:
        """Use the TLS transport; return (and drop) any plaintext read before it."""
        self.transport = transport
        leftover = self.parser.take_unparsed()
        self.parser = ReplyParser()
        return leftover

    async def end_output(self, grace: float) -> None:
        """Our FIN unless a reply (or the server's end) comes within ``grace`` seconds
        (``protocol.steps.EndOutput``); none where the transport cannot send one (TLS)."""
        if not self._can_end_output() or self.parser.pending or self._error is not None:
            return
        self._waiter = self._loop.create_future()
        try:
            await self._wait(self._waiter, self._loop.time() + grace)
        except TimeoutError:
            if self._can_end_output():
                assert self.transport is not None
                self.transport.write_eof()
        finally:
            self._waiter = None

    def _can_end_output(self) -> bool:
        transport = self.transport
        return transport is not None and not transport.is_closing() and transport.can_write_eof()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self._error is None:
            self._error = SMTPServerDisconnected("Server not connected")
        self._wake()
        self._resume()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _resume(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("timed out"))
