"""The pooled sender: one package, two thin I/O faces.

``Mailer`` (threads, :mod:`.sync`) and ``AsyncMailer`` (asyncio, :mod:`.aio`) share
their configuration, hooks, signing and capture (:mod:`.base`), the delivery plan
(:mod:`.planning`: split, reconnect, retry, backoff) and the pool's rules
(:mod:`.pooling`); settings and URLs (:mod:`.connect`, :mod:`.urls`), the rate limit
(:mod:`.ratelimit`), capture (:mod:`.capture`) and DKIM signing (:mod:`.dkim`) live here
too. ``AsyncMailer`` is loaded on first use, so importing the Mailer loads no asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import AfterSend, BeforeSend
from .capture import CapturedMessage
from .planning import MailItem
from .ratelimit import TokenBucket
from .sync import ConnectionPool, Mailer

if TYPE_CHECKING:
    from .aio import AsyncMailer

__all__ = [
    "AfterSend",
    "AsyncMailer",
    "BeforeSend",
    "CapturedMessage",
    "ConnectionPool",
    "MailItem",
    "Mailer",
    "TokenBucket",
]


def __getattr__(name: str) -> object:
    if name == "AsyncMailer":
        from .aio import AsyncMailer

        return AsyncMailer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
