"""The example Flask app: its sign-up route and ``flask newsletter`` command over real SMTP."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from flask import Flask

from example_project.newsletter import NEWSLETTER_SUBJECT, WELCOME_SUBJECT
from tests.servers import REFUSED_DOMAIN, RecordingSMTPServer


def test_signup_sends_the_welcome_mail(
    example_app: Flask, smtp_server: RecordingSMTPServer
) -> None:
    response = example_app.test_client().post(
        "/", data={"name": "Grace", "email": "grace@readers.example"}
    )

    assert response.status_code == 200
    assert b"A mail is on its way to grace@readers.example" in response.data
    [message] = smtp_server.messages
    assert message.mail_from == "hello@flask-app.example"
    assert message.rcpt_tos == ("grace@readers.example",)
    welcome = message_from_bytes(message.content, policy=default_policy)
    assert welcome["Subject"] == WELCOME_SUBJECT
    assert "Hello Grace," in welcome.get_content()


def test_signup_without_an_address_sends_nothing(
    example_app: Flask, smtp_server: RecordingSMTPServer
) -> None:
    response = example_app.test_client().post("/", data={"name": "Grace", "email": ""})

    assert b"Please give a name and an email address." in response.data
    assert smtp_server.connections == 0


def newsletter(app: Flask, subscribers: Path) -> tuple[int, list[str]]:
    app.config["NEWSLETTER_SUBSCRIBERS"] = str(subscribers)
    result = app.test_cli_runner().invoke(args=["newsletter"])
    return result.exit_code, result.output.splitlines()


def test_newsletter_command_sends_every_subscriber_one_message_over_one_connection(
    example_app: Flask,
    smtp_server: RecordingSMTPServer,
    subscribers_file: Callable[[list[str]], Path],
) -> None:
    addresses = [f"reader{n}@readers.example" for n in range(7)]

    exit_code, output = newsletter(example_app, subscribers_file(addresses))

    assert exit_code == 0
    assert [message.rcpt_tos for message in smtp_server.messages] == [(a,) for a in addresses]
    assert {
        message_from_bytes(message.content, policy=default_policy)["Subject"]
        for message in smtp_server.messages
    } == {NEWSLETTER_SUBJECT}
    assert smtp_server.connections == 1
    assert smtp_server.verbs().count("EHLO") == 1
    assert output[-1] == "7 messages in one batch: 7 sent, 0 refused"


def test_newsletter_command_reports_a_refused_subscriber_and_sends_the_others(
    example_app: Flask,
    smtp_server: RecordingSMTPServer,
    subscribers_file: Callable[[list[str]], Path],
) -> None:
    refused = f"gone@{REFUSED_DOMAIN}"

    exit_code, output = newsletter(
        example_app, subscribers_file(["ada@readers.example", refused, "alan@readers.example"])
    )

    assert exit_code == 1
    assert len(smtp_server.messages) == 2
    assert output[1].startswith(f"#1 refused {refused}: 550")
    assert "3 messages in one batch: 2 sent, 1 refused" in output
    assert output[-1] == "Error: 1 messages not sent"
