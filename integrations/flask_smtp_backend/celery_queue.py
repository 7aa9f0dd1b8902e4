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

from collections.abc import Iterable
from typing import Any

from flask import current_app

from smtp_backend.celery import QueuedBatch

from .celery_batches import enqueue_prepared
from .message import Message
from .state import MailState


def _state() -> MailState:
    state = current_app.extensions.get("mail")
    if not isinstance(state, MailState):
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
    return enqueue_prepared(
        state.app, prepared, state.queue_batch_size, celery_app=celery_app, **options
    )
