"""Flask-Mail: ``mail.connect()`` then ``conn.send(msg)`` for each, in an app context."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from typing import Any

from . import Contender, module_missing


@functools.cache
def _app_and_mail(host: str, port: int) -> tuple[Any, Any]:
    from flask import Flask
    from flask_mail import Mail

    app = Flask("smtp_backend_benchmark")
    app.config.update(
        MAIL_SERVER=host,
        MAIL_PORT=port,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_SUPPRESS_SEND=False,
        TESTING=False,
    )
    return app, Mail(app)


def to_flask_mail(messages: Sequence[EmailMessage]) -> list[Any]:
    from flask_mail import Message

    return [
        Message(
            subject=str(message["Subject"]),
            recipients=[str(message["To"])],
            body=message.get_content(),
            sender=str(message["From"]),
        )
        for message in messages
    ]


def send(messages: Iterable[Any], host: str, port: int) -> int:
    app, mail = _app_and_mail(host, port)
    sent = 0
    with app.app_context(), mail.connect() as connection:
        for message in messages:
            connection.send(message)  # raises on refusal
            sent += 1
    return sent


CONTENDERS = [
    Contender(
        "Flask-Mail",
        send,
        module_missing("flask_mail", "flask-mail not installed"),
        to_flask_mail,
    )
]
