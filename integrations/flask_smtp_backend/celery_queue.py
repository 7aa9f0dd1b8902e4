"""Queue Flask messages for Celery workers instead of sending them (``smtp-backend[celery]``).

    from flask_smtp_backend.celery_queue import enqueue_mail
    enqueue_mail([msg1, msg2])          # inside an app context

or set ``MAIL_QUEUE = "celery"`` and every ``mail.send``, ``send_message``,
``send_many`` and ``connect()`` block queues through here. Messages are checked and
flattened as ``mail.send`` would (default sender, bad headers), queued in batches of
``MAIL_QUEUE_BATCH_SIZE`` (100) as their exact bytes and envelope; the workers send
them (see ``smtp_backend.celery``). The Celery app is ``app.extensions["celery"]``
when set (as in Flask's Celery pattern), else Celery's current app.
``email_dispatched`` fires for a message once its batch is on the broker. When
sending is suppressed (``TESTING``, ``MAIL_SUPPRESS_SEND``) nothing is queued: the
messages are captured into ``mail.outbox`` as ``mail.send`` would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flask import current_app

from smtp_backend import Envelope
from smtp_backend.celery import QueuedBatch, enqueue, message_payload

from .message import Message
from .signals import email_dispatched

if TYPE_CHECKING:  # the state calls this module: a type here, not an import
    from .state import MailState


def _state() -> MailState:
    state: MailState | None = current_app.extensions.get("mail")
    if state is None or not hasattr(state, "queue_batch_size"):
        raise RuntimeError("The current application was not configured with flask_smtp_backend")
    return state


def enqueue_mail(
    messages: Message | Iterable[Message], *, celery_app: Any = None, **options: Any
) -> list[QueuedBatch]:
    """Queue the messages; one ``QueuedBatch`` per batch (none when suppressed).

    ``options`` go to Celery's ``send_task`` (``queue``, ``countdown``...).
    """
    state = _state()
    batch = [messages] if isinstance(messages, Message) else list(messages)
    prepared = [(message, state.envelope(message)) for message in batch]
    if state.suppress:
        state.deliver(prepared)
        return []
    return enqueue_prepared(state, prepared, celery_app=celery_app, **options)


def enqueue_prepared(
    state: MailState,
    prepared: Sequence[tuple[Message, Envelope]],
    *,
    celery_app: Any = None,
    **options: Any,
) -> list[QueuedBatch]:
    """Queue checked messages, ``state.queue_batch_size`` a batch; ``email_dispatched``
    fires for each message once its batch is queued."""
    app = state.app
    if celery_app is None:
        celery_app = app.extensions.get("celery")
    payloads = [message_payload(envelope) for _, envelope in prepared]  # all built, then queued
    size = state.queue_batch_size
    queued = []
    for start in range(0, len(prepared), size):
        queued += enqueue(
            payloads[start : start + size], batch_size=size, app=celery_app, **options
        )
        for message, _ in prepared[start : start + size]:
            email_dispatched.send(app, message=message)
    return queued
