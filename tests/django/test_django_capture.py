"""The ``capture`` option: messages go through the Mailer's capture into ``mail.outbox``."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail

from django_smtp_backend import EmailBackend

pytestmark = pytest.mark.timeout(30)


def test_capture_fills_mailoutbox_without_a_network(
    mailoutbox: list[Any], closed_port: int
) -> None:
    backend = EmailBackend(host="127.0.0.1", port=closed_port, capture=True)
    message = EmailMessage(
        "captured", "body", "alice@example.test", ["bob@example.test"], bcc=["eve@example.test"]
    )

    assert backend.send_messages([message]) == 1

    [outboxed] = mailoutbox
    assert outboxed.subject == "captured"
    assert outboxed is not message  # a copy, as Django's locmem backend keeps
    record = outboxed.captured
    assert record.sender == "alice@example.test"
    assert record.recipients == ("bob@example.test", "eve@example.test")
    assert b"Subject: captured" in record.data
    assert b"eve@example.test" not in record.data
    assert backend.last_results[0].ok


def test_send_mail_through_a_capturing_connection(mailoutbox: list[Any]) -> None:
    connection = EmailBackend(host="localhost", capture=True)

    send_mail("one", "body", "alice@example.test", ["bob@example.test"], connection=connection)
    send_mail("two", "body", "alice@example.test", ["bob@example.test"], connection=connection)

    assert [message.subject for message in mail.outbox] == ["one", "two"]
    assert mailoutbox is mail.outbox


def test_capture_rejects_invalid_addresses_as_sending_does(mailoutbox: list[Any]) -> None:
    backend = EmailBackend(host="localhost", capture=True)
    injected = EmailMessage("x", "body", "alice@example.test", ["bob@example.test\r\nX: y"])

    with pytest.raises(ValueError):
        backend.send_messages([injected])
    assert mailoutbox == []


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1")
def test_capture_option_in_mailers(settings: Any, mailoutbox: list[Any]) -> None:
    settings.MAILERS = {
        "default": {"BACKEND": "django_smtp_backend.EmailBackend", "OPTIONS": {"capture": True}}
    }

    send_mail("kept", "body", "alice@example.test", ["bob@example.test"], using="default")

    [outboxed] = mailoutbox
    assert outboxed.subject == "kept"
    assert outboxed.sent_using == "default"
