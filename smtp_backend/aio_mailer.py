"""AsyncMailer: the Mailer's pool, reuse, reconnect, retries, rate limit and capture, on asyncio.

The same configuration (``ConnectionSettings``, ``from_url``), the same decisions
(which results are retried, which connections are kept, how a batch is split) and
the same results as :class:`~smtp_backend.mailer.Mailer`; parts of a batch run as
tasks instead of threads. A cancelled ``send`` closes the connections it was using:
none goes back to the pool in an unknown state.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import math
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .aio import AsyncSMTP
from .aio_pool import AsyncConnectionPool, AsyncPooledConnection
from .capture import CapturedMessage, capture_item
from .connection import (
    DEFAULT_TIMEOUT,
    OPPORTUNISTIC,
    ConnectionSettings,
    TokenSource,
    default_port,
    tls_context,
)
from .errors import SMTPException, SMTPServerDisconnected
from .mailer import (
    MIN_MESSAGES_PER_CONNECTION,
    RECONNECTS_PER_PART,
    MailItem,
    _as_items,
    _lost_before_start,
    _not_attempted,
    _PartOutcome,
    _split,
    _temporary_failure,
)
from .ratelimit import TokenBucket
from .results import MessageState, SendResult
from .timeouts import Timeouts

__all__ = ["AsyncMailer"]

logger = logging.getLogger("smtp_backend.mailer")

# The running send's deadline, for connections its task opens (the pool calls us bare).
_send_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "smtp_backend_send_deadline", default=None
)


def _no_sleep(_seconds: float) -> None:
    """The bucket only computes the wait; the caller awaits it."""


class AsyncMailer:
    """Sends mail through a pool of reused AsyncSMTP connections; see ``Mailer``.

    ``security``: ``"starttls"`` (default; fails if not offered), ``"tls"``,
    ``"starttls-opportunistic"`` or ``"none"``; ``ca_file``,
    ``dangerously_skip_tls_verify`` and ``timeouts`` as for ``Mailer``. LMTP and Unix
    sockets are not supported here (yet).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        oauth_token: TokenSource | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dangerously_skip_tls_verify: bool = False,
        timeouts: Timeouts | None = None,
        pool_size: int = 4,
        max_messages_per_connection: int = 100,
        idle_timeout: float = 30.0,
        pipelining: bool = True,
        protocol: str = "smtp",
        rate_limit: float | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        capture: bool = False,
    ) -> None:
        self.settings = ConnectionSettings(
            host=host,
            port=default_port(security, protocol) if port is None else port,
            security=security,
            protocol=protocol,
            username=username,
            password=password,
            oauth_token=oauth_token,
            timeout=timeout,
            local_hostname=local_hostname,
            ssl_context=ssl_context,
            pipelining=pipelining,
            timeouts=timeouts,
        )
        if security != "none" or ca_file is not None or dangerously_skip_tls_verify:
            context = tls_context(
                ssl_context, ca_file, dangerously_skip_tls_verify, where=self.settings.address
            )
            self.settings = dataclasses.replace(self.settings, ssl_context=context)
        if protocol != "smtp" or self.settings.unix_socket:
            raise ValueError("AsyncMailer speaks SMTP over TCP only (no LMTP, no Unix socket)")
        if retries < 0 or retry_delay < 0 or max_retry_delay < 0:
            raise ValueError("retries, retry_delay and max_retry_delay must not be negative")
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._pool = AsyncConnectionPool(
            self._open_connection,
            size=pool_size,
            max_messages=max_messages_per_connection,
            idle_timeout=idle_timeout,
        )
        self._rate_limiter = (
            TokenBucket(rate_limit, sleep=_no_sleep) if rate_limit is not None else None
        )
        #: Every message captured while ``capture=True`` (None otherwise).
        self.outbox: list[CapturedMessage] | None = None
        self._outboxes: list[list[CapturedMessage]] = []
        if capture:
            self.outbox = []
            self._outboxes.append(self.outbox)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AsyncMailer:
        """An AsyncMailer from a URL, exactly as ``Mailer.from_url``."""
        from .urls import parse_mailer_url

        parsed = parse_mailer_url(url)
        clash = sorted(set(parsed) & set(options))
        if clash:
            raise ValueError(f"{', '.join(clash)} given both in the URL and as arguments")
        return cls(**parsed, **options)

    def __repr__(self) -> str:
        s = self.settings
        user = f" user={s.username!r}" if s.username else ""
        return f"<AsyncMailer {s.security} {s.address}{user}>"

    @property
    def open_connections(self) -> int:
        return self._pool.open_connections

    async def _open_connection(self) -> AsyncSMTP:
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
        smtp.deadline = _send_deadline.get()
        try:
            await smtp.connect()
        finally:
            smtp.deadline = None
        if s.local_hostname is None:
            self.settings = dataclasses.replace(self.settings, local_hostname=smtp.local_hostname)
        return smtp

    # -- sending -----------------------------------------------------------------

    async def send(
        self, messages: MailItem | Iterable[MailItem], *, retries: int | None = None
    ) -> list[SendResult]:
        """One result per message, in input order; see ``Mailer.send``."""
        items = _as_items(messages)
        if self._outboxes:
            return self._capture(items)
        total = self.settings.phase_timeouts.total
        token = _send_deadline.set(None if total is None else time.monotonic() + total)
        try:
            return await self._deliver(items, self.retries if retries is None else retries)
        finally:
            _send_deadline.reset(token)

    def _capture(self, items: list[MailItem]) -> list[SendResult]:
        results = []
        for index, item in enumerate(items):
            result, record = capture_item(index, item)
            if record is not None:
                for outbox in self._outboxes:
                    outbox.append(record)
            results.append(result)
        return results

    async def _deliver(self, items: list[MailItem], retries: int) -> list[SendResult]:
        if not items:
            return []
        indexed = list(enumerate(items))
        parts = min(self._pool.size, math.ceil(len(items) / MIN_MESSAGES_PER_CONNECTION))
        runs = _split(indexed, parts)
        outcomes = [_PartOutcome() for _ in runs]
        await asyncio.gather(
            *(self._send_part(run, retries, o) for run, o in zip(runs, outcomes, strict=True))
        )
        merged: dict[int, SendResult] = {}
        for outcome in outcomes:
            merged.update(outcome.results)
        results = [merged[index] for index in range(len(items))]
        setup_errors = [o.setup_error for o in outcomes if o.setup_error is not None]
        if setup_errors and all(r.state is MessageState.NOT_ATTEMPTED for r in results):
            raise setup_errors[0]
        return results

    async def _send_part(
        self, run: list[tuple[int, MailItem]], retries: int, outcome: _PartOutcome
    ) -> None:
        pending = run
        for attempt in range(retries + 1):
            if attempt:
                delay = min(self.retry_delay * 2 ** (attempt - 1), self.max_retry_delay)
                deadline = _send_deadline.get()
                if deadline is not None and time.monotonic() + delay >= deadline:
                    return  # no time left: the temporary refusals stand
                await asyncio.sleep(delay)
            await self._transmit(pending, outcome)
            if outcome.setup_error is not None:
                return
            pending = [(i, item) for i, item in pending if _temporary_failure(outcome.results[i])]
            if not pending:
                return

    async def _transmit(self, pending: list[tuple[int, MailItem]], outcome: _PartOutcome) -> None:
        """Send ``pending`` over pooled connections, replacing ones lost before a transaction."""
        queue = list(pending)
        reconnects = 0
        while queue:
            try:
                connection = await self._pool.acquire()
            except (SMTPException, OSError, ValueError) as exc:
                logger.warning("could not connect to %s: %s", self.settings.address, exc)
                outcome.setup_error = exc
                for index, item in queue:
                    outcome.results[index] = _not_attempted(index, item, exc)
                return
            room = self._pool.remaining(connection)
            batch, queue = queue[:room], queue[room:]
            sent = await self._send_batch(connection, [item for _, item in batch])
            lost = []
            for (index, item), result in zip(batch, sent, strict=True):
                if _lost_before_start(result) and reconnects < RECONNECTS_PER_PART:
                    lost.append((index, item))
                else:
                    outcome.results[index] = dataclasses.replace(result, index=index)
            if lost:
                reconnects += 1
                queue = lost + queue

    async def _send_batch(
        self, connection: AsyncPooledConnection, items: list[MailItem]
    ) -> list[SendResult]:
        """One pooled connection's share; a cancellation or crash never returns it to the pool."""
        connection.smtp.deadline = _send_deadline.get()
        try:
            if self._rate_limiter is None:
                sent = await connection.smtp.send_many(items)
            else:
                sent = []
                for item in items:  # paced: each message waits for its token
                    await asyncio.sleep(self._rate_limiter.acquire())
                    sent.extend(await connection.smtp.send_many([item]))
                    if not connection.smtp.is_connected:
                        break
                sent = _fill_not_sent(sent, items)
        except BaseException:
            connection.smtp.deadline = None
            await self._pool.release(connection, reusable=False)
            raise
        connection.smtp.deadline = None
        connection.messages += len(items)
        healthy = connection.smtp.is_connected and not any(
            r.state is MessageState.UNKNOWN or _lost_before_start(r) for r in sent
        )
        await self._pool.release(connection, reusable=healthy)
        return sent

    # -- capture and closing ----------------------------------------------------------

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[CapturedMessage]]:
        """Record instead of send while the block runs; yields the outbox."""
        outbox: list[CapturedMessage] = []
        self._outboxes = [*self._outboxes, outbox]
        try:
            yield outbox
        finally:
            self._outboxes = [o for o in self._outboxes if o is not outbox]

    async def aclose(self) -> None:
        """QUIT every pooled connection. The mailer stays usable: it reconnects when needed."""
        await self._pool.close()

    async def __aenter__(self) -> AsyncMailer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _fill_not_sent(sent: list[SendResult], items: list[MailItem]) -> list[SendResult]:
    """Paced sending stopped on a lost connection: the rest were never attempted."""
    error = SMTPServerDisconnected("Connection unexpectedly closed")
    tail = [_not_attempted(i, item, error) for i, item in enumerate(items)][len(sent) :]
    return [dataclasses.replace(r, index=i) for i, r in enumerate(sent)] + tail
