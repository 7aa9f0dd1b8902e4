"""The one header rule (smtp_backend.protocol.headers): no header line is ever made from
caller text, whatever the line-break character, through every core entry point."""

from __future__ import annotations

import asyncio
import email.message
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_backend import (
    AsyncMailer,
    Mailer,
    MessageState,
    SMTPInvalidInputError,
    check_header_value,
    header_value_problem,
)
from smtp_backend.aio import AsyncSMTP
from smtp_backend.client import SMTP
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)

# Everything str.splitlines() splits on, and the other C0 controls but TAB.
LINE_BREAKS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]
CONTROLS = ["\x00", "\x01", "\x08", "\x1b", "\x1f"]
HOSTILE = LINE_BREAKS + CONTROLS


@pytest.mark.parametrize("char", HOSTILE, ids=[repr(c) for c in HOSTILE])
def test_every_line_break_and_control_is_refused(char: str) -> None:
    value = f"Invoice{char}Bcc: leak@evil.test"
    assert header_value_problem(value) is not None
    assert header_value_problem(value, folds=True) is not None
    with pytest.raises(SMTPInvalidInputError, match="Subject"):
        check_header_value("Subject", value)


def test_tab_and_folds_where_allowed() -> None:
    assert header_value_problem("a\tb") is None
    assert header_value_problem("a\r\n b") is not None
    assert header_value_problem("a\r\n b\r\n\tc", folds=True) is None
    assert header_value_problem("a\r\nb", folds=True) is not None  # not followed by space
    assert header_value_problem("a\n b", folds=True) is not None  # a fold is CRLF + space
    assert header_value_problem("a\r\n\x0b b", folds=True) is not None


@pytest.mark.parametrize("name", ["X-A\r\nBcc", "X A", "X:A", "", "Ünï"])
def test_a_header_name_must_be_a_field_name(name: str) -> None:
    with pytest.raises(SMTPInvalidInputError):
        check_header_value(name, "value")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.booleans())
def test_an_accepted_value_never_splits_into_lines(value: str, folds: bool) -> None:
    if header_value_problem(value, folds=folds) is not None:
        return
    lines = value.splitlines()
    assert all(not any(c < " " and c != "\t" for c in line) for line in lines)
    # Each line after the first continues the header (a fold), never starts a new one.
    assert all(line[:1] in (" ", "\t") for line in lines[1:])
    assert folds or len(lines) <= 1


# -- through the core entry points ---------------------------------------------------------

INJECTED = "Invoice\x0bBcc: leak@evil.test"


def hostile_messages() -> list[email.message.Message]:
    """The subject stored unchecked: a compat32 message, and set_raw on a modern one."""
    legacy = email.message.Message()
    modern = email.message.EmailMessage(policy=email.policy.SMTP)
    for message in (legacy, modern):
        message["From"] = "alice@example.test"
        message["To"] = "bob@example.test"
        message.set_payload("hi\n")
    legacy["Subject"] = INJECTED
    modern.set_raw("Subject", INJECTED)
    return [legacy, modern]


@pytest.mark.parametrize("message", hostile_messages(), ids=["compat32", "set_raw"])
def test_clients_refuse_the_message_before_sending(
    smtp_server: RecordingSMTPServer, message: email.message.Message
) -> None:
    with SMTP(smtp_server.host, smtp_server.port) as client:
        with pytest.raises(SMTPInvalidInputError, match="Subject"):
            client.send_message(message)
        (result,) = client.send_many([message])

    async def send() -> MessageState:
        async with AsyncSMTP(smtp_server.host, smtp_server.port, start_tls=False) as client:
            with pytest.raises(SMTPInvalidInputError, match="Subject"):
                await client.send_message(message)
            (result,) = await client.send_many([message])
        return result.state

    assert result.state is MessageState.NOT_ATTEMPTED
    assert isinstance(result.error, SMTPInvalidInputError)
    assert asyncio.run(send()) is MessageState.NOT_ATTEMPTED
    assert smtp_server.messages == []
    assert "MAIL" not in smtp_server.verbs()


@pytest.mark.parametrize("message", hostile_messages(), ids=["compat32", "set_raw"])
def test_mailers_refuse_the_message_before_sending(
    smtp_server: RecordingSMTPServer, message: email.message.Message
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        (blocking,) = mailer.send([message])

    async def send() -> MessageState:
        async with AsyncMailer(smtp_server.host, smtp_server.port, security="none") as mailer:
            (result,) = await mailer.send([message])
        return result.state

    assert blocking.state is MessageState.NOT_ATTEMPTED
    assert isinstance(blocking.error, SMTPInvalidInputError)
    assert asyncio.run(send()) is MessageState.NOT_ATTEMPTED
    assert smtp_server.messages == []


def test_a_folded_header_of_a_parsed_message_is_sent(smtp_server: RecordingSMTPServer) -> None:
    raw = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: one\r\n two\r\n\r\nhi\r\n"
    message = email.message_from_bytes(raw)
    with SMTP(smtp_server.host, smtp_server.port) as client:
        assert client.send_message(message) == {}
    assert b"Subject: one\r\n two\r\n" in smtp_server.messages[0].content
