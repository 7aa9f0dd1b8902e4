"""Flask-Mail 0.10's names and objects, as code written for it uses them.

The module-level helpers, ``mail.<name>``, the state in ``app.extensions["mail"]``,
``Connection.host``/``configure_host``, and what is refused before anything is sent.
"""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

import pytest
from flask import Flask

import flask_smtp_backend
from flask_smtp_backend import (
    BadHeaderError,
    FlaskMailUnicodeDecodeError,
    Mail,
    Message,
    email_dispatched,
    force_text,
)
from flask_smtp_backend.sanitize import check_header_text
from tests.conftest import SMTPServerFactory
from tests.flask.conftest import MailFactory
from tests.servers import RecordingSMTPServer

FLASK_MAIL_STATE = {
    "server",
    "username",
    "password",
    "port",
    "use_tls",
    "use_ssl",
    "default_sender",
    "debug",
    "max_emails",
    "suppress",
    "ascii_attachments",
}


def test_flask_mails_module_level_names_are_exported() -> None:
    for name in (
        "sanitize_address",
        "sanitize_addresses",
        "sanitize_subject",
        "force_text",
        "FlaskMailUnicodeDecodeError",
        "BadHeaderError",
        "Connection",
        "Attachment",
        "signals",
    ):
        assert name in flask_smtp_backend.__all__
        assert getattr(flask_smtp_backend, name) is not None


def test_force_text() -> None:
    class Lazy:  # what flask-babel's lazy_gettext returns
        def __str__(self) -> str:
            return "résolu"

    assert force_text("text") == "text"
    assert force_text("é".encode()) == "é"
    assert force_text("é".encode("latin-1"), "latin-1") == "é"
    assert force_text(Lazy()) == "résolu"
    with pytest.raises(FlaskMailUnicodeDecodeError, match=r"You passed in b'\\xff'"):
        force_text(b"\xff")
    assert isinstance(FlaskMailUnicodeDecodeError("x", "utf-8", b"", 0, 1, "r"), UnicodeDecodeError)


# -- the state and mail.<name> ------------------------------------------------------


def test_the_state_dict_is_flask_mails_and_init_mail_builds_an_equal_one(
    make_mail: MailFactory,
) -> None:
    mail = make_mail(TESTING=True, MAIL_MAX_EMAILS=5, MAIL_USE_TLS=True, MAIL_POOL_SIZE=2)
    app = mail.app
    assert mail.state is app.extensions["mail"]
    assert set(vars(mail.state)) == FLASK_MAIL_STATE
    with app.app_context():
        mail.send(Message("s", recipients=["to@example.test"], body="b"))  # pool, outbox used
    new = mail.init_mail(app.config, app.debug, app.testing)
    assert new.__dict__ == mail.state.__dict__
    assert new.__dict__ != mail.init_mail({**app.config, "MAIL_PORT": 2525}).__dict__


def test_mail_attributes_read_the_state(make_mail: MailFactory) -> None:
    mail = make_mail(MAIL_SERVER="smtp.example.test", MAIL_PORT=2525, MAIL_MAX_EMAILS=3)
    assert (mail.server, mail.port, mail.max_emails) == ("smtp.example.test", 2525, 3)
    mail.state.server = "other.example.test"
    assert mail.server == "other.example.test"
    assert mail.no_such_attribute is None  # as Flask-Mail's Mail.__getattr__


def test_an_unbound_mail_reads_the_current_apps_state(make_mail: MailFactory) -> None:
    app = make_mail(MAIL_SERVER="current.example.test").app
    mail = Mail()
    mail.init_app(app)
    assert mail.state is None  # as Flask-Mail: init_app leaves the Mail unbound
    assert mail.server is None  # no app context: nothing to read
    with app.app_context():
        assert mail.server == "current.example.test"


def test_mail_use_tls_and_ssl_together_are_refused_at_init_app() -> None:
    app = Flask("both")
    app.config.update(MAIL_USE_TLS=True, MAIL_USE_SSL=True)
    with pytest.raises(ValueError, match="MAIL_USE_TLS and MAIL_USE_SSL are mutually exclusive"):
        Mail(app)
    assert "mail" not in app.extensions


def test_send_results_carry_the_message_id(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    messages = [Message(f"m{n}", recipients=[f"to{n}@example.test"], body="b") for n in range(2)]
    results = mail.send_many(messages)
    assert [r.message_id for r in results] == [m.msgId for m in messages]
    parser = email.parser.BytesParser(policy=email.policy.default)
    received = [parser.parsebytes(m.content)["Message-ID"] for m in smtp_server.messages]
    assert received == [m.msgId for m in messages]


# -- Connection: Flask-Mail's host ---------------------------------------------------


def test_the_pool_sends_while_host_is_none(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    with mail.connect() as connection:
        assert connection.host is None
        connection.send_message(subject="s", recipients=["to@example.test"], body="b")
        assert connection.num_emails == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [("to@example.test",)]


def test_a_configured_host_sends_at_once_as_flask_mail(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    dispatched: list[Any] = []
    message = Message(
        "s", sender=("Ana", "ana@example.test"), recipients=["to@example.test"], body="b"
    )
    with email_dispatched.connected_to(lambda app, message: dispatched.append(message)):
        with mail.connect() as connection:
            connection.host = connection.configure_host()
            connection.send(message, envelope_from="bounce@example.test")
            [received] = smtp_server.messages  # sent by send(), not at the block's end
            assert dispatched == [message]
        assert connection.host is None
    assert (received.mail_from, received.rcpt_tos) == ("bounce@example.test", ("to@example.test",))
    assert received.content == message.as_bytes() + b"\r\n"
    mail.send(Message("again", recipients=["to@example.test"], body="b"))
    assert smtp_server.connections == 1  # the host went back to the app's pool


def test_a_host_gets_a_new_session_after_max_emails(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server, MAIL_MAX_EMAILS=2)
    with mail.app.app_context(), mail.connect() as connection:
        connection.host = connection.configure_host()
        for n in range(3):
            connection.send(Message(f"m{n}", recipients=["to@example.test"], body="b"))
    assert [m.connection for m in smtp_server.messages] == [1, 1, 2]


def test_host_sendmail_gets_flask_mails_arguments(mail: Mail) -> None:
    """What Flask-Mail's own tests patch ``conn.host`` to see."""
    calls: list[tuple[Any, ...]] = []

    class Host:
        def sendmail(self, *args: Any) -> dict[str, Any]:
            calls.append(args)
            return {}

        def quit(self) -> None:
            calls.append(("quit",))

    message = Message("s", sender="from@example.test", recipients=["ÄÜÖ → ✓ <to@example.test>"])
    with mail.connect() as connection:
        connection.host = Host()
        connection.send(message)
    assert calls == [
        (
            "from@example.test",
            ["=?utf-8?b?w4TDnMOWIOKGkiDinJM=?= <to@example.test>"],
            message.as_bytes(),
            [],
            [],
        ),
        ("quit",),
    ]


# -- the header rule -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["plain", "tab\there", "folded\r\n continued", "f\r\n\tx", "✓"])
def test_the_header_rule_accepts_text_and_folds(text: str) -> None:
    check_header_text("Subject", text)


@pytest.mark.parametrize(
    "text",
    [
        "a\nb",
        "a\rb",
        "a\r\nb",
        "a\x0bb",
        "a\x0cb",
        "a\x1cb",
        "a\x85b",
        "a\u2028b",
        "a\x00b",
        "a\r\n",
    ],
)
def test_the_header_rule_refuses_every_line_break_and_control(text: str) -> None:
    with pytest.raises(BadHeaderError):
        check_header_text("Subject", text)


def test_the_header_rule_refuses_a_bad_field_name() -> None:
    with pytest.raises(BadHeaderError, match="not a valid header name"):
        check_header_text("X-A\r\nBcc", "v")


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("subject", "Invoice\x0bBcc: leak@evil.test"),
        ("recipients", [("Name\x0c", "to@example.test")]),
        ("cc", ["c\x1d@example.test"]),
        ("reply_to", "r@example.test\u2028Bcc: leak@evil.test"),
        ("msgId", "<id@example.test>\r\nBcc: leak@evil.test"),
        ("extra_headers", {"X-Bad\nName": "v"}),
        ("alts", {"html\r\nBcc: leak@evil.test": "<p>x</p>"}),
        ("charset", "utf-8\r\nBcc: leak@evil.test"),
    ],
)
def test_text_that_would_make_a_header_line_is_refused_before_sending(
    mail: Mail, smtp_server: RecordingSMTPServer, change: str, value: object
) -> None:
    message = Message("ok", recipients=["to@example.test"], body="b")
    setattr(message, change, value)
    with pytest.raises(BadHeaderError):
        mail.send(message)
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "attachment",
    [
        {"filename": "a.txt\r\nBcc: leak@evil.test", "data": b"x"},
        {"filename": "a.txt", "data": b"x", "disposition": "inline\nBcc: leak@evil.test"},
        {"data": b"x", "content_type": "text/plain\r\nBcc: leak@evil.test"},
        {"data": b"x", "headers": {"Content-ID": "<a>\x0bBcc: leak@evil.test"}},
    ],
)
def test_attachment_text_that_would_make_a_header_line_is_refused(
    mail: Mail, smtp_server: RecordingSMTPServer, attachment: dict[str, Any]
) -> None:
    message = Message("ok", recipients=["to@example.test"], body="b")
    message.attach(**attachment)
    with pytest.raises(BadHeaderError):
        mail.send(message)
    assert smtp_server.messages == []


def test_has_bad_headers_sees_control_characters(mail: Mail) -> None:
    assert Message("a\x0bb", recipients=["to@example.test"]).has_bad_headers()
    assert Message("s", recipients=["to\x1e@example.test"]).has_bad_headers()
    assert not Message("a\r\n b", recipients=["to@example.test"]).has_bad_headers()


def test_an_attachment_type_without_a_subtype_is_refused(mail: Mail) -> None:
    message = Message("s", recipients=["to@example.test"], body="b")
    message.attach("a.bin", "application", b"x")
    with pytest.raises(ValueError, match="type/subtype"):
        message.as_bytes()


def test_a_configured_host_is_closed_not_kept_when_the_block_raises(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    with pytest.raises(KeyError), mail.connect() as connection:
        connection.host = connection.configure_host()
        connection.send(Message("s", recipients=["to@example.test"], body="b"))
        raise KeyError("the view failed")
    mail.send(Message("after", recipients=["to@example.test"], body="b"))
    assert [m.connection for m in smtp_server.messages] == [1, 2]  # a new one, not the lent


def test_changed_connection_attributes_take_effect_at_the_next_send(
    make_mail: MailFactory, smtp_server_factory: SMTPServerFactory
) -> None:
    """Flask-Mail reads server and port at every connect(); so does the app's pool."""
    first, second = smtp_server_factory(), smtp_server_factory()
    mail = make_mail(first)
    with mail.app.app_context():
        mail.send(Message("one", recipients=["to@example.test"], body="b"))
        mail.state.port = second.port
        mail.send(Message("two", recipients=["to@example.test"], body="b"))
        mail.send(Message("three", recipients=["to@example.test"], body="b"))
    assert (len(first.messages), len(second.messages)) == (1, 2)
    assert second.connections == 1  # the new pool is kept, not made again for each send
