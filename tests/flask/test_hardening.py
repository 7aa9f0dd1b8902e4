"""Issue 14 through Flask's Mail and Connection: header injection by any line-break
character in every field that becomes a header, a server answering DATA with 250, a
malformed EHLO, and a recipient that is no address."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable, Iterator

import pytest

from flask_smtp_backend import Attachment, BadHeaderError, Mail, Message
from smtp_backend.errors import SMTPDataError, SMTPServerDisconnected, SMTPTimeoutError
from tests.flask.conftest import MailFactory
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

# Everything str.splitlines() splits on, and NUL.
BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00"]
INJECTION = "Invoice{}Bcc: leak@evil.test"


def plain(**fields: object) -> Message:
    fields.setdefault("subject", "hello")
    fields.setdefault("recipients", ["bob@example.test"])
    fields.setdefault("body", "the content")
    return Message(**fields)  # type: ignore[arg-type]


def with_msg_id(value: str) -> Message:
    message = plain()
    message.msgId = value
    return message


# Each field that becomes a header, given the hostile text.
FIELDS: dict[str, Callable[[str], Message]] = {
    "subject": lambda text: plain(subject=text),
    "extra_headers": lambda text: plain(extra_headers={"X-Campaign": text}),
    "recipient display name": lambda text: plain(recipients=[(text, "bob@example.test")]),
    "cc display name": lambda text: plain(cc=[(text, "carol@example.test")]),
    "reply_to": lambda text: plain(reply_to=(text, "reply@example.test")),
    "attachment header": lambda text: plain(
        attachments=[Attachment("a.txt", "text/plain", "data", headers={"Content-ID": text})]
    ),
    "msgId": with_msg_id,
}


FLASK_MAIL_CHECKS = {"subject", "recipient display name", "cc display name", "reply_to"}


@pytest.fixture
def sending(mail: Mail, smtp_server: RecordingSMTPServer) -> Iterator[Mail]:
    yield mail
    assert smtp_server.messages == []  # nothing of a refused message reached the server


@pytest.mark.parametrize("char", BREAKS, ids=[repr(c) for c in BREAKS])
@pytest.mark.parametrize("field", list(FIELDS))
def test_a_line_break_in_any_header_field_is_refused(sending: Mail, field: str, char: str) -> None:
    message = FIELDS[field](INJECTION.format(char))
    # Flask-Mail's own check covers these fields; the others are refused where written.
    assert message.has_bad_headers() is (field in FLASK_MAIL_CHECKS)
    with pytest.raises(BadHeaderError):
        sending.send(message)
    with pytest.raises(BadHeaderError), sending.connect() as connection:
        connection.send(FIELDS[field](INJECTION.format(char)))
    with pytest.raises(BadHeaderError):
        message.as_bytes()  # where headers are written, the core rule holds too


def test_a_folded_subject_is_still_accepted(mail: Mail, smtp_server: RecordingSMTPServer) -> None:
    mail.send(plain(subject="Invoice\r\n for\tMarch"))
    received = email.message_from_bytes(smtp_server.messages[0].content, policy=email.policy.SMTP)
    assert received["Subject"] == "Invoice for\tMarch"
    assert "Bcc" not in received


# -- a misbehaving server --------------------------------------------------------------------


@pytest.fixture
def scripted_mail(
    make_mail: MailFactory, scripted_server: ScriptedServer
) -> Iterator[Callable[..., Mail]]:
    def make(**config: object) -> Mail:
        return make_mail(scripted_server, **config)  # type: ignore[arg-type]

    yield make


def test_data_answered_250_raises_and_sends_no_content(
    scripted_mail: Callable[..., Mail], scripted_server: ScriptedServer
) -> None:
    for _ in range(2):
        scripted_server.play(
            GREETING,
            Expect(rb"(?i)EHLO \S+", ehlo_reply("PIPELINING", "8BITMIME")),
            Expect(rb"(?i)MAIL FROM:<sender@example\.test>.*", b"250 ok\r\n"),
            Expect(rb"(?i)RCPT TO:<bob@example\.test>.*", b"250 ok\r\n"),
            Expect(rb"(?i)DATA", b"250 2.0.0 ok\r\n"),
        )
    mail = scripted_mail()
    with mail.app.app_context():
        with pytest.raises(SMTPDataError):
            mail.send(plain())
        with pytest.raises(SMTPDataError), mail.connect() as connection:
            connection.send(plain())
    scripted_server.join()
    assert scripted_server.messages == []
    assert all(b"the content" not in bytes(sent) for sent in scripted_server.received)


def test_a_malformed_ehlo_does_not_stop_the_send(
    scripted_mail: Callable[..., Mail], scripted_server: ScriptedServer
) -> None:
    odd = b"250-fake.test\r\n250-SIZE \xb2\r\n250-AUTH login Plain\r\n250 8BITMIME\r\n"
    plain_auth = base64.b64encode(b"\x00user\x00secret")
    scripted_server.play(
        GREETING,
        Expect(rb"(?i)EHLO \S+", odd),
        Expect(b"AUTH PLAIN " + plain_auth, b"235 2.7.0 ok\r\n"),
        Serve(ehlo=odd),
    )
    mail = scripted_mail(MAIL_USERNAME="user", MAIL_PASSWORD="secret")
    with mail.app.app_context():
        mail.send(plain())
    assert len(scripted_server.messages) == 1


@pytest.mark.parametrize(
    "recipients",
    [["a@example.test b@example.test"], [("Bob", "")], ["bob@example.test", "Bob <>"]],
)
def test_a_recipient_that_is_no_address_is_refused_before_sending(
    sending: Mail, smtp_server: RecordingSMTPServer, recipients: list[object]
) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        sending.send(plain(recipients=recipients))
    assert "RCPT" not in smtp_server.verbs()


# -- no password in any error or repr, whatever the URL --------------------------------------


@pytest.mark.parametrize("password", ["Tr0ub4dor#3x", "pass/word99", "pass?word99", "a#b?c/d@e:f"])
def test_a_mail_url_password_never_shows(make_mail: MailFactory, password: str) -> None:
    url = f"smtp+starttls://alice:{password}@mail.example.test:587"
    with pytest.raises(ValueError) as raised:
        mail = make_mail(MAIL_URL=url, MAIL_SUPPRESS_SEND=False)
        with mail.app.app_context():
            mail.send(plain())
    assert password not in str(raised.value)
    assert "alice:***@" in str(raised.value)


def test_mail_timeout_bounds_a_trickled_reply(
    scripted_mail: Callable[..., Mail], scripted_server: ScriptedServer
) -> None:
    for _ in range(10):  # the Mailer tries again on fresh connections
        scripted_server.play(
            GREETING,
            Expect(rb"(?i)EHLO \S+", ehlo_reply("8BITMIME")),
            Expect(rb"(?i)MAIL FROM:.*"),
            Trickle(b"250-still going\r\n", interval=0.05),
        )
    mail = scripted_mail(MAIL_TIMEOUT=0.5)
    with mail.app.app_context(), pytest.raises(SMTPTimeoutError, match="command reply"):
        mail.send(plain())


def test_lmtp_recipients_left_unanswered_raise_and_are_not_resent(
    make_mail: MailFactory, scripted_server: ScriptedServer
) -> None:
    scripted_server.play(*lmtp_closing_midway())
    host, port = scripted_server.address
    mail = make_mail(None, MAIL_URL=f"lmtp://{host}:{port}", MAIL_SUPPRESS_SEND=False)
    with mail.app.app_context(), pytest.raises(SMTPServerDisconnected):
        mail.send(plain(recipients=list(LMTP_RECIPIENTS)))
    mail.close()
    scripted_server.join()
    assert scripted_server.connections == 1
