"""The Django backend against a real server: Django's semantics, batched on shared connections."""

from __future__ import annotations

import email
import email.policy
import smtplib
import threading
from email.message import EmailMessage as ParsedMessage
from typing import Any

import django
import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail, send_mass_mail
from django.core.management import call_command

from django_smtp_backend import CancelSend, EmailBackend, post_send, pre_send
from smtp_backend import MessageState, SendResult
from tests.servers import REFUSED_DOMAIN, RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def backend_for(server: RecordingSMTPServer, **options: Any) -> EmailBackend:
    return EmailBackend(host=server.host, port=server.port, **options)


def parsed(content: bytes) -> ParsedMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, ParsedMessage)
    return message


def note(subject: str, *recipients: str, **options: Any) -> EmailMessage:
    return EmailMessage(
        subject, f"body of {subject}", "alice@example.test", list(recipients), **options
    )


def test_send_mail_with_classic_settings_delivers_one_message(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    sent = send_mail("Hello", "Body text", "alice@example.test", ["bob@example.test"])

    assert sent == 1
    [received] = smtp_server.messages
    assert received.mail_from == "alice@example.test"
    assert received.rcpt_tos == ("bob@example.test",)
    assert parsed(received.content)["Subject"] == "Hello"


def test_send_messages_returns_the_number_sent_and_skips_messages_without_recipients(
    smtp_server: RecordingSMTPServer,
) -> None:
    backend = backend_for(smtp_server)
    messages = [note("one", "a@example.test"), note("nobody"), note("two", "b@example.test")]

    assert backend.send_messages(messages) == 2
    assert [parsed(m.content)["Subject"] for m in smtp_server.messages] == ["one", "two"]
    assert [r.recipients for r in backend.last_results] == [
        ("a@example.test",),
        ("b@example.test",),
    ]
    assert backend.send_messages([]) == 0
    assert backend.last_results == []


def test_one_batch_and_later_calls_share_one_connection(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    datatuple = [
        (f"mass {i}", "body", "alice@example.test", [f"user{i}@example.test"]) for i in range(5)
    ]

    assert send_mass_mail(datatuple) == 5
    send_mail("later", "body", "alice@example.test", ["bob@example.test"])
    send_mail("later again", "body", "alice@example.test", ["bob@example.test"])

    assert len(smtp_server.messages) == 7
    assert smtp_server.connections == 1


def test_context_manager_opens_once(smtp_server: RecordingSMTPServer) -> None:
    with backend_for(smtp_server) as backend:
        assert backend.open() is False  # already open: Django's meaning
        backend.send_messages([note("first", "a@example.test")])
        backend.send_messages([note("second", "a@example.test")])
    assert backend.open() is True
    backend.close()
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 1


def test_bcc_is_in_the_envelope_and_never_in_the_headers(
    smtp_server: RecordingSMTPServer,
) -> None:
    message = note("secret", "to@example.test", cc=["cc@example.test"], bcc=["hidden@example.test"])

    assert backend_for(smtp_server).send_messages([message]) == 1

    [received] = smtp_server.messages
    assert received.rcpt_tos == ("to@example.test", "cc@example.test", "hidden@example.test")
    assert b"hidden@example.test" not in received.content
    assert parsed(received.content)["Cc"] == "cc@example.test"


def test_non_ascii_local_part_is_refused_before_sending_as_django_does(
    smtp_server: RecordingSMTPServer,
) -> None:
    message = EmailMessage("Grüße", "Hallo", "alice@example.test", ["jösé@example.test"])

    with pytest.raises(ValueError, match="local-part contains non-ASCII characters"):
        backend_for(smtp_server).send_messages([message])

    assert smtp_server.messages == []
    assert smtp_server.connections == 0


@pytest.mark.parametrize("wrapped_sendmail", [False, True])
def test_non_ascii_local_part_is_sent_with_smtputf8_when_asked(
    smtp_server: RecordingSMTPServer, wrapped_sendmail: bool
) -> None:
    message = EmailMessage("Grüße", "Hallo", "señor@example.test", ["jösé@example.test"])

    with backend_for(smtp_server, smtputf8=True) as backend:
        if wrapped_sendmail:  # Django's way: the connection's own sendmail() per message
            backend.connection.sendmail = backend.connection.sendmail
        assert backend.send_messages([message]) == 1

    [received] = smtp_server.messages
    assert received.smtp_utf8
    assert received.mail_from == "señor@example.test"
    assert received.rcpt_tos == ("jösé@example.test",)
    assert "SMTPUTF8" in received.mail_options
    assert parsed(received.content)["Subject"] == "Grüße"


def test_non_ascii_domain_with_ascii_local_part_is_idna_encoded_without_smtputf8(
    smtp_server: RecordingSMTPServer,
) -> None:
    message = EmailMessage("IDN", "body", "alice@example.test", ["bob@bücher.test"])

    assert backend_for(smtp_server).send_messages([message]) == 1

    [received] = smtp_server.messages
    assert received.rcpt_tos == ("bob@xn--bcher-kva.test",)
    assert not received.smtp_utf8


def test_attachments_arrive_intact(smtp_server: RecordingSMTPServer) -> None:
    message = note("report", "bob@example.test")
    message.attach("report.csv", "a,b\n1,2\n", "text/csv")
    binary = bytes(range(256)) * 4
    message.attach("blob.bin", binary, "application/octet-stream")

    assert backend_for(smtp_server).send_messages([message]) == 1

    attachments = {
        part.get_filename(): part.get_content()
        for part in parsed(smtp_server.messages[0].content).iter_attachments()
    }
    assert attachments["report.csv"].replace("\r\n", "\n") == "a,b\n1,2\n"
    assert attachments["blob.bin"] == binary


def test_mail_admins_reaches_every_admin(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    admins = ["ops@example.test", "root@example.test"]
    # Django 6.0 takes plain addresses; older versions (name, address) pairs.
    classic_settings.ADMINS = admins if django.VERSION >= (6, 0) else [("", a) for a in admins]

    mail.mail_admins("Disk full", "Only 1% left")

    [received] = smtp_server.messages
    assert received.mail_from == "server@example.test"
    assert received.rcpt_tos == tuple(admins)
    assert parsed(received.content)["Subject"] == "[Django] Disk full"


def test_sendtestemail_command_sends_through_the_backend(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    call_command("sendtestemail", "check@example.test")

    [received] = smtp_server.messages
    assert received.rcpt_tos == ("check@example.test",)
    assert parsed(received.content)["Subject"].startswith("Test email from")


def test_refused_recipients_raise_smtplib_error_unless_fail_silently(
    smtp_server: RecordingSMTPServer,
) -> None:
    refused = note("nope", f"nobody@{REFUSED_DOMAIN}")

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        backend_for(smtp_server).send_messages([refused])
    assert backend_for(smtp_server, fail_silently=True).send_messages([refused]) == 0


def test_a_failed_message_does_not_stop_the_batch_and_its_error_is_raised(
    smtp_server: RecordingSMTPServer,
) -> None:
    backend = backend_for(smtp_server)
    batch = [
        note("ok 1", "a@example.test"),
        note("refused", f"x@{REFUSED_DOMAIN}"),
        note("ok 2", "b@example.test"),
    ]

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        backend.send_messages(batch)

    assert [r.state for r in backend.last_results] == [
        MessageState.SENT,
        MessageState.REFUSED,
        MessageState.SENT,
    ]
    assert len(smtp_server.messages) == 2


def test_partly_refused_recipients_still_count_as_sent(smtp_server: RecordingSMTPServer) -> None:
    backend = backend_for(smtp_server)

    assert backend.send_messages([note("partly", "a@example.test", f"x@{REFUSED_DOMAIN}")]) == 1

    [result] = backend.last_results
    assert result.accepted == ("a@example.test",)
    assert list(result.refused) == [f"x@{REFUSED_DOMAIN}"]
    assert result.refused[f"x@{REFUSED_DOMAIN}"].code == 550


def test_unreachable_server_raises_oserror_unless_fail_silently(closed_port: int) -> None:
    message = note("lost", "a@example.test")

    with pytest.raises(OSError):
        EmailBackend(host="127.0.0.1", port=closed_port).send_messages([message])
    quiet = EmailBackend(host="127.0.0.1", port=closed_port, fail_silently=True)
    assert quiet.send_messages([message]) == 0


def test_open_connects_now_and_raises_unless_fail_silently(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        EmailBackend(host="127.0.0.1", port=closed_port).open()
    assert EmailBackend(host="127.0.0.1", port=closed_port, fail_silently=True).open() is None


def test_open_holds_a_connection_that_the_sends_reuse(smtp_server: RecordingSMTPServer) -> None:
    backend = backend_for(smtp_server)
    assert backend.open() is True
    assert smtp_server.connections == 1 and smtp_server.verbs() == ["EHLO"]
    assert backend.send_messages([note("after open", "a@example.test")]) == 1
    backend.close()
    assert smtp_server.connections == 1


def test_invalid_address_raises_value_error_even_when_failing_silently(
    smtp_server: RecordingSMTPServer,
) -> None:
    injected = note("injected", "bob@example.test\nBcc: victim@example.test")

    with pytest.raises(ValueError):
        backend_for(smtp_server, fail_silently=True).send_messages([injected])
    assert smtp_server.messages == []


def test_signals_carry_each_result_and_pre_send_can_cancel(
    smtp_server: RecordingSMTPServer,
) -> None:
    seen: list[tuple[str, SendResult]] = []

    def cancel_drafts(sender: Any, message: Any, **kwargs: Any) -> None:
        if message.subject.startswith("draft"):
            raise CancelSend

    def record(sender: Any, message: Any, result: SendResult, **kwargs: Any) -> None:
        seen.append((message.subject, result))

    pre_send.connect(cancel_drafts)
    post_send.connect(record)
    try:
        backend = backend_for(smtp_server)
        sent = backend.send_messages(
            [note("final", "a@example.test"), note("draft 1", "a@example.test")]
        )
    finally:
        pre_send.disconnect(cancel_drafts)
        post_send.disconnect(record)

    assert sent == 1
    assert [subject for subject, _ in seen] == ["final"]
    assert seen[0][1] is backend.last_results[0]
    assert seen[0][1].ok
    assert [parsed(m.content)["Subject"] for m in smtp_server.messages] == ["final"]


def test_threads_share_one_backend_and_a_bounded_pool(smtp_server: RecordingSMTPServer) -> None:
    backend = backend_for(smtp_server, pool_size=2)
    counts: dict[int, int] = {}
    own_results: dict[int, tuple[str, ...]] = {}
    start = threading.Barrier(8)

    def send(worker: int) -> None:
        start.wait()
        counts[worker] = backend.send_messages(
            [note(f"w{worker}-{i}", f"w{worker}@example.test") for i in range(5)]
        )
        own_results[worker] = tuple({r.recipients[0] for r in backend.last_results})

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counts == {worker: 5 for worker in range(8)}
    assert own_results == {worker: (f"w{worker}@example.test",) for worker in range(8)}
    assert len(smtp_server.messages) == 40
    assert smtp_server.connections <= 2
