"""Issue 14 through Django's EmailBackend: a misbehaving server scripted on real sockets,
and hostile input, each refused before anything is sent."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail import BadHeaderError, EmailMessage, send_mail

from django_smtp_backend import EmailBackend, close_shared_mailers
from smtp_backend import MessageState
from smtp_backend.errors import SMTPDataError, SMTPServerDisconnected, SMTPTimeoutError
from tests.servers import RecordingSMTPServer
from tests.servers.scripted import (
    GREETING,
    LMTP_RECIPIENTS,
    Expect,
    ScriptedServer,
    Serve,
    Trickle,
    ehlo_reply,
    lmtp_closing_midway,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server(scripted_server: ScriptedServer) -> Iterator[ScriptedServer]:
    yield scripted_server
    close_shared_mailers()  # pooled connections end their scripts
    scripted_server.join()


def hello(**changes: object) -> EmailMessage:
    fields: dict[str, object] = {
        "subject": "hello",
        "body": "the content",
        "from_email": "alice@example.test",
        "to": ["bob@example.test"],
    }
    fields.update(changes)
    return EmailMessage(**fields)  # type: ignore[arg-type]


def backend_for(server: ScriptedServer, **options: object) -> EmailBackend:
    return EmailBackend(host=server.host, port=server.port, timeout=5, **options)  # type: ignore[arg-type]


# -- DATA answered 250: never counted as sent --------------------------------------------

DATA_ANSWERED_250 = (
    GREETING,
    Expect(rb"(?i)EHLO \S+", ehlo_reply("PIPELINING", "8BITMIME")),
    Expect(rb"(?i)MAIL FROM:<alice@example\.test>.*", b"250 ok\r\n"),
    Expect(rb"(?i)RCPT TO:<bob@example\.test>.*", b"250 ok\r\n"),
    Expect(rb"(?i)DATA", b"250 2.0.0 ok\r\n"),
)


def test_data_answered_250_raises_data_error_and_counts_nothing(server: ScriptedServer) -> None:
    server.play(*DATA_ANSWERED_250)
    server.play(*DATA_ANSWERED_250)
    server.play(*DATA_ANSWERED_250)
    with pytest.raises(SMTPDataError):
        backend_for(server).send_messages([hello()])
    assert backend_for(server, fail_silently=True).send_messages([hello()]) == 0
    with pytest.raises(SMTPDataError):
        asyncio.run(backend_for(server).asend_messages([hello()]))
    server.join()
    assert server.messages == []
    assert all(b"the content" not in bytes(sent) for sent in server.received)


# -- a malformed EHLO parameter; AUTH in mixed case ------------------------------------------

ODD_EHLO = b"250-fake.test\r\n250-SIZE \xb2\r\n250-AUTH login Plain\r\n250 8BITMIME\r\n"
PLAIN = base64.b64encode(b"\x00user\x00secret")


def test_a_malformed_ehlo_does_not_stop_the_send(server: ScriptedServer) -> None:
    server.play(
        GREETING,
        Expect(rb"(?i)EHLO \S+", ODD_EHLO),
        Expect(b"AUTH PLAIN " + PLAIN, b"235 2.7.0 ok\r\n"),
        Serve(ehlo=ODD_EHLO),
    )
    backend = backend_for(server, username="user", password="secret", fail_silently=True)
    assert backend.send_messages([hello()]) == 1
    close_shared_mailers()
    server.join()
    assert server.errors == []
    assert len(server.messages) == 1


# -- an unparsable recipient --------------------------------------------------------------


@pytest.mark.parametrize("recipient", ["a@example.test b@example.test", "Bob <>"])
def test_an_unparsable_recipient_is_refused_before_connecting(
    server: ScriptedServer, recipient: str
) -> None:
    with pytest.raises(ValueError, match="Invalid address"):
        backend_for(server).send_messages([hello(to=[recipient])])
    assert server.connections == 0


# -- header injection by any line-break character ------------------------------------------

BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00"]
INJECTION = "Invoice{}Bcc: leak@evil.test"
FIELDS = {
    "subject": lambda text: hello(subject=text),
    "extra header": lambda text: hello(headers={"X-Campaign": text}),
    "reply_to display name": lambda text: hello(reply_to=[f'"{text}" <r@example.test>']),
    "to display name": lambda text: hello(to=[f'"{text}" <bob@example.test>']),
}


@pytest.mark.parametrize("char", BREAKS, ids=[repr(c) for c in BREAKS])
@pytest.mark.parametrize("field", list(FIELDS))
def test_a_line_break_in_any_header_is_refused_before_sending(
    smtp_server: RecordingSMTPServer, field: str, char: str
) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port, fail_silently=True)
    # A recipient's address is checked first, with ValueError, as Django's backend does.
    error = ValueError if field == "to display name" else BadHeaderError
    with pytest.raises(error):
        backend.send_messages([FIELDS[field](INJECTION.format(char))])
    with pytest.raises(error):
        asyncio.run(backend.asend_messages([FIELDS[field](INJECTION.format(char))]))
    assert smtp_server.messages == []


# -- no password in any error or repr, whatever the URL --------------------------------------

LEAKY_PASSWORDS = ["Tr0ub4dor#3x", "pass/word99", "pass?word99", "a#b?c/d@e:f"]


@pytest.mark.parametrize("password", LEAKY_PASSWORDS)
def test_a_url_password_never_shows(password: str) -> None:
    url = f"smtp+starttls://alice:{password}@mail.example.test:587"
    with pytest.raises(ValueError) as raised:
        EmailBackend(url=url).send_messages([hello()])
    assert password not in str(raised.value)
    assert "alice:***@" in str(raised.value)
    escaped = url.replace(password, password.replace("#", "%23").replace("/", "%2F"))
    escaped = escaped.replace("?", "%3F").replace("@e", "%40e")
    backend = EmailBackend(url=escaped)
    assert password not in repr(backend) + repr(backend.config) + repr(backend.mailer)


# -- EMAIL_TIMEOUT bounds a reply that trickles in a byte at a time -------------------------

TRICKLE_AFTER_MAIL = (
    GREETING,
    Expect(rb"(?i)EHLO \S+", ehlo_reply("8BITMIME")),
    Expect(rb"(?i)MAIL FROM:.*"),
    Trickle(b"250-still going\r\n", interval=0.05),
)


def test_email_timeout_bounds_a_trickled_reply(settings: Any, server: ScriptedServer) -> None:
    for _ in range(10):  # the Mailer tries again on fresh connections
        server.play(*TRICKLE_AFTER_MAIL)
    settings.EMAIL_BACKEND = "django_smtp_backend.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.EMAIL_TIMEOUT = 0.5
    with pytest.raises(SMTPTimeoutError, match="waiting for the command reply"):
        send_mail("hello", "the content", "alice@example.test", ["bob@example.test"])


def test_a_long_non_ascii_subject_django_folds_is_sent(smtp_server: RecordingSMTPServer) -> None:
    subject = "Überraschung für alle Abonnenten " * 6  # Django < 6 folds its encoding with LF
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)
    assert backend.send_messages([hello(subject=subject)]) == 1
    received = email.message_from_bytes(smtp_server.messages[0].content, policy=email.policy.SMTP)
    assert received["Subject"].strip() == subject.strip()


# -- LMTP: the server closes before every recipient was answered ----------------------------


def test_lmtp_recipients_left_unanswered_are_never_counted_sent(server: ScriptedServer) -> None:
    for _ in range(2):
        server.play(*lmtp_closing_midway())
    url = f"lmtp://{server.host}:{server.port}"
    with pytest.raises(SMTPServerDisconnected) as raised:
        EmailBackend(url=url, timeout=5).send_messages([hello(to=list(LMTP_RECIPIENTS))])
    [result] = raised.value.results  # type: ignore[attr-defined]
    assert result.state is MessageState.UNKNOWN  # c may have it: not sent again
    assert result.accepted == ("a@example.test",)
    quiet = EmailBackend(url=url, timeout=5, fail_silently=True)
    assert quiet.send_messages([hello(to=list(LMTP_RECIPIENTS))]) == 0
    close_shared_mailers()
    server.join()
    assert server.connections == 2
