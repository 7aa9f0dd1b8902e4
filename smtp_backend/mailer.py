"""Mailer: a pooled, thread-safe sender over the blocking client.

``Mailer.send(messages)`` returns one ``SendResult`` per message, in input order. A
large batch is split across up to ``pool_size`` connections sent in parallel
(threads); connections are kept open and reused across calls; a connection lost
before a transaction began is replaced and the transaction sent again; a message
whose fate is unknown (connection lost after its data, before the reply) is reported
UNKNOWN and never resent (RFC 1047); temporary failures are retried with bounded
exponential backoff when asked (``retries=``). The decisions are
:mod:`smtp_backend.delivery`'s, shared with ``AsyncMailer``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

from .capture import CapturedMessage
from .client import SMTP
from .connection import ConnectionFactory, ConnectionSettings
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
from .mailer_base import AfterSend, BeforeSend, MailerBase
from .pool import ConnectionPool, PooledConnection
from .ratelimit import TokenBucket
from .results import SendResult

__all__ = ["AfterSend", "BeforeSend", "CapturedMessage", "MailItem", "Mailer"]

logger = logging.getLogger("smtp_backend.mailer")

_OPEN_ERRORS = (SMTPException, OSError, ValueError)


class Mailer(MailerBase[ConnectionFactory, ConnectionPool]):
    """Sends mail through a pool of reused connections; safe to share between threads.

    ``security``: ``"starttls"`` (default; fails if the server does not offer it,
    nothing sent), ``"tls"`` (TLS from the first byte, port 465),
    ``"starttls-opportunistic"`` (STARTTLS when offered, clear text otherwise) or
    ``"none"``. Certificates and host names are verified, against the system's CAs or
    ``ca_file``, unless ``ssl_context`` says otherwise or
    ``dangerously_skip_tls_verify=True`` (logged as a warning). Logging in over
    clear text to a host that is not loopback raises ``SMTPInsecureAuthError`` unless
    ``allow_insecure_auth=True``. ``debuglevel`` is smtplib's ``set_debuglevel`` for
    each new connection (1: the conversation on stderr, 2: with timestamps).

    ``timeout`` bounds every wait; ``timeouts`` (:class:`Timeouts`) sets one limit per
    phase instead. Either way ``Timeouts.total`` (default 300 s) bounds a whole
    ``send`` call: a stalled server never holds the caller longer. ``username`` with ``password``
    logs in with ``login()``; with ``oauth_token`` (a string, or a callable called for
    each new connection) with ``login_oauth2()``. ``protocol="lmtp"`` speaks LMTP;
    a ``host`` starting with ``/`` is a Unix socket path.

    ``dkim`` (:class:`~smtp_backend.dkim.DKIM`) signs every message once before it is
    sent or captured. ``rate_limit`` (messages a second, or a shared :class:`TokenBucket`)
    paces every thread's sends together. ``capture=True`` records every message in
    ``outbox`` instead of sending it (see :meth:`capture`). Use as a context manager, or call :meth:`close`; pooled
    connections are also closed at interpreter exit, and a forked child forgets the
    parent's (it opens its own).
    """

    def _connections_for(self, settings: ConnectionSettings) -> ConnectionFactory:
        return ConnectionFactory(settings)

    def _pool_for(
        self, connections: ConnectionFactory, *, size: int, max_messages: int, idle_timeout: float
    ) -> ConnectionPool:
        pool = ConnectionPool(
            connections, size=size, max_messages=max_messages, idle_timeout=idle_timeout
        )
        # Garbage collected: close the sockets quietly (interpreter exit QUITs instead).
        weakref.finalize(self, pool.drop_idle).atexit = False
        return pool

    def _rate_limiter_for(self, rate_limit: float | TokenBucket) -> TokenBucket:
        return rate_limit if isinstance(rate_limit, TokenBucket) else TokenBucket(rate_limit)

    # -- sending -----------------------------------------------------------------

    def send(
        self, messages: MailItem | Iterable[MailItem], *, retries: int | None = None
    ) -> list[SendResult]:
        """Send one message or many; one result per message, in input order.

        Items are ``email.message.Message`` objects (envelope from their headers, as
        smtplib's ``send_message``) or :class:`Envelope` objects. Per-message failures
        are in the results (``state``, ``error``), never raised. When no connection
        could be opened and so nothing was sent, the connection's error is raised
        (``OSError``, ``SMTPConnectError``, ``SMTPAuthenticationError``,
        ``SMTPNotSupportedError`` for a missing STARTTLS, ``ssl.SSLError``...).
        ``retries`` (default: the Mailer's) re-sends temporary (4xx) failures after
        ``retry_delay`` seconds, doubling each time up to ``max_retry_delay``.
        """
        batch = self._prepare(messages)
        results = self._capture(batch)
        if results is None:
            deadline = self._deadline()
            runs = split_batch(batch.items, self._pool.size)
            retries = self.retries if retries is None else retries
            outcomes = self._run_parts(
                [
                    deliver_part(
                        run,
                        retries=retries,
                        policy=self.retry_policy,
                        deadline=deadline,
                        clock=time.monotonic,
                    )
                    for run in runs
                ],
                deadline,
            )
            results = merge_parts(outcomes, batch.done)
        return self._report(results)

    def open(self) -> None:
        """Make sure one connection can be opened now: take one from the pool (checked) or
        open it, and put it back for the next send.

        Raises what opening raised (``OSError``, ``SMTPConnectError``,
        ``SMTPAuthenticationError``, ``ssl.SSLError``...). While capturing, does nothing.
        """
        if self._outboxes:
            return
        connection = self._acquire(self._deadline())
        self._pool.release(connection, reusable=True)

    def _deadline(self) -> float | None:
        total = self.settings.phase_timeouts.total
        return None if total is None else time.monotonic() + total

    def _run_parts(self, parts: list[PartSteps], deadline: float | None) -> list[PartOutcome]:
        """Each part in its own thread (the first in the caller's); a crash is re-raised."""
        outcomes: list[PartOutcome] = [PartOutcome() for _ in parts]
        crashes: list[BaseException] = []

        def run(index: int) -> None:
            try:
                outcomes[index] = self._drive(parts[index], deadline)
            except BaseException as exc:  # handed to the calling thread
                crashes.append(exc)

        threads = [
            threading.Thread(target=run, args=(index,), name=f"smtp-mailer-{index}", daemon=True)
            for index in range(1, len(parts))
        ]
        for thread in threads:
            thread.start()
        if parts:
            run(0)
        for thread in threads:
            thread.join()
        if crashes:
            raise crashes[0]
        return outcomes

    def _drive(self, steps: PartSteps, deadline: float | None) -> PartOutcome:
        """Perform a part's steps: the only place a blocking Mailer waits or talks."""
        answer: Any = None
        while True:
            step = advance(steps, answer)
            if isinstance(step, PartOutcome):
                return step
            if isinstance(step, Wait):
                time.sleep(step.seconds)
                answer = None
            elif isinstance(step, Acquire):
                try:
                    connection = self._acquire(deadline)
                except _OPEN_ERRORS as exc:
                    logger.warning("could not connect to %s: %s", self.settings.address, exc)
                    answer = exc
                else:
                    answer = Acquired(connection, self._room(self._pool.remaining(connection)))
            else:
                answer = self._transmit(step.connection, step.items, deadline)

    def _acquire(self, deadline: float | None) -> PooledConnection[SMTP]:
        self._connections.set_deadline(deadline)
        try:
            return self._pool.acquire()
        finally:
            self._connections.set_deadline(None)

    def _transmit(
        self, connection: PooledConnection[SMTP], items: list[MailItem], deadline: float | None
    ) -> list[SendResult]:
        """Send ``items`` over a lent connection and give it back, kept only when healthy."""
        try:
            if self._rate_limiter is not None:
                self._rate_limiter.acquire()
            connection.smtp.deadline = deadline
            try:
                sent = connection.smtp.send_many(items)
            finally:
                connection.smtp.deadline = None
        except BaseException:
            self._pool.release(connection, reusable=False)  # unknown state: never reused
            raise
        connection.messages += len(items)
        healthy = reusable_after(sent, still_open=connection.smtp.sock is not None)
        self._pool.release(connection, reusable=healthy)
        return sent

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """QUIT every pooled connection. The Mailer stays usable: it reconnects when needed."""
        self._pool.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
