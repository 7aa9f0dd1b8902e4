"""A token bucket: at most ``rate`` messages a second, shared by every thread of a Mailer,
every task of an AsyncMailer, or several mailers given the same bucket."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable


class TokenBucket:
    """``acquire()`` returns when one message may go; callers wait their turn, in order.

    The bucket holds up to ``burst`` tokens (default: one second's worth, at least 1)
    and refills at ``rate`` tokens a second. A caller that finds it empty reserves the
    next token (the count goes negative) and sleeps until it is due, without holding the
    lock, so threads are served first come, first served. ``clock`` and ``sleep`` are
    injectable so tests can run it on a fake clock.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be a positive number of messages a second, not {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()
        _live_buckets.add(self)

    def acquire(self) -> float:
        """Take one token, waiting if none is left; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def reserve(self) -> float:
        """Take one token now and return the seconds until it is due, without waiting:
        an asyncio caller awaits that long itself (the event loop must not block)."""
        with self._lock:  # held for arithmetic only, never across a wait
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            return -self._tokens / self.rate if self._tokens < 0 else 0.0

    def reset_lock(self) -> None:
        """A fresh lock, for a forked child (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()


# A child forked while another thread held a bucket's lock would wait on it forever.
_live_buckets: weakref.WeakSet[TokenBucket] = weakref.WeakSet()


def _reset_locks_in_child() -> None:
    for bucket in list(_live_buckets):
        bucket.reset_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_in_child)
