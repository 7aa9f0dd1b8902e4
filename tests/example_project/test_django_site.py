"""The example Django site: its sign-up view and send_newsletter command over real SMTP."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from example_project.newsletter import NEWSLETTER_SUBJECT, WELCOME_SUBJECT
from tests.servers import REFUSED_DOMAIN, RecordingSMTPServer

pytestmark = pytest.mark.usefixtures("example_site")


def test_signup_sends_the_welcome_mail(smtp_server: RecordingSMTPServer) -> None:
    response = Client().post("/", {"name": "Ada", "email": "ada@readers.example"})

    assert response.status_code == 200
    assert b"A mail is on its way to ada@readers.example" in response.content
    [message] = smtp_server.messages
    assert message.mail_from == "hello@django-site.example"
    assert message.rcpt_tos == ("ada@readers.example",)
    welcome = message_from_bytes(message.content, policy=default_policy)
    assert welcome["Subject"] == WELCOME_SUBJECT
    assert "Hello Ada," in welcome.get_content()


def test_signup_with_a_bad_address_shows_the_form_and_sends_nothing(
    smtp_server: RecordingSMTPServer,
) -> None:
    response = Client().post("/", {"name": "Ada", "email": "not an address"})

    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content
    assert smtp_server.connections == 0


def test_signup_page_shows_the_form(smtp_server: RecordingSMTPServer) -> None:
    response = Client().get("/")

    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_send_newsletter_sends_every_subscriber_one_message_over_one_connection(
    smtp_server: RecordingSMTPServer, subscribers_file: Callable[[list[str]], Path]
) -> None:
    addresses = [f"reader{n}@readers.example" for n in range(7)]
    output = StringIO()

    with override_settings(NEWSLETTER_SUBSCRIBERS=subscribers_file(addresses)):
        call_command("send_newsletter", stdout=output)

    assert [message.rcpt_tos for message in smtp_server.messages] == [(a,) for a in addresses]
    assert {
        message_from_bytes(message.content, policy=default_policy)["Subject"]
        for message in smtp_server.messages
    } == {NEWSLETTER_SUBJECT}
    assert smtp_server.connections == 1
    assert smtp_server.verbs().count("EHLO") == 1
    assert output.getvalue().splitlines()[-1] == "7 messages in one batch: 7 sent, 0 refused"


def test_send_newsletter_reports_a_refused_subscriber_and_sends_the_others(
    smtp_server: RecordingSMTPServer, subscribers_file: Callable[[list[str]], Path]
) -> None:
    refused = f"gone@{REFUSED_DOMAIN}"
    addresses = ["ada@readers.example", refused, "alan@readers.example"]
    output = StringIO()

    with (
        override_settings(NEWSLETTER_SUBSCRIBERS=subscribers_file(addresses)),
        pytest.raises(CommandError, match="not every message was sent"),
    ):
        call_command("send_newsletter", stdout=output)

    assert [message.rcpt_tos for message in smtp_server.messages] == [
        ("ada@readers.example",),
        ("alan@readers.example",),
    ]
    lines = output.getvalue().splitlines()
    assert lines[1].startswith(f"#1 refused {refused}: 550")
    assert lines[-1] == "3 messages in one batch: 2 sent, 1 refused"
