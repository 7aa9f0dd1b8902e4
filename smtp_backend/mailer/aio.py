"""AsyncMailer: the Mailer's pool, reuse, reconnect, retries, rate limit and capture, on asyncio.

The same configuration, hooks, signing and capture (:mod:`.base`), the same decisions
(:mod:`.planning`: which results are retried, how a send is split; :mod:`.pooling`:
which connections are kept, checked or closed) and the same results as the blocking
:class:`~smtp_backend.Mailer`; parts of a send run as tasks instead of threads. This
module keeps only the asyncio I/O. A cancelled ``send`` closes the connections it was
using: none goes back to the pool in an unknown state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any

from ..aio import AsyncSMTP
from ..errors import SMTPException
from ..results import SendResult
from .base import MailerBase
from .connect import ConnectionSettings, Opening
from .planning import (
    Acquire,
    MailItem,
    OpenAhead,
    PartActions,
    PartOutcome,
    Wait,
    advance,
    merge_parts,
)
from .pooling import PooledConnection, PoolFace, Return

__all__ = ["AsyncConnectionFactory", "AsyncConnectionPool", "AsyncMailer"]

logger = logging.getLogger("smtp_backend.mailer")

_OPEN_ERRORS = (SMTPException, OSError, ValueError)


class AsyncConnectionPool(PoolFace[AsyncSMTP, Callable[[float | None], Awaitable[AsyncSMTP]]]):
    """The blocking pool's rules (:mod:`.pooling`) with asyncio's I/O: at most ``size``
    connections open at once (idle or lent); ``acquire`` waits for one."""

    def __init__(
        self,
        open_connection: Callable[[float | None], Awaitable[AsyncSMTP]],
        *,
        clock: Callable[[], float] = time.monotonic,
        **rules: Any,
    ) -> None:
        super().__init__(open_connection, clock=clock, **rules)
        self._freed: asyncio.Condition | None = None  # made in the running loop
        self._background: set[asyncio.Task[None]] = set()  # goodbyes, openings ahead

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or lent."""
        return self._rules.open

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:
            self._freed = asyncio.Condition()
        return self._freed

    async def acquire(self, deadline: float | None = None) -> PooledConnection[AsyncSMTP]:
        """A ready connection: an idle one that passes its check, else a new one opened
        by ``deadline`` (a ``time.monotonic()`` instant; None: the settings' limits only)."""
        while True:
            connection = await self._checkout()
            if connection is None:
                return await self._open_new(deadline)
            if await self._still_usable(connection):
                return connection
            logger.debug("pooled connection failed its check; replacing it")
            await self._discard(connection)

    async def release(self, connection: PooledConnection[AsyncSMTP], *, reusable: bool) -> None:
        """Give a connection back; ``reusable=False`` for one in an unknown state."""
        await self._give_back(connection, reusable, adopting=False)

    async def _give_back(
        self, connection: PooledConnection[AsyncSMTP], reusable: bool, *, adopting: bool
    ) -> None:
        rule = self._rules.adopt if adopting else self._rules.check_in
        freed = self._condition()
        async with freed:
            verdict = rule(
                connection,
                reusable=reusable,
                still_open=connection.smtp.is_connected,
                now=self._clock(),
            )
            freed.notify()
        await self._end(connection, verdict, background=not adopting)

    async def take(self, deadline: float | None = None) -> PooledConnection[AsyncSMTP]:
        """A ready connection taken out of the pool (it no longer counts against ``size``):
        an idle one that passes its check, else a new one. Never waits for a place; give
        it back with :meth:`adopt`."""
        while True:
            freed = self._condition()
            async with freed:
                checkout = self._rules.take_out(self._clock())
                if checkout.stale or checkout.connection is not None:
                    freed.notify_all()  # places freed for callers waiting in acquire()
            for expired in checkout.stale:
                await expired.smtp.goodbye()
            connection = checkout.connection
            if connection is None:
                smtp = await self._open_connection(deadline)
                return self._rules.opened(smtp, self._clock())
            if await self._still_usable(connection):
                return connection
            connection.smtp.close()

    async def adopt(self, connection: PooledConnection[AsyncSMTP], *, reusable: bool) -> None:
        """Take back a connection from :meth:`take`: kept idle when the pool has room (and
        would keep it, as :meth:`release`), else closed (QUIT first when healthy)."""
        await self._give_back(connection, reusable, adopting=True)

    async def _end(
        self, connection: PooledConnection[AsyncSMTP], verdict: Return, *, background: bool
    ) -> None:
        """Do what the rules said of a connection given back. A send's retired connection
        says goodbye in a task of its own: a server may take its time over the 221 (Exim:
        ~200 ms) and the next connection need not wait for it (``close`` waits for every
        goodbye under way); a lent one says it before its caller's block ends."""
        if verdict is Return.QUIT and background:
            self._retire(connection.smtp)
        elif verdict is Return.QUIT:
            await connection.smtp.goodbye()
        elif verdict is Return.DROP:
            connection.smtp.close()

    async def _checkout(self) -> PooledConnection[AsyncSMTP] | None:
        """An idle connection, or None after reserving a place for a new one; waits if full."""
        stale: list[PooledConnection[AsyncSMTP]] = []
        freed = self._condition()
        try:
            async with freed:
                while True:
                    checkout = self._rules.checkout(self._clock())
                    if checkout.stale:
                        stale.extend(checkout.stale)
                        freed.notify_all()
                    if checkout.connection is not None or checkout.open_new:
                        return checkout.connection
                    await freed.wait()
        finally:
            for connection in stale:
                logger.debug("closing a connection idle for over %ss", self._rules.idle_timeout)
                await connection.smtp.goodbye()

    async def _still_usable(self, connection: PooledConnection[AsyncSMTP]) -> bool:
        smtp = connection.smtp
        if smtp.has_unread_data:  # closed, a goodbye or an EOF nobody read
            return False
        try:
            if self._rules.needs_check(connection, self._clock()):
                return (await smtp.noop())[0] == 250
        except (SMTPException, OSError):
            return False
        return True

    async def _open_new(self, deadline: float | None) -> PooledConnection[AsyncSMTP]:
        try:
            smtp = await self._open_connection(deadline)
        except BaseException:
            await self._discard(None)
            raise
        return self._rules.opened(smtp, self._clock())

    async def _discard(self, connection: PooledConnection[AsyncSMTP] | None) -> None:
        """Free the place of a connection lent (or reserved) and now closed."""
        if connection is not None:
            connection.smtp.close()
        freed = self._condition()
        async with freed:
            self._rules.forget()
            freed.notify()

    def _retire(self, smtp: AsyncSMTP) -> None:
        """QUIT a connection the pool is done with in a task of its own (see ``_end``)."""
        self._in_background(smtp.goodbye())

    def open_ahead(self, deadline: float | None = None) -> None:
        """Open a connection in a task of its own for a caller whose lent one retires after
        its share; see ``ConnectionPool.open_ahead``."""
        generation = self._rules.reserve_successor()
        if generation is not None:  # else one is opened ahead already: this part waits
            self._in_background(self._open_ahead(generation, deadline))

    async def _open_ahead(self, generation: int, deadline: float | None) -> None:
        freed = self._condition()
        try:
            smtp = await self._open_connection(deadline)
        except Exception as exc:
            logger.debug("opening a connection ahead failed: %s", exc)
            async with freed:
                self._rules.forget()
                freed.notify()
            return
        async with freed:
            kept = self._rules.opened_ahead(smtp, generation, self._clock())
            freed.notify()
        if not kept:
            await smtp.goodbye()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """``work`` in a task of its own; ``close`` waits for it."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """QUIT every idle connection, all at once, and wait for every goodbye and opening
        under way (a server slow over its 221 costs that wait once, not once per
        connection); lent ones are closed when given back. Reusable after."""
        for connection in self._rules.clear():
            self._retire(connection.smtp)
        while self._background:  # an opening ahead may still end in a goodbye
            await asyncio.gather(*self._background)
        freed = self._condition()
        async with freed:
            freed.notify_all()


class AsyncConnectionFactory:
    """Opens AsyncSMTP connections with ``settings``; the first one's local host name is kept."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings

    async def __call__(self, deadline: float | None = None) -> AsyncSMTP:
        s = self.settings
        smtp = AsyncSMTP(
            s.host,
            s.port,
            local_hostname=s.local_hostname,
            timeout=s.timeout,
            timeouts=s.phase_timeouts,
            use_tls=s.security == "tls",
            start_tls=False,  # set_up below decides, as the blocking Mailer's does
            tls_context=s.ssl_context,
            lmtp=s.protocol == "lmtp",
        )
        with Opening(smtp, s, deadline) as opening:
            opening.greeted(*await smtp.connect(deadline=opening.deadline))
            await smtp.set_up(
                s.security,
                s.login,
                context=s.ssl_context,
                deadline=opening.deadline,
                where=s.address,
            )
        if s.local_hostname is None:
            self.settings = dataclasses.replace(self.settings, local_hostname=smtp.local_hostname)
        logger.debug("opened a connection to %s", s.address)
        return smtp


class AsyncMailer(MailerBase[AsyncConnectionFactory, AsyncConnectionPool]):
    """Sends mail through a pool of reused AsyncSMTP connections; the options, hooks and
    results of ``Mailer``, LMTP and Unix sockets included. ``rate_limit`` is a number of
    messages a second, or a :class:`TokenBucket` shared with other mailers or threads
    (awaited here, never slept on)."""

    _kind = "AsyncMailer"

    def _connections_for(self, settings: ConnectionSettings) -> AsyncConnectionFactory:
        return AsyncConnectionFactory(settings)

    def _pool_for(
        self,
        connections: AsyncConnectionFactory,
        *,
        size: int,
        max_messages: int,
        idle_timeout: float,
    ) -> AsyncConnectionPool:
        return AsyncConnectionPool(
            connections, size=size, max_messages=max_messages, idle_timeout=idle_timeout
        )

    @property
    def open_connections(self) -> int:
        return self._pool.open_connections

    # -- sending -----------------------------------------------------------------

    async def send(
        self, messages: MailItem | Iterable[MailItem], *, retries: int | None = None
    ) -> list[SendResult]:
        """One result per message, in input order; see ``Mailer.send``."""
        prepared = self._prepare(messages)
        results = self._capture(prepared)
        if results is None:
            deadline = self._deadline()
            parts = self._parts(prepared, retries, deadline)
            outcomes = await asyncio.gather(*(self._drive(part, deadline) for part in parts))
            results = merge_parts(outcomes, prepared.done)
        return self._report(results)

    async def open(self) -> None:
        """Make sure one connection can be opened now; see ``Mailer.open``."""
        if self.capturing:
            return
        connection = await self._pool.acquire(self._deadline())
        await self._pool.release(connection, reusable=True)

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[AsyncSMTP]:
        """One ready connection for the caller alone while the block runs; see
        ``Mailer.lend`` (the same rules: it takes no place in the pool)."""
        connection = await self._pool.take(self._deadline())
        try:
            yield connection.smtp
        except BaseException:
            await self._pool.adopt(connection, reusable=False)  # left in an unknown state
            raise
        await self._pool.adopt(connection, reusable=True)

    async def _drive(self, part: PartActions, deadline: float | None) -> PartOutcome:
        """Perform a part's actions: the only place an AsyncMailer waits or talks."""
        answer: Any = None
        while True:
            action = advance(part, answer)
            if isinstance(action, PartOutcome):
                return action
            if isinstance(action, Wait):
                await asyncio.sleep(action.seconds)
                answer = None
            elif isinstance(action, Acquire):
                try:
                    connection = await self._pool.acquire(deadline)
                except _OPEN_ERRORS as exc:
                    logger.warning("could not connect to %s: %s", self.settings.address, exc)
                    answer = exc
                else:
                    answer = self._acquired(connection, self._pool.remaining(connection))
            elif isinstance(action, OpenAhead):
                self._pool.open_ahead(deadline)
                answer = None
            else:
                answer = await self._transmit(action.connection, action.items, deadline)

    async def _transmit(
        self, connection: PooledConnection[AsyncSMTP], items: list[MailItem], deadline: float | None
    ) -> list[SendResult]:
        """One lent connection's share; a cancellation or crash never returns it to the pool."""
        try:
            if self._rate_limiter is not None:
                await asyncio.sleep(self._rate_limiter.reserve())
            sent = await connection.smtp.send_many(items, deadline=deadline)
        except BaseException:
            await self._pool.release(connection, reusable=False)
            raise
        healthy = self._settle(connection, sent, still_open=connection.smtp.is_connected)
        await self._pool.release(connection, reusable=healthy)
        return sent

    # -- closing ------------------------------------------------------------------

    async def aclose(self) -> None:
        """QUIT every pooled connection. The mailer stays usable: it reconnects when needed."""
        await self._pool.close()

    async def __aenter__(self) -> AsyncMailer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
