"""``Mail``: the Flask extension object, as Flask-Mail's (``Mail(app)`` or ``init_app``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, current_app, has_app_context

from smtp_backend import SendResult

from .config import MailSettings
from .connection import Connection
from .message import Message
from .signals import record_messages
from .state import MailState


class Mail:
    """Sends the current app's mail.

    ``Mail(app)`` binds to one app; ``Mail()`` plus ``init_app(app)`` (the application
    factory) serves every app it was given, choosing the current app's state, so a
    send needs an app context (a request, a CLI command, or ``with app.app_context()``).
    Flask-Mail's state attributes (``mail.server``, ``mail.suppress``...) read through
    to that state, as in Flask-Mail (None when there is no such attribute).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self.app = app
        self.state: MailState | None = self.init_app(app) if app is not None else None

    def init_mail(self, config: Any, debug: bool | int = False, testing: bool = False) -> MailState:
        """A state read from ``config``, as Flask-Mail's: ``MAIL_DEBUG`` defaults to ``debug``,
        ``MAIL_SUPPRESS_SEND`` to ``testing``; a bad combination raises ``ValueError``."""
        return MailState(MailSettings.from_config(config, debug=bool(debug), testing=testing))

    def init_app(self, app: Flask) -> MailState:
        """Read ``app.config`` and register the state as ``app.extensions["mail"]``."""
        state = self.init_mail(app.config, app.debug, app.testing)
        state.bind(app)
        previous = app.extensions.get("mail")
        if isinstance(previous, MailState):
            previous.close()  # init_app called again: the old pool must not linger
        app.extensions["mail"] = state
        return state

    def current_state(self) -> MailState:
        """The state of the app this ``Mail`` is bound to, else of the current app."""
        if self.state is not None:
            return self.state
        if not has_app_context():
            raise RuntimeError(
                "no Flask application context: send mail inside a request, a CLI command, "
                "or 'with app.app_context():' (the Mail object was created without an app)"
            )
        state = current_app.extensions.get("mail")
        if not isinstance(state, MailState):
            raise RuntimeError(
                "The current application was not configured with flask_smtp_backend: "
                "call mail.init_app(app)"
            )
        return state

    def __getattr__(self, name: str) -> Any:
        """The state's attribute (``mail.server``...); None when it has none, or when there
        is no state to read, as in Flask-Mail."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            state = self.current_state()
        except RuntimeError:
            return None
        return getattr(state, name, None)

    @property
    def outbox(self) -> list[Message]:
        """Messages captured while sending is suppressed (``MAIL_SUPPRESS_SEND``, ``TESTING``)."""
        return self.current_state().outbox

    def connect(self) -> Connection:
        return self.current_state().connect()

    def send(self, message: Message) -> None:
        self.current_state().send(message)

    def send_message(self, *args: Any, **kwargs: Any) -> None:
        self.current_state().send_message(*args, **kwargs)

    def send_many(self, messages: Iterable[Message]) -> list[SendResult]:
        return self.current_state().send_many(messages)

    async def send_async(self, message: Message) -> None:
        await self.current_state().send_async(message)

    @contextlib.contextmanager
    def record_messages(self) -> Iterator[list[Message]]:
        """Every message sent or captured in the block (works without an app context)."""
        with record_messages() as recorded:
            yield recorded
