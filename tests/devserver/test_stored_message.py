"""StoredMessage's parsed helpers on untrusted bytes: they show what they can, never raise."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from smtp_backend.devserver import StoredMessage


def stored(data: bytes) -> StoredMessage:
    return StoredMessage(
        "m1", "a@example.test", ("b@example.test",), data, datetime.now(timezone.utc)
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"Subject: =?bogus-charset?q?x?=\r\nContent-Type: text/plain; charset=no-such\r\n\r\n\xe9t\xe9\r\n",
        b'To: <<<@@@>>>, "unterminated\r\nFrom: ,,,\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n',
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; "
        b"filename*=bogus''%ZZ\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n--b--\r\n",
    ],
)
def test_malformed_messages_never_raise(data: bytes) -> None:
    message = stored(data)
    for helper in ("subject", "from_", "to", "text", "html", "attachments", "headers"):
        getattr(message, helper)
    assert message.size == len(data)


def test_unknown_charset_shows_the_text_anyway() -> None:
    message = stored(b"Content-Type: text/plain; charset=no-such\r\n\r\nplain words\r\n")
    assert message.text == "plain words\n"


def test_encoded_words_and_latin1_body_are_decoded() -> None:
    message = stored(
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=latin-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nsch\xf6n\r\n"
    )
    assert message.subject == "Grüße"
    assert message.text == "schön\n"


def test_repeated_headers_are_all_listed_in_order() -> None:
    message = stored(b"Received: one\r\nReceived: two\r\nSubject: s\r\n\r\n")
    assert message.headers == [("Received", "one"), ("Received", "two"), ("Subject", "s")]


def test_an_html_only_message_has_no_text() -> None:
    message = stored(b"Content-Type: text/html\r\n\r\n<p>hi</p>\r\n")
    assert message.text is None
    assert message.html == "<p>hi</p>\n"
    assert message.attachments == []
