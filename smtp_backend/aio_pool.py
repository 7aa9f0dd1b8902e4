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

from .aio import AsyncSMTP
from .errors import SMTPException
from .pool_ledger import CHECK_IDLE_AFTER, PooledConnection, PoolLedger

__all__ = ["AsyncConnectionPool", "AsyncPooledConnection", "quit_quietly"]

logger = logging.getLogger("smtp_backend.mailer")

AsyncPooledConnection = PooledConnection[AsyncSMTP]


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
        self._ledger: PoolLedger[AsyncSMTP] = PoolLedger(
            size=size, max_messages=max_messages, idle_timeout=idle_timeout, check_after=check_after
        )
        self.size = size
        self._open_connection = open_connection
        self._freed: asyncio.Condition | None = None  # made in the running loop

    @property
    def open_connections(self) -> int:
        return self._ledger.open

    def remaining(self, connection: AsyncPooledConnection) -> int:
        return self._ledger.remaining(connection)

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
        still_open = connection.smtp.is_connected
        now = time.monotonic()
        if self._ledger.give_back(connection, reusable=reusable, still_open=still_open, now=now):
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
                for stale in self._ledger.take_stale(time.monotonic()):
                    stale.smtp.close()  # idle too long: the server has likely gone
                idle = self._ledger.pop_idle()
                if idle is not None:
                    return idle
                if self._ledger.reserve():
                    return None
                await freed.wait()

    async def _still_usable(self, connection: AsyncPooledConnection) -> bool:
        smtp = connection.smtp
        if smtp.has_unread_data:
            return False
        try:
            if self._ledger.needs_check(connection, time.monotonic()):
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
        return self._ledger.opened(smtp, time.monotonic())

    async def _forget(self) -> None:
        freed = self._condition()
        async with freed:
            self._ledger.forget()
            freed.notify()

    async def close(self) -> None:
        """QUIT every idle connection; lent ones are closed when given back. Reusable after."""
        idle = self._ledger.clear()
        for connection in idle:
            await quit_quietly(connection.smtp)
        freed = self._condition()
        async with freed:
            freed.notify_all()
