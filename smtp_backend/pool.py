"""A bounded pool of open connections, reused across calls and threads, safe across fork().

A connection is lent to one thread at a time. Returned healthy, it waits idle for the
next caller; one idle longer than ``idle_timeout`` or that has carried
``max_messages`` messages is closed with QUIT; one in an unknown state is closed
without a word. Before an idle connection is lent again it is checked: any unread
byte (a server's goodbye, an EOF) condemns it, and after ``check_after`` seconds idle
a NOOP must be answered 250.
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
from collections.abc import Callable

from .client import SMTP
from .errors import SMTPException
from .pool_ledger import CHECK_IDLE_AFTER, PooledConnection, PoolLedger

__all__ = ["CHECK_IDLE_AFTER", "ConnectionPool", "PooledConnection", "quit_quietly"]

logger = logging.getLogger("smtp_backend.mailer")


def quit_quietly(smtp: SMTP) -> None:
    """QUIT politely if the connection still answers; close it in any case."""
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _has_unread_data(smtp: SMTP) -> bool:
    """True when an idle connection has something to read: EOF, or a reply nobody asked for."""
    sock = smtp.sock
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return True
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(0))


class ConnectionPool:
    """At most ``size`` connections open at once (idle or lent); ``acquire`` waits for one."""

    def __init__(
        self,
        open_connection: Callable[[], SMTP],
        *,
        size: int,
        max_messages: int,
        idle_timeout: float,
        check_after: float = CHECK_IDLE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ledger: PoolLedger[SMTP] = PoolLedger(
            size=size, max_messages=max_messages, idle_timeout=idle_timeout, check_after=check_after
        )
        self.size = size
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self._open_connection = open_connection
        self._clock = clock
        self._lock = threading.Condition()
        _register(self)

    # -- lending ---------------------------------------------------------------

    def acquire(self) -> PooledConnection[SMTP]:
        """A ready connection: an idle one that passes its check, else a new one."""
        while True:
            connection = self._take_idle_or_reserve()
            if connection is None:
                return self._open_new()
            if self._still_usable(connection):
                return connection
            logger.debug("pooled connection failed its check; replacing it")
            self._forget()
            connection.smtp.close()

    def release(self, connection: PooledConnection[SMTP], *, reusable: bool) -> None:
        """Give a connection back; ``reusable=False`` for one in an unknown state."""
        if connection.pid != os.getpid():  # lent before a fork: the pool no longer counts it
            connection.smtp.close()
            return
        with self._lock:
            still_open = connection.smtp.sock is not None
            now = self._clock()
            if self._ledger.give_back(
                connection, reusable=reusable, still_open=still_open, now=now
            ):
                self._lock.notify()
                return
        self._forget()
        if reusable:
            quit_quietly(connection.smtp)
        else:
            connection.smtp.close()

    def remaining(self, connection: PooledConnection[SMTP]) -> int:
        """How many more messages this connection may carry."""
        return self._ledger.remaining(connection)

    def _take_idle_or_reserve(self) -> PooledConnection[SMTP] | None:
        """An idle connection, or None after reserving a slot for a new one; waits if full."""
        expired: list[PooledConnection[SMTP]] = []
        try:
            with self._lock:
                while True:
                    stale = self._ledger.take_stale(self._clock())
                    if stale:
                        expired.extend(stale)
                        self._lock.notify_all()
                    connection = self._ledger.pop_idle()
                    if connection is not None:
                        return connection
                    if self._ledger.reserve():
                        return None
                    self._lock.wait()
        finally:
            for connection in expired:
                logger.debug("closing a connection idle for over %ss", self.idle_timeout)
                quit_quietly(connection.smtp)

    def _still_usable(self, connection: PooledConnection[SMTP]) -> bool:
        smtp = connection.smtp
        if smtp.sock is None:
            return False
        try:
            if _has_unread_data(smtp):
                return False
            if self._ledger.needs_check(connection, self._clock()):
                return smtp.noop()[0] == 250
        except (SMTPException, OSError, ValueError):
            return False
        return True

    def _open_new(self) -> PooledConnection[SMTP]:
        try:
            smtp = self._open_connection()
        except BaseException:
            self._forget()
            raise
        with self._lock:
            return self._ledger.opened(smtp, self._clock(), os.getpid())

    def _forget(self) -> None:
        with self._lock:
            self._ledger.forget()
            self._lock.notify()

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """QUIT every idle connection; lent ones are closed when given back. Reusable after."""
        with self._lock:
            idle = self._ledger.clear()
            self._lock.notify_all()
        for connection in idle:
            quit_quietly(connection.smtp)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connections without a word to the server.

        Closing the child's copy of a socket sends nothing while the parent holds it;
        QUIT or a TLS close_notify would end the parent's session.
        """
        self._lock = threading.Condition()  # the parent's may have been held at the fork
        self._ledger.open = 0
        self.drop_idle()

    def drop_idle(self) -> None:
        """Close the idle connections' sockets without QUIT (for fork() and garbage collection)."""
        for connection in self._ledger.clear():
            with contextlib.suppress(OSError):
                connection.smtp.close()

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or lent."""
        with self._lock:
            return self._ledger.open


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
