"""The blinker signal Flask-Mail sends for every message sent (captured when suppressed,
queued with ``MAIL_QUEUE``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import blinker

signals: blinker.Namespace = blinker.Namespace()
email_dispatched: blinker.NamedSignal = signals.signal(
    "email-dispatched",
    doc="Sent with the app as sender and ``message=`` for every message the server "
    "accepted, every message captured when sending is suppressed, and every message "
    "queued for a Celery worker when MAIL_QUEUE is set.",
)


@contextlib.contextmanager
def record_messages() -> Iterator[list[Any]]:
    """Every message dispatched while the block runs (sent or captured, by any app)."""
    recorded: list[Any] = []

    def record(app: Any, message: Any, **extra: Any) -> None:
        recorded.append(message)

    with email_dispatched.connected_to(record):
        yield recorded
