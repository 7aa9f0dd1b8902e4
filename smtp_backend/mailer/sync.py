"""Mailer: the pooled, thread-safe sender over the blocking client, and its connection pool.

``Mailer.send(messages)`` returns one ``SendResult`` per message, in input order. A
large send is split across up to ``pool_size`` connections sent in parallel
(threads); connections are kept open and reused across calls; a connection lost
before a transaction began is replaced and the transaction sent again; a message
whose fate is unknown (connection lost after its data, before the reply) is reported
UNKNOWN and never resent (RFC 1047); temporary failures are retried with bounded
exponential backoff when asked (``retries=``). The decisions are
:mod:`.planning`'s and :mod:`.pooling`'s, shared with ``AsyncMailer``: this module
keeps only the blocking I/O (threads, locks, sockets, sleeping).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import selectors
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..client import SMTP
from ..errors import SMTPException
from ..results import SendResult
from .base import AfterSend, BeforeSend, MailerBase
from .capture import CapturedMessage
from .connect import ConnectionFactory, ConnectionSettings
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

__all__ = [
    "AfterSend",
    "BeforeSend",
    "CapturedMessage",
    "ConnectionPool",
    "MailItem",
    "Mailer",
]

logger = logging.getLogger("smtp_backend.mailer")

_OPEN_ERRORS = (SMTPException, OSError, ValueError)


def _has_unread_data(smtp: SMTP) -> bool:
    """True when an idle connection has something to read: EOF, or a reply nobody asked for."""
    sock = smtp.sock
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return True
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(0))


class ConnectionPool(PoolFace[SMTP, Callable[[float | None], SMTP]]):
    """At most ``size`` connections open at once (idle or lent; one more for a moment
    while a retiring one's successor is opened ahead); ``acquire`` waits for one.

    A connection is lent to one thread at a time; the rules (reuse, staleness, the NOOP
    check, what is kept) are :mod:`.pooling`'s; this class does their I/O.
    Safe across ``fork()``: a child never talks on its parent's connections.
    """

    def __init__(
        self,
        open_connection: Callable[[float | None], SMTP],
        *,
        clock: Callable[[], float] = time.monotonic,
        **rules: Any,
    ) -> None:
        super().__init__(open_connection, clock=clock, **rules)
        self._lock = threading.Condition()
        self._background: set[threading.Thread] = set()  # goodbyes, openings ahead
        _register(self)

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or lent."""
        with self._lock:
            return self._rules.open

    def acquire(self, deadline: float | None = None) -> PooledConnection[SMTP]:
        """A ready connection: an idle one that passes its check, else a new one opened
        by ``deadline`` (a ``time.monotonic()`` instant; None: the settings' limits only)."""
        while True:
            connection = self._checkout()
            if connection is None:
                return self._open_new(deadline)
            if self._still_usable(connection):
                return connection
            logger.debug("pooled connection failed its check; replacing it")
            self._discard(connection)

    def release(self, connection: PooledConnection[SMTP], *, reusable: bool) -> None:
        """Give a connection back; ``reusable=False`` for one in an unknown state."""
        self._give_back(connection, reusable, adopting=False)

    def _give_back(
        self, connection: PooledConnection[SMTP], reusable: bool, *, adopting: bool
    ) -> None:
        rule = self._rules.adopt if adopting else self._rules.check_in
        if connection.pid != os.getpid():  # lent before a fork: the pool no longer counts it
            connection.smtp.close()
            return
        with self._lock:
            verdict = rule(
                connection,
                reusable=reusable,
                still_open=connection.smtp.sock is not None,
                now=self._clock(),
            )
            self._lock.notify()
        self._end(connection, verdict, background=not adopting)

    def _end(
        self, connection: PooledConnection[SMTP], verdict: Return, *, background: bool
    ) -> None:
        """Do what the rules said of a connection given back. A send's retired connection
        says goodbye in the background; a lent one before its caller's block ends."""
        if verdict is Return.QUIT and background:
            self._retire(connection.smtp)
        elif verdict is Return.QUIT:
            connection.smtp.goodbye()
        elif verdict is Return.DROP:
            connection.smtp.close()

    def take(self, deadline: float | None = None) -> PooledConnection[SMTP]:
        """A ready connection taken out of the pool (it no longer counts against ``size``):
        an idle one that passes its check, else a new one. Never waits for a place; give
        it back with :meth:`adopt`."""
        while True:
            with self._lock:
                checkout = self._rules.take_out(self._clock())
                if checkout.stale or checkout.connection is not None:
                    self._lock.notify_all()  # places freed for callers waiting in acquire()
            for expired in checkout.stale:
                expired.smtp.goodbye()
            connection = checkout.connection
            if connection is None:
                smtp = self._open_connection(deadline)
                with self._lock:
                    return self._rules.opened(smtp, self._clock(), os.getpid())
            if self._still_usable(connection):
                return connection
            connection.smtp.close()

    def adopt(self, connection: PooledConnection[SMTP], *, reusable: bool) -> None:
        """Take back a connection from :meth:`take`: kept idle when the pool has room (and
        would keep it, as :meth:`release`), else closed (QUIT first when healthy)."""
        self._give_back(connection, reusable, adopting=True)

    def _checkout(self) -> PooledConnection[SMTP] | None:
        """An idle connection, or None after reserving a place for a new one; waits if full."""
        stale: list[PooledConnection[SMTP]] = []
        try:
            with self._lock:
                while True:
                    checkout = self._rules.checkout(self._clock())
                    if checkout.stale:
                        stale.extend(checkout.stale)
                        self._lock.notify_all()
                    if checkout.connection is not None or checkout.open_new:
                        return checkout.connection
                    self._lock.wait()
        finally:
            for connection in stale:
                logger.debug("closing a connection idle for over %ss", self._rules.idle_timeout)
                connection.smtp.goodbye()

    def _still_usable(self, connection: PooledConnection[SMTP]) -> bool:
        smtp = connection.smtp
        if smtp.sock is None:
            return False
        try:
            if _has_unread_data(smtp):
                return False
            if self._rules.needs_check(connection, self._clock()):
                return smtp.noop()[0] == 250
        except (SMTPException, OSError, ValueError):
            return False
        return True

    def _open_new(self, deadline: float | None) -> PooledConnection[SMTP]:
        try:
            smtp = self._open_connection(deadline)
        except BaseException:
            self._discard(None)
            raise
        with self._lock:
            return self._rules.opened(smtp, self._clock(), os.getpid())

    def _discard(self, connection: PooledConnection[SMTP] | None) -> None:
        """Free the place of a connection lent (or reserved) and now closed."""
        with self._lock:
            self._rules.forget()
            self._lock.notify()
        if connection is not None:
            connection.smtp.close()

    def _retire(self, smtp: SMTP) -> None:
        """QUIT a connection the pool is done with, off the caller's thread: a server may
        take its time over the 221 and the caller's next connection need not wait for it.
        ``close`` waits for every goodbye still under way."""
        self._in_background(smtp.goodbye, "smtp-quit")

    def open_ahead(self, deadline: float | None = None) -> None:
        """Open a connection in the background for a caller whose lent one retires after
        its share (``planning.OpenAhead``); it waits idle for the next ``acquire``. A
        failure is left for that ``acquire`` to meet (it opens one itself)."""
        with self._lock:
            generation = self._rules.reserve_successor()
        if generation is not None:  # else one is opened ahead already: this part waits
            self._in_background(lambda: self._open_ahead(generation, deadline), "smtp-open-ahead")

    def _open_ahead(self, generation: int, deadline: float | None) -> None:
        try:
            smtp = self._open_connection(deadline)
        except Exception as exc:
            logger.debug("opening a connection ahead failed: %s", exc)
            with self._lock:
                self._rules.forget()
                self._lock.notify()
            return
        with self._lock:
            kept = self._rules.opened_ahead(smtp, generation, self._clock(), os.getpid())
            self._lock.notify()
        if not kept:
            smtp.goodbye()

    def _in_background(self, work: Callable[[], None], name: str) -> None:
        """``work`` in a thread of its own; ``close`` waits for it."""

        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._background.discard(thread)
                    self._lock.notify_all()

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._background.add(thread)
        thread.start()

    def close(self) -> None:
        """QUIT every idle connection, all at once, and wait for every goodbye and opening
        under way (a server slow over its 221 costs that wait once, not once per
        connection); lent ones are closed when given back. Reusable after."""
        with self._lock:
            idle = self._rules.clear()
            self._lock.notify_all()
        for connection in idle:
            self._retire(connection.smtp)
        with self._lock:
            while self._background:
                self._lock.wait()

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connections without a word to the server.

        Closing the child's copy of a socket sends nothing while the parent holds it;
        QUIT or a TLS close_notify would end the parent's session.
        """
        self._lock = threading.Condition()  # the parent's may have been held at the fork
        self._background = set()  # the parent's threads are not in the child
        self._rules.open = 0
        self.drop_idle()

    def drop_idle(self) -> None:
        """Close the idle connections' sockets without QUIT (for fork() and garbage collection)."""
        for connection in self._rules.clear():
            with contextlib.suppress(OSError):
                connection.smtp.close()


_live_pools: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()
_registry_lock = threading.Lock()


def _register(pool: ConnectionPool) -> None:
    with _registry_lock:
        _live_pools.add(pool)


def _close_all_at_exit() -> None:
    for pool in list(_live_pools):
        with contextlib.suppress(Exception):
            pool.close()


def _forget_all_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for pool in list(_live_pools):
        pool.forget_after_fork()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_in_child)


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
    ``send`` call: a stalled server never holds the caller longer. ``username`` with
    ``password`` logs in with ``login()``; with ``oauth_token`` (a string, or a callable
    called for each new connection) with ``login_oauth2()``. ``protocol="lmtp"`` speaks
    LMTP; a ``host`` starting with ``/`` is a Unix socket path.

    ``dkim`` (:class:`~smtp_backend.DKIM`) signs every message once before it is
    sent or captured. ``rate_limit`` (messages a second, or a shared :class:`TokenBucket`)
    paces every thread's sends together. ``capture=True`` records every message in
    ``outbox`` instead of sending it (see :meth:`capture`). Use as a context manager, or
    call :meth:`close`; pooled connections are also closed at interpreter exit, and a
    forked child forgets the parent's (it opens its own).
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
        prepared = self._prepare(messages)
        results = self._capture(prepared)
        if results is None:
            deadline = self._deadline()
            outcomes = self._run_parts(self._parts(prepared, retries, deadline), deadline)
            results = merge_parts(outcomes, prepared.done)
        return self._report(results)

    def open(self) -> None:
        """Make sure one connection can be opened now: take one from the pool (checked) or
        open it, and put it back for the next send.

        Raises what opening raised (``OSError``, ``SMTPConnectError``,
        ``SMTPAuthenticationError``, ``ssl.SSLError``...). While capturing, does nothing.
        """
        if self.capturing:
            return
        connection = self._pool.acquire(self._deadline())
        self._pool.release(connection, reusable=True)

    @contextlib.contextmanager
    def lend(self) -> Iterator[SMTP]:
        """One ready connection for the caller alone while the block runs (smtplib's API on
        it): an idle pooled one, else a new one; then into the pool when it has room and the
        connection is still open, else closed (closed too if the block raised).

        A lent connection takes no place in the pool, so holding one never makes a send
        (or another ``lend``) wait, in this thread or another. Opening raises as
        :meth:`open`. For a framework whose API hands out the connection (Django's
        ``backend.connection``); :meth:`send` never uses a lent connection.
        """
        connection = self._pool.take(self._deadline())
        try:
            yield connection.smtp
        except BaseException:
            self._pool.adopt(connection, reusable=False)  # left in an unknown state
            raise
        self._pool.adopt(connection, reusable=True)

    def _run_parts(self, parts: list[PartActions], deadline: float | None) -> list[PartOutcome]:
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

    def _drive(self, part: PartActions, deadline: float | None) -> PartOutcome:
        """Perform a part's actions: the only place a blocking Mailer waits or talks."""
        answer: Any = None
        while True:
            action = advance(part, answer)
            if isinstance(action, PartOutcome):
                return action
            if isinstance(action, Wait):
                time.sleep(action.seconds)
                answer = None
            elif isinstance(action, Acquire):
                try:
                    connection = self._pool.acquire(deadline)
                except _OPEN_ERRORS as exc:
                    logger.warning("could not connect to %s: %s", self.settings.address, exc)
                    answer = exc
                else:
                    answer = self._acquired(connection, self._pool.remaining(connection))
            elif isinstance(action, OpenAhead):
                self._pool.open_ahead(deadline)
                answer = None
            else:
                answer = self._transmit(action.connection, action.items, deadline)

    def _transmit(
        self, connection: PooledConnection[SMTP], items: list[MailItem], deadline: float | None
    ) -> list[SendResult]:
        """Send ``items`` over a lent connection and give it back, kept only when healthy."""
        try:
            if self._rate_limiter is not None:
                self._rate_limiter.acquire()
            sent = connection.smtp.send_many(items, deadline=deadline)
        except BaseException:
            self._pool.release(connection, reusable=False)  # unknown state: never reused
            raise
        healthy = self._settle(connection, sent, still_open=connection.smtp.sock is not None)
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
