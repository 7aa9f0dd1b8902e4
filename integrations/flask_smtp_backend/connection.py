"""``mail.connect()``: Flask-Mail's bulk-sending block, sent pipelined over a pooled connection."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any

from smtp_backend import Envelope, SendResult

from .addresses import AddressLike
from .message import Message

if TYPE_CHECKING:
    from .state import MailState

logger = logging.getLogger("flask_smtp_backend")

#: Messages queued before they are sent: bounds the memory a long batch holds.
FLUSH_EVERY = 100


class Connection:
    """``with mail.connect() as conn: conn.send(msg)``.

    Unlike Flask-Mail, ``send`` queues the message and the queue is sent pipelined
    (one round trip for many messages) when ``FLUSH_EVERY`` or ``MAIL_MAX_EMAILS``
    messages are queued, and when the block ends. So a server's refusal is raised
    at that flush (by the ``send`` that filled the queue, or on leaving the block),
    not by the ``send`` of the refused message; the other queued messages are still
    sent, and ``results`` holds one ``SendResult`` per message, in order.

    When the block ends with an exception, the messages queued before it are sent
    (Flask-Mail would already have sent them), then the exception propagates.
    At most ``MAIL_MAX_EMAILS`` messages go over one SMTP session, as in Flask-Mail.

    With ``MAIL_QUEUE = "celery"`` each flush queues one batch of
    ``MAIL_QUEUE_BATCH_SIZE`` messages for the workers instead: nothing is refused
    here (a broker error is raised) and ``results`` stays empty.
    """

    def __init__(self, mail: MailState) -> None:
        self.mail = mail
        self.num_emails = 0
        self.results: list[SendResult] = []
        self._queue: list[tuple[Message, Envelope]] = []
        self._flush_every = (
            mail.queue_batch_size  # a flush is one queued batch; the workers' Mailer sends it
            if mail.queue is not None
            else min(FLUSH_EVERY, mail.max_emails or FLUSH_EVERY)
        )

    def __enter__(self) -> Connection:
        self.num_emails = 0
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
            return
        try:
            self.flush()
        except Exception:
            # The block's own exception propagates; this one must not hide it.
            logger.exception("sending the messages queued before the error failed too")

    def send(self, message: Message, envelope_from: AddressLike | None = None) -> None:
        """Check and queue ``message`` (``envelope_from``: another MAIL FROM address).

        Raises ``AssertionError`` (no recipient, no sender) or ``BadHeaderError`` at once.
        """
        self._queue.append((message, self.mail.envelope(message, envelope_from)))
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:
            self.num_emails = 0
        if len(self._queue) >= self._flush_every:
            self.flush()

    def send_message(self, *args: Any, **kwargs: Any) -> None:
        """``send(Message(*args, **kwargs))``."""
        self.send(self.mail.new_message(*args, **kwargs))

    def flush(self) -> list[SendResult]:
        """Send the queue now; raise the first failure after every queued message was tried."""
        queued, self._queue = self._queue, []
        results = self.mail.deliver(queued)
        self.results.extend(results)
        for result in results:
            failure = result.exception()
            if failure is not None:
                raise failure
        return results
