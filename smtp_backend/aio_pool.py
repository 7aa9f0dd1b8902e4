"""A bounded pool of open AsyncSMTP connections, with the blocking pool's rules.

At most ``size`` connections are open at once (idle or lent); ``acquire`` waits for
one. A connection returned healthy waits idle; one idle longer than
``idle_timeout`` or that has carried ``max_messages`` messages is closed with QUIT;
one in an unknown state (a cancelled or failed send) is closed without a word.
Before reuse an idle connection must have nothing unread, and after ``check_after``
seconds idle must answer NOOP with 250.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .aio import AsyncSMTP
from .errors import SMTPException
from .pool import CHECK_IDLE_AFTER

logger = logging.getLogger("smtp_backend.mailer")


@dataclass(eq=False)
class AsyncPooledConnection:
    smtp: AsyncSMTP
    last_used: float
    generation: int
    messages: int = 0


async def quit_quietly(smtp: AsyncSMTP) -> None:
    """QUIT politely if the connection still answers; close it in any case."""
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (SMTPException, OSError):
        pass
    finally:
        smtp.close()


class AsyncConnectionPool:
    def __init__(
        self,
        open_connection: Callable[[], Awaitable[AsyncSMTP]],
        *,
        size: int,
        max_messages: int,
        idle_timeout: float,
        check_after: float = CHECK_IDLE_AFTER,
    ) -> None:
        if size < 1:
            raise ValueError(f"pool_size must be at least 1, not {size!r}")
        if max_messages < 1:
            raise ValueError(
                f"max_messages_per_connection must be at least 1, not {max_messages!r}"
            )
        if not idle_timeout > 0:
            raise ValueError(
                f"idle_timeout must be a positive number of seconds, not {idle_timeout!r}"
            )
        self.size = size
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self._open_connection = open_connection
        self._check_after = check_after
        self._idle: list[AsyncPooledConnection] = []  # most recently used last
        self._open = 0  # open or being opened, idle or lent
        self._generation = 0
        self._freed: asyncio.Condition | None = None  # made in the running loop

    @property
    def open_connections(self) -> int:
        return self._open

    def remaining(self, connection: AsyncPooledConnection) -> int:
        return max(0, self.max_messages - connection.messages)

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:
            self._freed = asyncio.Condition()
        return self._freed

    async def acquire(self) -> AsyncPooledConnection:
        """A ready connection: an idle one that passes its check, else a new one."""
        while True:
            connection = await self._take_idle_or_reserve()
            if connection is None:
                return await self._open_new()
            if await self._still_usable(connection):
                return connection
            connection.smtp.close()
            await self._forget()

    async def release(self, connection: AsyncPooledConnection, *, reusable: bool) -> None:
        """Give a connection back; ``reusable=False`` for one in an unknown state."""
        keep = (
            reusable
            and connection.generation == self._generation
            and connection.messages < self.max_messages
            and connection.smtp.is_connected
        )
        if keep:
            connection.last_used = time.monotonic()
            self._idle.append(connection)
            async with self._condition():
                self._condition().notify()
            return
        if reusable:
            await quit_quietly(connection.smtp)
        else:
            connection.smtp.close()
        await self._forget()

    async def _take_idle_or_reserve(self) -> AsyncPooledConnection | None:
        freed = self._condition()
        async with freed:
            while True:
                now = time.monotonic()
                stale = [c for c in self._idle if now - c.last_used > self.idle_timeout]
                for connection in stale:
                    self._idle.remove(connection)
                    self._open -= 1
                    connection.smtp.close()  # idle too long: the server has likely gone
                if self._idle:
                    return self._idle.pop()
                if self._open < self.size:
                    self._open += 1
                    return None
                await freed.wait()

    async def _still_usable(self, connection: AsyncPooledConnection) -> bool:
        smtp = connection.smtp
        if smtp.has_unread_data:
            return False
        try:
            if time.monotonic() - connection.last_used > self._check_after:
                return (await smtp.noop())[0] == 250
        except (SMTPException, OSError):
            return False
        return True

    async def _open_new(self) -> AsyncPooledConnection:
        try:
            smtp = await self._open_connection()
        except BaseException:
            await self._forget()
            raise
        return AsyncPooledConnection(smtp, time.monotonic(), self._generation)

    async def _forget(self) -> None:
        freed = self._condition()
        async with freed:
            self._open -= 1
            freed.notify()

    async def close(self) -> None:
        """QUIT every idle connection; lent ones are closed when given back. Reusable after."""
        idle, self._idle = self._idle, []
        self._generation += 1
        for connection in idle:
            await quit_quietly(connection.smtp)
            await self._forget()
