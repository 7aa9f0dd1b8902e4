"""``app.extensions["mail"]``: one app's settings, its ``Mailer``, its outbox and its sends."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from smtp_backend import Envelope, MessageState, SendResult
from smtp_backend.mailer import Mailer

from .config import MailSettings
from .mailer_setup import capturing_mailer, sending_mailer
from .message import Message
from .signals import email_dispatched, record_messages

if TYPE_CHECKING:
    from .connection import Connection


class MailState:
    """What Flask-Mail keeps in ``app.extensions["mail"]``, plus the app's ``Mailer``:
    connections are pooled and reused across requests and threads.

    Its ``__dict__`` holds Flask-Mail's eleven attributes and nothing else (``server``,
    ``username``, ``password``, ``port``, ``use_tls``, ``use_ssl``, ``default_sender``,
    ``debug``, ``max_emails``, ``suppress``, ``ascii_attachments``), so two states of
    one configuration compare equal by ``__dict__`` as Flask-Mail's do. They may be
    changed at run time and are read at every send, as in Flask-Mail (a changed
    connection attribute replaces the pooled Mailer). The rest lives in slots.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_app",
        "_capture",
        "_lock",
        "_mailer",
        "_mailer_from",
        "outbox",
        "settings",
    )

    def __init__(self, settings: MailSettings, app: Flask | None = None) -> None:
        self.server = settings.server
        self.username = settings.username
        self.password = settings.password
        self.port = settings.port
        self.use_tls = settings.use_tls
        self.use_ssl = settings.use_ssl
        self.default_sender = settings.default_sender
        self.debug = settings.debug
        self.max_emails = settings.max_emails
        self.suppress = settings.suppress
        self.ascii_attachments = settings.ascii_attachments
        self.settings = settings
        #: Messages captured while sending is suppressed, oldest first; ``outbox.clear()`` empties it.
        self.outbox: list[Message] = []
        self._app: weakref.ref[Flask] | None = None
        self._lock = threading.Lock()
        self._mailer: Mailer | None = None
        self._mailer_from: tuple[Any, ...] = ()  # the attributes the Mailer was made from
        self._capture: Mailer | None = None
        if app is not None:
            self.bind(app)

    def bind(self, app: Flask) -> None:
        """Serve ``app``: its pooled connections close when it goes, or at interpreter exit."""
        self._app = weakref.ref(app)
        weakref.finalize(app, self.close)

    @property
    def app(self) -> Flask:
        """The app this state serves; for a state not bound to one, the current app."""
        if self._app is None:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            return app
        bound = self._app()
        if bound is None:
            raise RuntimeError("the Flask app of this mail state no longer exists")
        return bound

    @property
    def queue(self) -> str | None:
        """``MAIL_QUEUE``: "celery" queues messages for Celery workers instead of sending."""
        return self.settings.queue

    @property
    def queue_batch_size(self) -> int:
        return self.settings.queue_batch_size

    # -- Flask-Mail's API ---------------------------------------------------------

    def connect(self) -> Connection:
        """A batch: messages given to its ``send`` go pipelined over one pooled connection."""
        from .connection import Connection

        return Connection(self)

    def send(self, message: Message) -> None:
        """Send one message; raises the smtplib exception of its failure, as Flask-Mail."""
        with self.connect() as connection:
            message.send(connection)

    def send_message(self, *args: Any, **kwargs: Any) -> None:
        """``send(Message(*args, **kwargs))``."""
        self.send(self.new_message(*args, **kwargs))

    @contextlib.contextmanager
    def record_messages(self) -> Iterator[list[Message]]:
        """Every message dispatched (sent or captured) while the block runs, by any app."""
        with record_messages() as recorded:
            yield recorded

    # -- beyond Flask-Mail -----------------------------------------------------------

    def send_many(self, messages: Iterable[Message]) -> list[SendResult]:
        """Send every message, pipelined; one ``SendResult`` per message, in order.

        A failed message does not raise: its result says what happened. A message that
        fails Flask-Mail's checks (no recipient, no sender, a bad header) raises before
        anything is sent.
        """
        prepared = [(message, self.envelope(message)) for message in messages]
        return self.deliver(prepared)

    async def send_async(self, message: Message) -> None:
        """``send`` for an async view: the blocking send runs in a worker thread."""
        await asyncio.to_thread(self.send, message)

    def close(self) -> None:
        """Close the app's pooled connections (QUIT); a later send opens new ones."""
        with self._lock:
            mailers = [m for m in (self._mailer, self._capture) if m is not None]
            self._mailer = self._capture = None
        for mailer in mailers:
            mailer.close()

    # -- the machinery ---------------------------------------------------------------

    def new_message(self, *args: Any, **kwargs: Any) -> Message:
        message = Message(*args, **kwargs)
        if not message.sender:
            message.sender = _sender_form(self.default_sender)
        return message

    def envelope(self, message: Message, envelope_from: Any = None) -> Envelope:
        """Checks (as Flask-Mail), the default sender filled in, the bytes built once."""
        if not message.sender and self.default_sender:
            message.sender = _sender_form(self.default_sender)
        return message.envelope(envelope_from, self.ascii_attachments)

    def deliver(self, prepared: Sequence[tuple[Message, Envelope]]) -> list[SendResult]:
        """Send, capture or queue a batch; fire ``email_dispatched`` for each message sent,
        captured or queued. Queued messages have no result yet: none is returned for them."""
        if not prepared:
            return []
        if self.queue is not None and not self.suppress:
            from .celery_batches import enqueue_prepared

            enqueue_prepared(self.app, prepared, self.queue_batch_size)
            return []
        suppress = self.suppress
        mailer = self._capturing_mailer() if suppress else self.pooled_mailer()
        results = mailer.send([envelope for _, envelope in prepared])
        app = self.app
        for (message, _), result in zip(prepared, results, strict=True):
            if result.state is MessageState.SENT:
                if suppress:
                    self.outbox.append(message)
                email_dispatched.send(app, message=message)
        return results

    def pooled_mailer(self) -> Mailer:
        """The app's pooled Mailer; made again (the old one closed) after a connection
        attribute changed, as Flask-Mail reads them at every ``connect()``."""
        wanted = (
            *(self.server, self.port, self.use_tls, self.use_ssl),
            *(self.username, self.password, self.debug, self.max_emails),
        )
        with self._lock:
            stale = self._mailer if self._mailer_from != wanted else None
            if self._mailer is None or stale is not None:
                self._mailer, self._mailer_from = sending_mailer(self), wanted
            mailer = self._mailer
        if stale is not None:
            stale.close()
        return mailer

    def _capturing_mailer(self) -> Mailer:
        with self._lock:
            if self._capture is None:
                self._capture = capturing_mailer()
            return self._capture


def _sender_form(sender: Any) -> Any:
    return f"{sender[0]} <{sender[1]}>" if isinstance(sender, tuple) else sender
