"""``mail.connect()``: Flask-Mail's bulk-sending block, sent pipelined over a pooled connection."""

from __future__ import annotations

import contextlib
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flask import current_app

from smtp_backend import SMTP, Envelope, SendResult

from .message import Message
from .sanitize import AddressLike, sanitize_address, sanitize_addresses
from .signals import email_dispatched

if TYPE_CHECKING:
    from .state import MailState

logger = logging.getLogger("flask_smtp_backend")

#: Messages queued before they are sent: bounds the memory a long batch holds.
FLUSH_EVERY = 100


class Connection:
    """``with mail.connect() as conn: conn.send(msg)``.

    Unlike Flask-Mail, ``send`` queues the message and the queue is sent pipelined
    (one round trip for many messages) over the app's pooled connections when
    ``FLUSH_EVERY`` or ``MAIL_MAX_EMAILS`` messages are queued, and when the block
    ends. So a server's refusal is raised at that flush (by the ``send`` that filled
    the queue, or on leaving the block), not by the ``send`` of the refused message;
    the other queued messages are still sent, and ``results`` holds one ``SendResult``
    per message, in order.

    When the block ends with an exception, the messages queued before it are sent
    (Flask-Mail would already have sent them), then the exception propagates.
    At most ``MAIL_MAX_EMAILS`` messages go over one SMTP session, as in Flask-Mail.

    ``host`` is Flask-Mail's own SMTP session: None here, as the pool sends. Set it
    (``conn.host = conn.configure_host()``, or a test double) and ``send`` hands each
    message to ``host.sendmail`` at once, as Flask-Mail does. At the block's end a host
    from ``configure_host`` goes back to the app's pool; any other is QUIT, as in
    Flask-Mail.

    With ``MAIL_QUEUE = "celery"`` each flush queues one batch of
    ``MAIL_QUEUE_BATCH_SIZE`` messages for the workers instead: nothing is refused
    here (a broker error is raised) and ``results`` stays empty.
    """

    def __init__(self, mail: MailState) -> None:
        self.mail = mail
        self.host: Any = None
        self.num_emails = 0
        self.results: list[SendResult] = []
        self._queue: list[tuple[Message, Envelope]] = []
        self._lent: dict[int, contextlib.ExitStack] = {}  # id(host) -> its loan from the pool
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
        try:
            if exc_type is None:
                self.flush()
                return
            try:
                self.flush()
            except Exception:
                # The block's own exception propagates; this one must not hide it.
                logger.exception("sending the messages queued before the error failed too")
        finally:
            host, self.host = self.host, None
            if host is not None:
                self._release(host, close_first=False, failure=exc_value)
            for loan in self._lent.values():  # configured, never set as the host
                loan.close()
            self._lent.clear()

    def configure_host(self) -> SMTP:
        """An SMTP session for this block alone, as Flask-Mail's: connected, TLS as
        configured (certificate verified), logged in. It is lent by the app's pool (an idle
        connection or a new one) and goes back to it when the block ends."""
        loan = contextlib.ExitStack()
        host = loan.enter_context(self.mail.pooled_mailer().lend())
        self._lent[id(host)] = loan
        return host

    def _release(
        self, host: Any, *, close_first: bool, failure: BaseException | None = None
    ) -> None:
        """A lent host back to the pool (QUIT first with ``close_first``; closed, not kept,
        after the block's ``failure``); any other host QUIT."""
        loan = self._lent.pop(id(host), None)
        try:
            if loan is None or close_first:
                host.quit()
        finally:
            if loan is not None and failure is not None:
                loan.__exit__(type(failure), failure, failure.__traceback__)
            elif loan is not None:
                loan.close()

    def send(self, message: Message, envelope_from: AddressLike | None = None) -> None:
        """Check and queue ``message`` (``envelope_from``: another MAIL FROM address).

        Raises ``AssertionError`` (no recipient, no sender) or ``BadHeaderError`` at once.
        """
        envelope = self.mail.envelope(message, envelope_from)
        if self.host is not None:
            self._send_over_host(message, envelope, envelope_from)
            return
        self._queue.append((message, envelope))
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:
            self.num_emails = 0
        if len(self._queue) >= self._flush_every:
            self.flush()

    def _send_over_host(
        self, message: Message, envelope: Envelope, envelope_from: AddressLike | None
    ) -> None:
        """Flask-Mail's ``send``: ``host.sendmail`` with its address forms, then the signal;
        a new session after ``MAIL_MAX_EMAILS`` messages."""
        self.host.sendmail(
            sanitize_address(envelope_from or message.sender or ""),
            sanitize_addresses(message.send_to),
            envelope.data,
            message.mail_options,
            message.rcpt_options,
        )
        email_dispatched.send(current_app._get_current_object(), message=message)  # type: ignore[attr-defined]
        self.num_emails += 1
        if self.num_emails == self.mail.max_emails:
            self.num_emails = 0
            self._release(self.host, close_first=True)  # a new session, as Flask-Mail
            self.host = self.configure_host()

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
