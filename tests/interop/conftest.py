"""Interop tests against a real Postfix on loopback (tests/mta/): skipped without one."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate, make_msgid

import pytest

from tests.mta.fixture import AddressFactory, address, postfix
from tests.mta.maildir import DeliveredMessage
from tests.mta.postfix import PostfixInstance

__all__ = ["address", "postfix"]

Arrived = Callable[[str], DeliveredMessage]


def as_stored(wire: bytes) -> bytes:
    """A message as a maildir stores it: the same bytes with LF line endings."""
    return wire.replace(b"\r\n", b"\n")


def text_message(sender: str, recipient: str, subject: str, body: bytes) -> bytes:
    """A complete RFC 5322 message (Date and Message-ID given, so Postfix adds none)."""
    headers = (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        f"Date: {formatdate()}\r\nMessage-ID: {make_msgid(domain='client.test')}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return headers.encode("utf-8") + body


@pytest.fixture
def arrived(postfix: PostfixInstance) -> Arrived:
    """``arrived(recipient)``: the one message delivered to ``recipient``.

    Waits until Postfix's queue is empty, so a duplicate delivery would show too.
    """

    def only_message(recipient: str) -> DeliveredMessage:
        postfix.wait_until_delivered()
        [message] = postfix.inbox.for_recipient(recipient)
        return message

    return only_message


@pytest.fixture
def recipient(address: AddressFactory) -> str:
    return address("rcpt")
