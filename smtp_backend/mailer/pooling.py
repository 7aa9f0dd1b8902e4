"""The pool's rules, without I/O, locks or clocks: who is idle, how many are open, which
are stale, which are checked before reuse, which are kept when given back.

``ConnectionPool`` (threads, :mod:`.sync`) and ``AsyncConnectionPool`` (asyncio,
:mod:`.aio`) hold one ``PoolRules`` each, ask it under their own lock, and do what it
says (NOOP, QUIT, close, wait) themselves: the two faces differ only in their I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Opener = TypeVar("Opener")  # what opens a connection: a function, or a coroutine function

CHECK_IDLE_AFTER = 1.0  # seconds idle after which a connection is NOOP-checked before reuse


@dataclass(eq=False)
class PooledConnection(Generic[T]):
    """One open connection and its bookkeeping; ``messages`` counts transactions it carried."""

    smtp: T
    opened_at: float
    last_used: float
    generation: int
    pid: int = 0  # the process that opened it (a forked child must not use it)
    messages: int = 0


class Return(enum.Enum):
    """What to do with a connection given back (see ``PoolRules.check_in``)."""

    KEEP = "keep"  # kept idle for the next caller
    QUIT = "quit"  # healthy but done (too many messages, pool cleared): QUIT, then close
    DROP = "drop"  # closed already, or in an unknown state: close without a word


@dataclass
class Checkout(Generic[T]):
    """The answer to a caller asking for a connection: exactly one of ``connection``
    (idle: check it, then lend it), ``open_new`` (a place is reserved: open one in it)
    or neither (wait until a connection is given back). ``stale`` connections were idle
    too long: QUIT and close them first, outside the lock."""

    connection: PooledConnection[T] | None = None
    open_new: bool = False
    stale: list[PooledConnection[T]] = field(default_factory=list)


class PoolRules(Generic[T]):
    """At most ``size`` connections open (idle or lent; one more for a moment, see
    ``reserve_successor``); each carries at most
    ``max_messages``; one idle over ``idle_timeout`` seconds is stale; one idle over
    ``check_after`` seconds is checked before it is lent again."""

    def __init__(
        self,
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
        self.check_after = check_after
        self.idle: list[PooledConnection[T]] = []  # most recently used last
        self.open = 0  # connections open or being opened, idle or lent
        self.generation = 0  # bumped by clear(): connections lent before it are not kept

    def checkout(self, now: float) -> Checkout[T]:
        """Lend the most recently used idle connection, else reserve a place, else wait."""
        stale = self.take_stale(now)
        connection = self.pop_idle()
        if connection is not None:
            return Checkout(connection=connection, stale=stale)
        return Checkout(open_new=self.reserve(), stale=stale)

    def take_out(self, now: float) -> Checkout[T]:
        """An idle connection leaving the pool for good (``connection``; it no longer counts
        against ``size``), or None: open one outside the pool. Never waits."""
        stale = self.take_stale(now)
        connection = self.pop_idle()
        if connection is not None:
            self.forget()
        return Checkout(connection=connection, stale=stale)

    def adopt(
        self, connection: PooledConnection[T], *, reusable: bool, still_open: bool, now: float
    ) -> Return:
        """A connection from ``take_out`` coming back: kept idle when the pool has a place
        (and would keep it), else closed (QUIT first when healthy)."""
        if self.reserve():
            return self.check_in(connection, reusable=reusable, still_open=still_open, now=now)
        return Return.QUIT if reusable and still_open else Return.DROP

    def check_in(
        self, connection: PooledConnection[T], *, reusable: bool, still_open: bool, now: float
    ) -> Return:
        """A connection given back: kept idle, or forgotten (QUIT when healthy, else dropped)."""
        if self.give_back(connection, reusable=reusable, still_open=still_open, now=now):
            return Return.KEEP
        self.forget()
        return Return.QUIT if reusable and still_open else Return.DROP

    def take_stale(self, now: float) -> list[PooledConnection[T]]:
        """Remove and return the idle connections unused for over ``idle_timeout``."""
        stale = [c for c in self.idle if now - c.last_used > self.idle_timeout]
        if stale:
            self.idle = [c for c in self.idle if c not in stale]
            self.open -= len(stale)
        return stale

    def pop_idle(self) -> PooledConnection[T] | None:
        """The most recently used idle connection, lent from now on."""
        return self.idle.pop() if self.idle else None

    def reserve(self) -> bool:
        """Count a connection about to be opened; False when ``size`` are open already."""
        if self.open >= self.size:
            return False
        self.open += 1
        return True

    def reserve_successor(self) -> int | None:
        """Count a connection opened ahead for a lent one that retires after its share: it
        takes that one's place, so ``size`` may be passed by one (never more: None when it
        already is) until that one is given back and forgotten. Returns the generation to
        open it in."""
        if self.open > self.size:
            return None
        self.open += 1
        return self.generation

    def forget(self) -> None:
        """One connection (lent, or reserved and never opened) is closed: free its place."""
        self.open -= 1

    def opened(self, smtp: T, now: float, pid: int = 0) -> PooledConnection[T]:
        """The record of a connection just opened in a reserved place."""
        return PooledConnection(smtp, now, now, self.generation, pid)

    def opened_ahead(self, smtp: T, generation: int, now: float, pid: int = 0) -> bool:
        """A connection opened ahead (see ``reserve_successor``) kept idle for the next
        caller; False when the pool was cleared meanwhile: QUIT it."""
        connection = PooledConnection(smtp, now, now, generation, pid)
        if self.give_back(connection, reusable=True, still_open=True, now=now):
            return True
        self.forget()
        return False

    def give_back(
        self, connection: PooledConnection[T], *, reusable: bool, still_open: bool, now: float
    ) -> bool:
        """Keep a returned connection idle when it may carry more; False: close and forget it."""
        keep = (
            reusable
            and still_open
            and connection.generation == self.generation
            and connection.messages < self.max_messages
        )
        if keep:
            connection.last_used = now
            self.idle.append(connection)
        return keep

    def remaining(self, connection: PooledConnection[T]) -> int:
        """How many more messages this connection may carry."""
        return max(0, self.max_messages - connection.messages)

    def needs_check(self, connection: PooledConnection[T], now: float) -> bool:
        """Idle long enough that the server may have gone: NOOP before lending it."""
        return now - connection.last_used > self.check_after

    def clear(self) -> list[PooledConnection[T]]:
        """Remove and return every idle connection; lent ones will not be kept."""
        idle, self.idle = self.idle, []
        self.open = max(0, self.open - len(idle))
        self.generation += 1
        return idle


class PoolFace(Generic[T, Opener]):
    """What both pools are made of: the rules, the opener, the clock (the face's: this
    module reads none); each face adds its
    lock and its I/O (``ConnectionPool`` for threads, ``AsyncConnectionPool`` for asyncio)."""

    def __init__(
        self,
        open_connection: Opener,
        *,
        size: int,
        max_messages: int,
        idle_timeout: float,
        clock: Callable[[], float],
        check_after: float = CHECK_IDLE_AFTER,
    ) -> None:
        self._rules: PoolRules[T] = PoolRules(
            size=size, max_messages=max_messages, idle_timeout=idle_timeout, check_after=check_after
        )
        self.size = size
        self._open_connection = open_connection
        self._clock = clock

    def remaining(self, connection: PooledConnection[T]) -> int:
        """How many more messages this connection may carry."""
        return self._rules.remaining(connection)
