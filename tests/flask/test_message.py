"""Message and Attachment: Flask-Mail 0.10's documented behaviour, as the bytes show it."""

from __future__ import annotations

import email.parser
import email.policy
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from flask_smtp_backend import Attachment, BadHeaderError, Mail, Message
from tests.flask.conftest import MailFactory


def parsed(message: Message) -> EmailMessage:
    """The message as a receiving mail store reads it (line endings back to LF)."""
    data = message.as_bytes().replace(b"\r\n", b"\n")
    result = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(result, EmailMessage)
    return result


@pytest.fixture
def test_mail(make_mail: MailFactory) -> Mail:
    """A suppressed (TESTING) app's Mail, inside its app context."""
    mail = make_mail(TESTING=True)
    context = mail.app.app_context()
    context.push()
    yield mail
    context.pop()


def test_plain_message_headers_and_body(test_mail: Mail) -> None:
    msg = Message(
        "Hello", recipients=["to@example.test"], body="Hi there\n", cc=["cc@example.test"]
    )
    out = parsed(msg)
    assert out["Subject"] == "Hello"
    assert out["From"] == "sender@example.test"  # MAIL_DEFAULT_SENDER
    assert out["To"] == "to@example.test"
    assert out["Cc"] == "cc@example.test"
    assert out["Message-ID"] == msg.msgId
    assert out["Date"] is not None
    assert out.get_content_type() == "text/plain"
    assert out.get_content() == "Hi there\n"
    assert msg.as_bytes().count(b"\r\n") > 5  # CRLF line endings, as sent


def test_sender_tuple_becomes_name_and_address(test_mail: Mail) -> None:
    msg = Message("s", sender=("Ana Núñez", "ana@example.test"), recipients=["x@example.test"])
    assert msg.sender == "Ana Núñez <ana@example.test>"
    sender = parsed(msg)["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Ana Núñez", "ana@example.test")


def test_default_sender_tuple(make_mail: MailFactory) -> None:
    mail = make_mail(TESTING=True, MAIL_DEFAULT_SENDER=("Robot", "robot@example.test"))
    with mail.app.app_context():
        assert Message("s", recipients=["x@example.test"]).sender == "Robot <robot@example.test>"


def test_recipient_forms_and_add_recipient(test_mail: Mail) -> None:
    msg = Message("s", recipients=[("Bob B", "bob@example.test"), "Carol <carol@example.test>"])
    msg.add_recipient("dan@example.test")
    to = [(a.display_name, a.addr_spec) for a in parsed(msg)["To"].addresses]
    assert to == [
        ("Bob B", "bob@example.test"),
        ("Carol", "carol@example.test"),
        ("", "dan@example.test"),
    ]


def test_bcc_is_not_a_header_but_is_a_recipient(test_mail: Mail) -> None:
    msg = Message("s", recipients=["to@example.test"], bcc=["hidden@example.test"])
    assert "Bcc" not in parsed(msg)
    assert b"hidden@example.test" not in msg.as_bytes()
    assert msg.send_to == {"to@example.test", "hidden@example.test"}


def test_html_and_body_are_alternatives_inside_mixed(test_mail: Mail) -> None:
    """Flask-Mail's layout: multipart/mixed holding multipart/alternative (text, html)."""
    msg = Message("s", recipients=["x@example.test"], body="plain", html="<b>rich</b>")
    out = parsed(msg)
    assert out.get_content_type() == "multipart/mixed"
    [alternative] = out.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert (plain.get_content_type(), plain.get_content()) == ("text/plain", "plain")
    assert (html.get_content_type(), html.get_content()) == ("text/html", "<b>rich</b>")
    assert msg.html == msg.alts["html"] == "<b>rich</b>"


def test_html_only_has_an_empty_text_alternative(test_mail: Mail) -> None:
    msg = Message("s", recipients=["x@example.test"], html="<b>rich</b>")
    [alternative] = parsed(msg).iter_parts()
    plain, html = alternative.iter_parts()
    assert (plain.get_content_type(), plain.get_content()) == ("text/plain", "")
    assert html.get_content() == "<b>rich</b>"


def test_alts_add_further_alternatives(test_mail: Mail) -> None:
    msg = Message("s", recipients=["x@example.test"], body="plain", alts={"x-markdown": "*md*"})
    [alternative] = parsed(msg).iter_parts()
    types = [p.get_content_type() for p in alternative.iter_parts()]
    assert types == ["text/plain", "text/x-markdown"]


def test_attachments_and_inline_parts(test_mail: Mail) -> None:
    msg = Message(
        "s", recipients=["x@example.test"], body="see attached", html="<img src=cid:logo>"
    )
    msg.attach("report.pdf", data=b"%PDF-1.4 \x00\xff")
    msg.attach("notes.txt", data="some notes\n")
    msg.attach(
        "logo.png",
        data=b"\x89PNG\r\n",
        disposition="inline",
        headers={"Content-ID": "<logo>"},
    )
    out = parsed(msg)
    assert out.get_content_type() == "multipart/mixed"
    alternative, pdf, notes, logo = out.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "report.pdf")
    assert pdf.get_content() == b"%PDF-1.4 \x00\xff"
    assert pdf.get_content_disposition() == "attachment"
    assert notes.get_content_type() == "text/plain"
    assert notes.get_payload(decode=True) == b"some notes\n"  # exactly the text given
    assert logo.get_content_disposition() == "inline"
    assert logo["Content-ID"] == "<logo>"
    assert logo.get_content() == b"\x89PNG\r\n"


def test_attachment_type_guess_and_required_data() -> None:
    assert Attachment("a.csv", data="x").content_type == "text/csv"
    assert Attachment(data=b"\x00").content_type == "application/octet-stream"
    assert Attachment(data="x").disposition == "attachment"
    with pytest.raises(ValueError, match="data"):
        Attachment("a.txt")


def test_non_ascii_attachment_filename(test_mail: Mail) -> None:
    msg = Message("s", recipients=["x@example.test"], body="b")
    msg.attach("résumé 2024.pdf", data=b"pdf")
    assert next(parsed(msg).iter_attachments()).get_filename() == "résumé 2024.pdf"


def test_ascii_attachments_setting(make_mail: MailFactory) -> None:
    mail = make_mail(TESTING=True, MAIL_ASCII_ATTACHMENTS=True)
    with mail.app.app_context():
        msg = Message("s", recipients=["x@example.test"], body="b")
        msg.attach("résumé  2024 €.pdf", data=b"pdf")
        assert next(parsed(msg).iter_attachments()).get_filename() == "resume 2024 .pdf"


def test_unicode_subject_body_and_charset(test_mail: Mail) -> None:
    msg = Message("Grüße ✓", recipients=["x@example.test"], body="Ünïcødé ✓\n")
    out = parsed(msg)
    assert out["Subject"] == "Grüße ✓"
    assert out.get_content() == "Ünïcødé ✓\n"
    assert out["Content-Transfer-Encoding"] == "8bit"  # as Flask-Mail; BODY=8BITMIME is declared
    latin = parsed(Message("s", recipients=["x@example.test"], body="café", charset="iso-8859-1"))
    assert latin.get_content_charset() == "iso-8859-1"
    assert latin.get_content().splitlines() == ["café"]


def test_reply_to_date_and_extra_headers(test_mail: Mail) -> None:
    msg = Message(
        "s",
        recipients=["x@example.test"],
        reply_to=("Help", "help@example.test"),
        date=0.0,
        extra_headers={"X-Campaign": "spring", "Message-ID": "<fixed@example.test>"},
    )
    out = parsed(msg)
    assert out["Reply-To"] == "Help <help@example.test>"
    assert out["Date"].datetime.timestamp() == 0
    assert out["X-Campaign"] == "spring"
    assert out.get_all("Message-ID") == ["<fixed@example.test>"]  # replaced, not doubled


def test_as_string_matches_as_bytes(test_mail: Mail) -> None:
    msg = Message("s", recipients=["x@example.test"], body="b", date=1.0)
    assert msg.as_string() == msg.as_bytes().decode()
    assert str(msg) == msg.as_string() and bytes(msg) == msg.as_bytes()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Subject\nBcc: victim@example.test"),
        ("subject", "Subject\r\nnot folded"),
        ("subject", "Subject\r\n"),
        ("sender", "evil@example.test\r\nBcc: victim@example.test"),
        ("reply_to", "r@example.test\nX: y"),
        ("recipients", ["to@example.test\nBcc: victim@example.test"]),
        ("cc", ["cc@example.test\r\n"]),
        ("bcc", [("Name\n", "b@example.test")]),
    ],
)
def test_bad_headers_are_detected_and_refused(test_mail: Mail, field: str, value: object) -> None:
    msg = Message("ok", recipients=["x@example.test"], body="b")
    setattr(msg, field, value)
    assert msg.has_bad_headers()
    with pytest.raises(BadHeaderError):
        test_mail.send(msg)
    assert test_mail.outbox == []


def test_folded_subject_is_not_a_bad_header(test_mail: Mail) -> None:
    msg = Message("Subject\r\n continued", recipients=["x@example.test"], body="b")
    assert not msg.has_bad_headers()
    assert parsed(msg)["Subject"] == "Subject continued"


def test_send_checks_recipients_and_sender(make_mail: MailFactory) -> None:
    mail = make_mail(TESTING=True, MAIL_DEFAULT_SENDER=None)
    with mail.app.app_context():
        with pytest.raises(AssertionError, match="No recipients"):
            mail.send(Message("s", body="b"))
        with pytest.raises(AssertionError, match="sender"):
            mail.send(Message("s", recipients=["x@example.test"], body="b"))
        assert mail.outbox == []


def test_date_is_stamped_when_sent(test_mail: Mail) -> None:
    msg = Message("s", recipients=["x@example.test"], body="b")
    assert msg.date is None
    test_mail.send(msg)
    assert isinstance(msg.date, float)


def test_import_leaves_the_email_package_charsets_alone() -> None:
    """Flask-Mail re-registers 'utf-8' process-wide on import; this package must not."""
    code = (
        "import email.charset as c; before = dict(c.CHARSETS);"
        "import flask_smtp_backend; assert c.CHARSETS == before, 'changed'"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "integrations"), str(root)])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
