"""Flask apps wired to the in-process test servers (tests/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import flask_smtp_backend  # noqa: F401  (installed: pip install -e .[flask])
except ImportError:  # a plain checkout: the package lives under integrations/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integrations"))

from flask import Flask

from flask_smtp_backend import Mail
from tests.servers import RecordingSMTPServer

MailFactory = Callable[..., Mail]


@pytest.fixture
def make_mail() -> Iterator[MailFactory]:
    """``make_mail(server=None, **config)``: a new app's ``Mail`` (``mail.app``); closed at teardown.

    With a ``server``, MAIL_SERVER/MAIL_PORT point at it and sending is not suppressed.
    """
    made: list[Mail] = []

    def make(server: RecordingSMTPServer | None = None, **config: Any) -> Mail:
        app = Flask(f"mail_test_{len(made)}")
        app.config["MAIL_DEFAULT_SENDER"] = "sender@example.test"
        if server is not None:
            app.config.update(
                MAIL_SERVER=server.host, MAIL_PORT=server.port, MAIL_SUPPRESS_SEND=False
            )
        app.config.update(config)
        mail = Mail(app)
        made.append(mail)
        return mail

    yield make
    for mail in made:
        mail.close()


@pytest.fixture
def mail(make_mail: MailFactory, smtp_server: RecordingSMTPServer) -> Iterator[Mail]:
    """A Mail sending to the plain recording server (``smtp_server``), in its app context."""
    mail = make_mail(smtp_server)
    with mail.app.app_context():
        yield mail
