"""The Celery task that sends a batch, and ``enqueue`` that splits messages into batches."""

from __future__ import annotations

import email.message
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import celery  # type: ignore[import-untyped,import-not-found,unused-ignore]
from celery.signals import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
    worker_process_shutdown,
    worker_shutdown,
)
from celery.utils.dispatch import Signal  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ..results import Envelope, MessageState
from .batch import BatchOutcome
from .ledger import Owner
from .payload import Payload, ResultDict, message_payload
from .worker import close_worker_context, worker_context

__all__ = ["TASK_NAME", "QueuedBatch", "batch_sent", "enqueue", "send_batch"]

logger = logging.getLogger("smtp_backend.celery")

TASK_NAME = "smtp_backend.send_batch"
DEFAULT_BATCH_SIZE = 100

#: Sent in the worker after each delivery of a batch: ``sender`` is the task,
#: ``task_id``, ``attempt`` (0 first), ``results`` (one dict per message), and
#: ``retrying`` (True when some temporary failures will be tried again).
batch_sent = Signal(name="smtp_backend_batch_sent")


def _log(task_id: str, attempt: int, outcome: BatchOutcome) -> None:
    for result in outcome.results:
        if result["state"] != MessageState.SENT.value:
            reply = result["reply"] or {}
            error = result["error"] or {}
            logger.warning(
                "task %s message %s %s (%s): reply=%s error=%s %s",
                task_id,
                result["key"],
                result["state"],
                result["classification"],
                reply.get("code", "-"),
                error.get("type", "-"),
                error.get("message", ""),
            )
    logger.info(
        "task %s attempt %d: %d sent, %d refused, %d not attempted, %d unknown%s",
        task_id,
        attempt,
        outcome.count(MessageState.SENT),
        outcome.count(MessageState.REFUSED),
        outcome.count(MessageState.NOT_ATTEMPTED),
        outcome.count(MessageState.UNKNOWN),
        "; temporary failures will be retried" if outcome.retrying else "",
    )


def _send_batch(self: Any, payloads: list[Payload]) -> list[ResultDict]:
    """Send ``payloads`` through this process's Mailer; one result dict per payload.

    Temporary failures (4xx, connection lost before the data) make the task retry
    itself with exponential backoff; the retry sends only those (the others are done
    in the ledger). After the last retry they are final, as are permanent failures.
    A message another delivery was sending when it stopped is UNKNOWN, never resent.
    """
    context = worker_context(self.app.conf)
    settings = context.settings
    attempt = int(self.request.retries or 0)
    owner = Owner.this_process(uuid.uuid4().hex)
    outcome = context.sender.send(
        payloads, owner=owner, attempt=attempt, last=attempt >= settings.max_retries
    )
    _log(self.request.id, attempt, outcome)
    batch_sent.send(
        sender=self,
        task_id=self.request.id,
        attempt=attempt,
        results=outcome.results,
        retrying=outcome.retrying,
    )
    if outcome.retrying:
        raise self.retry(
            countdown=settings.retry_countdown(attempt), max_retries=settings.max_retries
        )
    return outcome.results


send_batch = celery.shared_task(
    bind=True,
    name=TASK_NAME,
    acks_late=True,  # a batch is acknowledged once done: a dead worker's batch is redelivered
    reject_on_worker_lost=True,
    serializer="json",
    max_retries=None,  # bounded by smtp_backend_max_retries instead
)(_send_batch)

worker_process_shutdown.connect(close_worker_context, weak=False)
worker_shutdown.connect(close_worker_context, weak=False)


@dataclass(frozen=True)
class QueuedBatch:
    """One enqueued batch: its messages' keys, in order, and the task's ``AsyncResult``."""

    keys: tuple[str, ...]
    result: Any  # celery.result.AsyncResult

    @property
    def task_id(self) -> str:
        return str(self.result.id)

    def get(self, timeout: float | None = None) -> list[ResultDict]:
        """Wait for the batch's final results (one dict per message, in order)."""
        results: list[ResultDict] = self.result.get(timeout=timeout)
        return results


MailItem = Envelope | email.message.Message


def _payloads(messages: MailItem | Payload | Iterable[MailItem | Payload]) -> list[Payload]:
    if isinstance(messages, Envelope | email.message.Message | dict):
        messages = [messages]
    elif isinstance(messages, str | bytes | bytearray):
        raise TypeError("enqueue() takes email.message.Message or Envelope objects, not a string")
    return [item if isinstance(item, dict) else message_payload(item) for item in messages]


def enqueue(
    messages: MailItem | Payload | Iterable[MailItem | Payload],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    app: Any = None,
    **options: Any,
) -> list[QueuedBatch]:
    """Queue the messages for the workers, ``batch_size`` a task; one ``QueuedBatch`` each.

    Items are :class:`Envelope` or ``email.message.Message`` objects (flattened now, as
    ``Mailer.send`` would), or payloads from :func:`message_payload` (to choose their
    keys). Every message is checked before any batch is queued. ``app``: the Celery
    app (default: the current one); ``options`` go to ``send_task`` (``queue``,
    ``countdown``, ``priority``...). The producer needs only the task's name, not
    the worker's configuration.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size!r}")
    payloads = _payloads(messages)
    app = app if app is not None else celery.current_app
    queued = []
    for start in range(0, len(payloads), batch_size):
        batch = payloads[start : start + batch_size]
        result = app.send_task(TASK_NAME, args=(batch,), serializer="json", **options)
        queued.append(QueuedBatch(tuple(p["key"] for p in batch), result))
    return queued
