"""Byte for byte, the messages Flask-Mail 0.10.0 makes, apart from the unsafe ones.

Flask-Mail's output comes from a subprocess (``flask_mail_reference.py``: importing
flask_mail changes the ``email`` package for the whole process, and there its To/Cc
order, a set's, is the given one); Date and Message-ID are fixed to the same values on
both sides and the random MIME boundaries are numbered.
Skipped when Flask-Mail 0.10.0 is not installed (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from flask_smtp_backend import (
    BadHeaderError,
    Mail,
    Message,
    sanitize_address,
    sanitize_subject,
)
from tests.flask import mail_cases
from tests.flask.conftest import MailFactory
from tests.servers import RecordingSMTPServer

REFERENCE = Path(__file__).with_name("flask_mail_reference.py")
_BOUNDARY = re.compile(rb"={15}\d+==")


def run_reference(*arguments: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "integrations"), str(root)]),
    }
    result = subprocess.run(
        [sys.executable, str(REFERENCE), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    if result.returncode == 3:
        pytest.skip("Flask-Mail 0.10.0 is not installed (it is in the test extra)")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return run_reference()


def flask_mail_bytes(reference: dict[str, Any], name: str) -> bytes:
    outcome = reference["messages"][name]
    assert "bytes" in outcome, f"Flask-Mail raised {outcome.get('error')}"
    return base64.b64decode(outcome["bytes"])


def normalised(data: bytes) -> bytes:
    """The random MIME boundaries numbered in order of appearance."""
    boundaries: dict[bytes, bytes] = {}
    return _BOUNDARY.sub(
        lambda m: boundaries.setdefault(m.group(), b"BOUNDARY-%d" % len(boundaries)), data
    )


def parsed(data: bytes) -> EmailMessage:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def in_app(make_mail: MailFactory) -> Iterator[Mail]:
    mail = make_mail(TESTING=True)
    with mail.app.app_context():
        yield mail


def ours(mail: Mail, name: str) -> Message:
    mail.state.ascii_attachments = mail_cases.ascii_attachments(name)
    return mail_cases.build(Message, name)


@pytest.mark.parametrize("name", list(mail_cases.CASES))
def test_the_bytes_are_flask_mails(reference: dict[str, Any], in_app: Mail, name: str) -> None:
    expected = flask_mail_bytes(reference, name)
    message = ours(in_app, name)
    assert normalised(message.as_bytes()) == normalised(expected)
    as_string = base64.b64decode(reference["messages"][name]["string"])  # headers unfolded
    assert normalised(message.as_string().encode()) == normalised(as_string)


@pytest.mark.parametrize("name", list(mail_cases.GENERATED))
def test_generated_messages_are_flask_mails(
    reference: dict[str, Any], in_app: Mail, name: str
) -> None:
    """Where Flask-Mail raises (a body its charset cannot hold), so do we."""
    expected = reference["messages"][name]
    message = ours(in_app, name)
    if "error" in expected:
        with pytest.raises(Exception) as raised:
            message.as_bytes()
        assert type(raised.value).__name__ == expected["error"]
    else:
        assert normalised(message.as_bytes()) == normalised(base64.b64decode(expected["bytes"]))
        as_string = base64.b64decode(expected["string"])
        assert normalised(message.as_string().encode()) == normalised(as_string)


def test_the_bytes_sent_are_the_bytes_built(
    reference: dict[str, Any], make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)
    with mail.app.app_context():
        mail.send(mail_cases.build(Message, "unicode headers"))
    [received] = smtp_server.messages
    expected = flask_mail_bytes(reference, "unicode headers")
    assert normalised(received.content) == normalised(expected + b"\r\n")  # DATA ends in CRLF
    assert "BODY=8BITMIME" in received.mail_options  # the 8bit body is declared


@pytest.mark.parametrize("encoding", mail_cases.ENCODINGS)
def test_sanitize_helpers_give_flask_mails_results(
    reference: dict[str, Any], encoding: str
) -> None:
    expected = reference["sanitized"][encoding]
    assert [
        {"bytes": base64.b64encode(sanitize_address(a, encoding).encode()).decode()}
        for a in mail_cases.ADDRESSES
    ] == expected["addresses"]
    assert [
        {"bytes": base64.b64encode(sanitize_subject(s, encoding).encode()).decode()}
        for s in mail_cases.SUBJECTS
    ] == expected["subjects"]


def test_importing_flask_mail_first_changes_nothing(reference: dict[str, Any]) -> None:
    """Flask-Mail re-registers the ``utf-8`` charset on import (the benchmark imports both):
    our bytes do not depend on it."""
    after_flask_mail = run_reference("--ours")
    for name in [*mail_cases.CASES, *mail_cases.GENERATED]:
        expected, ours = reference["messages"][name], after_flask_mail["messages"][name]
        if "bytes" in expected:
            assert normalised(base64.b64decode(ours["bytes"])) == normalised(
                base64.b64decode(expected["bytes"])
            ), name
    assert after_flask_mail["sanitized"] == reference["sanitized"]


# -- where Flask-Mail's output is unsafe or breaks -------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "subject with a vertical tab",
        "extra header with a line break",
        "attachment header with a line break",
    ],
)
def test_header_injection_flask_mail_writes_is_refused(
    reference: dict[str, Any],
    make_mail: MailFactory,
    smtp_server: RecordingSMTPServer,
    name: str,
) -> None:
    outcome = reference["messages"][name]
    if "bytes" in outcome:  # a line a reader splitting lines as Python does sees as a header
        lines = base64.b64decode(outcome["bytes"]).decode().splitlines()
        assert "Bcc: leak@evil.test" in lines
    else:  # the stdlib of 3.13 (and 3.12.5+) refuses to write a CR or LF it finds
        assert outcome == {"error": "HeaderWriteError"}
    mail = make_mail(smtp_server)
    with mail.app.app_context():
        message = mail_cases.build(Message, name)
        with pytest.raises(BadHeaderError):
            message.as_bytes()
        with pytest.raises(BadHeaderError):
            mail.send(message)
    assert smtp_server.messages == []


def test_a_line_over_998_octets_goes_quoted_printable(
    reference: dict[str, Any], in_app: Mail
) -> None:
    name = "body line over 998 octets"
    assert any(len(line) > 998 for line in flask_mail_bytes(reference, name).split(b"\r\n"))
    data = ours(in_app, name).as_bytes()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    out = parsed(data)
    assert out["Content-Transfer-Encoding"] == "quoted-printable"
    assert out.get_content().replace("\r\n", "\n") == "x" * 1200 + "\nend"


def test_a_non_ascii_str_attachment_is_sent_as_utf8(
    reference: dict[str, Any], in_app: Mail
) -> None:
    name = "non-ascii str attachment"
    theirs = next(parsed(flask_mail_bytes(reference, name)).iter_attachments())
    assert theirs.get_payload(decode=True) == b"\xe9,\\u2713\n"  # Latin-1 and an escape
    attachment = next(parsed(ours(in_app, name).as_bytes()).iter_attachments())
    assert attachment.get_payload(decode=True) == "é,✓\n".encode()
    assert attachment.get_content_charset() == "utf-8"


def test_a_non_ascii_extra_header_is_encoded(reference: dict[str, Any], in_app: Mail) -> None:
    name = "non-ascii extra header"
    data = ours(in_app, name).as_bytes()
    outcome = reference["messages"][name]  # Python 3.13's stdlib encodes it as we do
    assert outcome.get("error") == "UnicodeEncodeError" or flask_mail_bytes(reference, name) == data
    assert b"X-Name: =?utf-8?q?J=C3=B6rg?=\r\n" in data
    assert parsed(data)["X-Name"] == "Jörg"


def test_an_extra_header_replaces_the_one_set(reference: dict[str, Any], in_app: Mail) -> None:
    name = "extra header given twice"
    assert parsed(flask_mail_bytes(reference, name)).get_all("Message-ID") == [
        mail_cases.MESSAGE_ID,
        "<mine@example.test>",
    ]
    assert parsed(ours(in_app, name).as_bytes()).get_all("Message-ID") == ["<mine@example.test>"]
