"""AsyncMailer: the Mailer's pool, reuse, reconnect, retries, rate limit and capture, on asyncio.

The same configuration, hooks, signing and capture (:class:`~smtp_backend.mailer_base.MailerBase`),
the same decisions (:mod:`smtp_backend.delivery`: which results are retried, which
connections are kept, how a batch is split) and the same results as
:class:`~smtp_backend.mailer.Mailer`; parts of a batch run as tasks instead of threads.
A cancelled ``send`` closes the connections it was using: none goes back to the pool
in an unknown state.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any

from .aio import AsyncSMTP
from .aio_pool import AsyncConnectionPool, AsyncPooledConnection
from .connection import OPPORTUNISTIC, ConnectionSettings
from .delivery import (
    Acquire,
    Acquired,
    MailItem,
    PartOutcome,
    PartSteps,
    Wait,
    advance,
    deliver_part,
    merge_parts,
    reusable_after,
    split_batch,
)
from .errors import SMTPException
from .mailer_base import MailerBase
from .ratelimit import TokenBucket
from .results import SendResult

__all__ = ["AsyncConnectionFactory", "AsyncMailer"]

logger = logging.getLogger("smtp_backend.mailer")

_OPEN_ERRORS = (SMTPException, OSError, ValueError)

# The running send's deadline, for connections its task opens (the pool calls us bare).
_send_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "smtp_backend_send_deadline", default=None
)


def _no_sleep(_seconds: float) -> None:
    """The bucket only computes the wait; the caller awaits it."""


class AsyncConnectionFactory:
    """Opens AsyncSMTP connections with ``settings``; the first one's local host name is kept."""

    def __init__(self, settings: ConnectionSettings) -> None:
        if settings.protocol != "smtp" or settings.unix_socket:
            raise ValueError("AsyncMailer speaks SMTP over TCP only (no LMTP, no Unix socket)")
        self.settings = settings

    async def __call__(self) -> AsyncSMTP:
        s = self.settings
        token = s.oauth_token
        smtp = AsyncSMTP(
            s.host,
            s.port,
            local_hostname=s.local_hostname,
            timeout=s.timeout,
            timeouts=s.phase_timeouts,
            use_tls=s.security == "tls",
            # None: STARTTLS when offered (opportunistic); True: required; False: never.
            start_tls=None if s.security == OPPORTUNISTIC else s.security == "starttls",
            tls_context=s.ssl_context,
            username=s.username,
            password=s.password,
            oauth_token=token() if callable(token) else token,
        )
        smtp.pipelining = s.pipelining
        smtp.allow_insecure_auth = s.allow_insecure_auth
        smtp.set_debuglevel(s.debuglevel)
        smtp.deadline = _send_deadline.get()
        try:
            await smtp.connect()
        finally:
            smtp.deadline = None
        if s.local_hostname is None:
            self.settings = dataclasses.replace(self.settings, local_hostname=smtp.local_hostname)
        return smtp


class AsyncMailer(MailerBase[AsyncConnectionFactory, AsyncConnectionPool]):
    """Sends mail through a pool of reused AsyncSMTP connections; the options, hooks and
    results of ``Mailer``. LMTP and Unix sockets are not supported here (yet);
    ``rate_limit`` is a number of messages a second."""

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

    def _rate_limiter_for(self, rate_limit: float | TokenBucket) -> TokenBucket:
        if isinstance(rate_limit, TokenBucket):  # its sleep would block the event loop
            raise TypeError("AsyncMailer takes rate_limit as messages a second, not a TokenBucket")
        return TokenBucket(rate_limit, sleep=_no_sleep)

    @property
    def open_connections(self) -> int:
        return self._pool.open_connections

    # -- sending -----------------------------------------------------------------

    async def send(
        self, messages: MailItem | Iterable[MailItem], *, retries: int | None = None
    ) -> list[SendResult]:
        """One result per message, in input order; see ``Mailer.send``."""
        batch = self._prepare(messages)
        results = self._capture(batch)
        if results is None:
            token = _send_deadline.set(self._deadline())
            try:
                retries = self.retries if retries is None else retries
                parts = [
                    deliver_part(
                        run,
                        retries=retries,
                        policy=self.retry_policy,
                        deadline=_send_deadline.get(),
                        clock=time.monotonic,
                    )
                    for run in split_batch(batch.items, self._pool.size)
                ]
                outcomes = await asyncio.gather(*(self._drive(part) for part in parts))
            finally:
                _send_deadline.reset(token)
            results = merge_parts(outcomes, batch.done)
        return self._report(results)

    async def open(self) -> None:
        """Make sure one connection can be opened now; see ``Mailer.open``."""
        if self._outboxes:
            return
        token = _send_deadline.set(self._deadline())
        try:
            connection = await self._pool.acquire()
        finally:
            _send_deadline.reset(token)
        await self._pool.release(connection, reusable=True)

    def _deadline(self) -> float | None:
        total = self.settings.phase_timeouts.total
        return None if total is None else time.monotonic() + total

    async def _drive(self, steps: PartSteps) -> PartOutcome:
        """Perform a part's steps: the only place an AsyncMailer waits or talks."""
        answer: Any = None
        while True:
            step = advance(steps, answer)
            if isinstance(step, PartOutcome):
                return step
            if isinstance(step, Wait):
                await asyncio.sleep(step.seconds)
                answer = None
            elif isinstance(step, Acquire):
                try:
                    connection = await self._pool.acquire()
                except _OPEN_ERRORS as exc:
                    logger.warning("could not connect to %s: %s", self.settings.address, exc)
                    answer = exc
                else:
                    answer = Acquired(connection, self._room(self._pool.remaining(connection)))
            else:
                answer = await self._transmit(step.connection, step.items)

    async def _transmit(
        self, connection: AsyncPooledConnection, items: list[MailItem]
    ) -> list[SendResult]:
        """One lent connection's share; a cancellation or crash never returns it to the pool."""
        try:
            if self._rate_limiter is not None:
                await asyncio.sleep(self._rate_limiter.acquire())
            connection.smtp.deadline = _send_deadline.get()
            try:
                sent = await connection.smtp.send_many(items)
            finally:
                connection.smtp.deadline = None
        except BaseException:
            await self._pool.release(connection, reusable=False)
            raise
        connection.messages += len(items)
        healthy = reusable_after(sent, still_open=connection.smtp.is_connected)
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
