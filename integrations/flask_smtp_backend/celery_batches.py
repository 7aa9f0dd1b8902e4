"""Checked Flask messages -> batches on the Celery broker (the ``MAIL_QUEUE`` route)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask

from smtp_backend import Envelope
from smtp_backend.celery import QueuedBatch, enqueue, message_payload

from .message import Message
from .signals import email_dispatched


def enqueue_prepared(
    app: Flask,
    prepared: Sequence[tuple[Message, Envelope]],
    batch_size: int,
    *,
    celery_app: Any = None,
    **options: Any,
) -> list[QueuedBatch]:
    """Queue checked messages, ``batch_size`` a batch; ``email_dispatched`` fires for each
    message once its batch is queued. The Celery app is ``celery_app``, else
    ``app.extensions["celery"]``, else Celery's current app."""
    if celery_app is None:
        celery_app = app.extensions.get("celery")
    payloads = [message_payload(envelope) for _, envelope in prepared]  # all built, then queued
    queued = []
    for start in range(0, len(prepared), batch_size):
        queued += enqueue(
            payloads[start : start + batch_size], batch_size=batch_size, app=celery_app, **options
        )
        for message, _ in prepared[start : start + batch_size]:
            email_dispatched.send(app, message=message)
    return queued
