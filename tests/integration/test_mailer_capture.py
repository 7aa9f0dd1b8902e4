"""Capture mode: records what would have been sent, byte for byte, and fails as sending would."""

from __future__ import annotations

import socket
from email.message import EmailMessage

import pytest

from smtp_backend import (
    Envelope,
    MessageState,
    SendResult,
    SMTPInvalidInputError,
    SMTPRecipientsRefused,
)
from smtp_backend.mailer import CapturedMessage, Mailer, MailItem
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rich_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Zoë <zoe@example.test>"
    message["To"] = "bob@example.test"
    message["Bcc"] = "hidden@example.test"
    message["Subject"] = "Grüße"
    message["Message-ID"] = "<rich@example.test>"
    message.set_content(".leading dot\nnaïve text\r\nbare CR\rend\n")
    message.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream")
    message.set_boundary("fixed-boundary")  # else each flattening draws a new one
    return message


BAD_ITEMS: list[MailItem] = [
    Envelope("a@example.test\r\nRSET", ["b@example.test"], b"x\r\n"),
    Envelope("a@example.test", ["b@example.test>\nDATA"], b"x\r\n"),
    Envelope("a@example.test", [], b"x\r\n"),
]


def test_a_capturing_mailer_never_connects() -> None:
    mailer = Mailer("127.0.0.1", unused_port(), capture=True)  # nothing listens there
    message = rich_message()
    results = mailer.send([message, message])
    assert [r.state for r in results] == [MessageState.SENT, MessageState.SENT]
    assert results[0].accepted == ("bob@example.test", "hidden@example.test")
    assert mailer.outbox is not None and len(mailer.outbox) == 2
    record = mailer.outbox[0]
    assert record.message is message
    assert record.sender == "zoe@example.test"
    assert record.recipients == ("bob@example.test", "hidden@example.test")
    assert record.message_id == "<rich@example.test>"
    assert b"hidden@example.test" not in record.data  # Bcc is never transmitted
    assert record.as_message()["Subject"] == "Grüße"


def test_captured_bytes_are_what_the_server_receives(smtp_server: RecordingSMTPServer) -> None:
    message = rich_message()
    envelope = Envelope("a@example.test", ["b@example.test"], b"Subject: raw\n\n.dot\nx")
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        with mailer.capture() as outbox:
            mailer.send([message, envelope])
        assert smtp_server.connections == 0
        mailer.send([message, envelope])
    assert [record.data for record in outbox] == [m.content for m in smtp_server.messages]
    assert [record.recipients for record in outbox] == [m.rcpt_tos for m in smtp_server.messages]


def _failures(results: list[SendResult]) -> list[tuple[MessageState, type[BaseException]]]:
    return [(r.state, type(r.error)) for r in results]


def test_bad_input_fails_in_capture_exactly_as_when_sending(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        with mailer.capture() as outbox:
            captured = mailer.send(BAD_ITEMS)
        sent = mailer.send(BAD_ITEMS)
    assert outbox == []
    assert smtp_server.messages == []
    assert _failures(captured) == _failures(sent)
    assert _failures(captured) == [
        (MessageState.NOT_ATTEMPTED, SMTPInvalidInputError),
        (MessageState.NOT_ATTEMPTED, SMTPInvalidInputError),
        (MessageState.NOT_ATTEMPTED, SMTPRecipientsRefused),
    ]


def test_nested_captures_each_see_what_was_sent_while_open() -> None:
    mailer = Mailer("127.0.0.1", unused_port(), security="none")
    first = Envelope("a@example.test", ["b@example.test"], b"1\r\n")
    second = Envelope("a@example.test", ["b@example.test"], b"2\r\n")
    with mailer.capture() as outer:
        mailer.send(first)
        with mailer.capture() as inner:
            mailer.send(second)
    assert [r.message for r in outer] == [first, second]
    assert [r.message for r in inner] == [second]
    with pytest.raises(OSError):  # capture over: it sends (and nothing listens)
        mailer.send(first)


def test_hooks_run_in_capture_mode() -> None:
    results: list[SendResult] = []
    mailer = Mailer("127.0.0.1", unused_port(), capture=True, after_send=results.append)
    mailer.send(Envelope("a@example.test", ["b@example.test"], b"x\r\n"))
    assert [r.state for r in results] == [MessageState.SENT]
    assert isinstance(mailer.outbox, list) and isinstance(mailer.outbox[0], CapturedMessage)
