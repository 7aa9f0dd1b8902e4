"""Sending through a real in-process SMTP server: envelopes, batches, reuse, failures, signals."""

from __future__ import annotations

import email.parser
import email.policy
import gc
import socket

import pytest
from flask import Flask

from flask_smtp_backend import Mail, Message, email_dispatched
from smtp_backend import MessageState, SMTPRecipientsRefused, SMTPSenderRefused
from tests.flask.conftest import MailFactory
from tests.servers import REFUSED_DOMAIN, REJECTED_SENDER, RecordingSMTPServer


def message(n: int = 0, **kwargs: object) -> Message:
    kwargs.setdefault("recipients", [f"to{n}@example.test"])
    return Message(f"message {n}", body=f"body {n}\n", **kwargs)  # type: ignore[arg-type]


def subjects(server: RecordingSMTPServer) -> list[str]:
    parser = email.parser.BytesParser(policy=email.policy.default)
    return [str(parser.parsebytes(m.content)["Subject"]) for m in server.messages]


def test_send_delivers_with_the_envelope_of_to_cc_and_bcc(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    mail.send(
        Message(
            "hello",
            sender=("Ana", "ana@example.test"),
            recipients=["to@example.test"],
            cc=[("Cee", "cc@example.test")],
            bcc=["bcc@example.test"],
            body="hi\n",
        )
    )
    [received] = smtp_server.messages
    assert received.mail_from == "ana@example.test"
    assert received.rcpt_tos == ("to@example.test", "cc@example.test", "bcc@example.test")
    assert b"bcc@example.test" not in received.content
    assert b"From: =?utf-8?q?Ana?= <ana@example.test>" in received.content  # Flask-Mail's form
    assert received.transfer == "DATA" and not received.tls


def test_envelope_from_overrides_mail_from(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    with mail.connect() as connection:
        connection.send(message(), envelope_from="bounces@example.test")
    [received] = smtp_server.messages
    assert received.mail_from == "bounces@example.test"
    assert b"From: sender@example.test" in received.content


def test_send_message_takes_message_arguments(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    mail.send_message(subject="kw", recipients=["k@example.test"], body="b")
    assert [m.rcpt_tos for m in smtp_server.messages] == [("k@example.test",)]
    assert subjects(smtp_server) == ["kw"]


def test_mail_options_and_rcpt_options_reach_the_server(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    mail.send(message(mail_options=["BODY=8BITMIME"]))
    assert "BODY=8BITMIME" in smtp_server.messages[0].mail_options
    with pytest.raises(SMTPRecipientsRefused):  # the test server knows no RCPT parameters
        mail.send(message(rcpt_options=["NOTIFY=NEVER"]))
    rcpt = [c.argument for c in smtp_server.commands if c.verb == "RCPT"][-1]
    assert rcpt.endswith("<to0@example.test> NOTIFY=NEVER")


def test_connection_is_reused_across_requests(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)
    app = mail.app

    @app.post("/notify/<int:n>")
    def notify(n: int) -> str:
        mail.send(message(n))
        return "sent"

    client = app.test_client()
    for n in range(3):
        assert client.post(f"/notify/{n}").text == "sent"
    assert subjects(smtp_server) == ["message 0", "message 1", "message 2"]
    assert smtp_server.connections == 1
    assert smtp_server.verbs().count("EHLO") == 1


def test_connect_sends_the_batch_pipelined_over_one_connection(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    with mail.connect() as connection:
        for n in range(5):
            connection.send(message(n))
        assert smtp_server.messages == []  # queued until the block ends
    assert subjects(smtp_server) == [f"message {n}" for n in range(5)]
    assert smtp_server.connections == 1
    assert [r.state for r in connection.results] == [MessageState.SENT] * 5


def test_max_emails_opens_a_new_session_after_that_many(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server, MAIL_MAX_EMAILS=2)
    with mail.app.app_context(), mail.connect() as connection:
        for n in range(5):
            connection.send(message(n))
    assert subjects(smtp_server) == [f"message {n}" for n in range(5)]
    assert [m.connection for m in smtp_server.messages] == [1, 1, 2, 2, 3]


def test_exception_in_the_block_sends_what_was_queued_then_propagates(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    with pytest.raises(KeyError, match="boom"), mail.connect() as connection:
        connection.send(message(0))
        connection.send(message(1))
        raise KeyError("boom")
    assert subjects(smtp_server) == ["message 0", "message 1"]


def test_refused_recipients_raise_like_smtplib(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    with pytest.raises(SMTPRecipientsRefused) as refused:
        mail.send(message(recipients=[f"nobody@{REFUSED_DOMAIN}"]))
    assert refused.value.recipients[f"nobody@{REFUSED_DOMAIN}"][0] == 550
    with pytest.raises(SMTPSenderRefused):
        mail.send(message(sender=REJECTED_SENDER))
    assert smtp_server.messages == []


def test_partly_refused_recipients_still_send(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    with mail.record_messages() as outbox:
        mail.send(message(recipients=["ok@example.test", f"no@{REFUSED_DOMAIN}"]))
    assert [m.rcpt_tos for m in smtp_server.messages] == [("ok@example.test",)]
    assert len(outbox) == 1


def test_a_refusal_in_a_batch_does_not_stop_the_others(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    with (
        mail.record_messages() as outbox,
        pytest.raises(SMTPRecipientsRefused),
        mail.connect() as connection,
    ):
        connection.send(message(0))
        connection.send(message(1, recipients=[f"x@{REFUSED_DOMAIN}"]))
        connection.send(message(2))
    assert subjects(smtp_server) == ["message 0", "message 2"]
    assert [m.subject for m in outbox] == ["message 0", "message 2"]
    states = [r.state for r in connection.results]
    assert states == [MessageState.SENT, MessageState.REFUSED, MessageState.SENT]


def test_send_many_returns_one_result_per_message(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    results = mail.send_many([message(0), message(1, recipients=[f"x@{REFUSED_DOMAIN}"])])
    assert [r.state for r in results] == [MessageState.SENT, MessageState.REFUSED]
    assert results[1].refused[f"x@{REFUSED_DOMAIN}"].code == 550
    assert subjects(smtp_server) == ["message 0"]


def test_email_dispatched_fires_per_message_sent_with_the_app(
    mail: Mail, smtp_server: RecordingSMTPServer
) -> None:
    seen: list[tuple[Flask, str]] = []

    def on_dispatch(app: Flask, message: Message) -> None:
        seen.append((app, message.subject))

    with email_dispatched.connected_to(on_dispatch):
        mail.send(message(0))
        with pytest.raises(SMTPRecipientsRefused):
            mail.send(message(1, recipients=[f"x@{REFUSED_DOMAIN}"]))
    assert seen == [(mail.app, "message 0")]


def test_record_messages_records_real_sends(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    with mail.record_messages() as outbox:
        mail.send(message(0))
    assert [m.subject for m in outbox] == ["message 0"]
    assert len(smtp_server.messages) == 1
    assert mail.outbox == []  # the outbox is for suppressed mail only


def test_close_quits_the_pooled_connection(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)
    with mail.app.app_context():
        mail.send(message())
    mail.close()
    assert smtp_server.verbs()[-1] == "QUIT"


def test_the_app_going_away_closes_its_connections(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    app = Flask("short_lived")
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    mail = Mail(app)
    with app.app_context():
        mail.send(message(sender="s@example.test"))
    del app, mail
    gc.collect()
    assert smtp_server.verbs()[-1] == "QUIT"


def test_an_unreachable_server_raises(make_mail: MailFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    mail = make_mail(None, MAIL_PORT=closed_port, MAIL_SUPPRESS_SEND=False)
    with (
        mail.app.app_context(),
        mail.record_messages() as outbox,
        pytest.raises(ConnectionRefusedError),
    ):
        mail.send(message())
    assert outbox == []
