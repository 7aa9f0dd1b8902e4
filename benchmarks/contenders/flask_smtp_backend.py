"""This project's Flask extension: the same ``mail.connect()`` loop as the Flask-Mail contender.

One connection (``MAIL_POOL_SIZE=1``), as every contender; the app's Mailer is closed
after each call, so each timed call pays for its connection as Flask-Mail does.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from . import Contender, module_missing

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
if str(INTEGRATIONS) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.append(str(INTEGRATIONS))

TIMEOUT = 60.0


@functools.cache
def _app_and_mail(host: str, port: int) -> tuple[Any, Any]:
    from flask import Flask

    from flask_smtp_backend import Mail

    app = Flask("flask_smtp_backend_benchmark")
    app.config.update(
        MAIL_SERVER=host,
        MAIL_PORT=port,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_SUPPRESS_SEND=False,
        MAIL_POOL_SIZE=1,
        MAIL_TIMEOUT=TIMEOUT,
        TESTING=False,
    )
    return app, Mail(app)


def to_messages(messages: Sequence[EmailMessage]) -> list[Any]:
    from flask_smtp_backend import Message

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
    try:
        with app.app_context(), mail.connect() as connection:
            for message in messages:
                connection.send(message)  # queued; sent pipelined, refusals raised at a flush
        return sum(result.ok for result in connection.results)
    finally:
        mail.close()


CONTENDERS = [
    Contender(
        "flask_smtp_backend Mail",
        send,
        module_missing("flask_smtp_backend", "flask or flask_smtp_backend not importable"),
        to_messages,
    )
]
