"""The verbatim fast path gives the same bytes as EmailMessage's own full path."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage

import pytest

from flask_smtp_backend.message import _POLICY
from flask_smtp_backend.wire_headers import set_address_header, set_header, set_text


def full_path_text(text: str, subtype: str, charset: str) -> bytes:
    message = EmailMessage(policy=_POLICY)
    message.set_content(text, subtype=subtype, charset=charset)
    return message.as_bytes()


def fast_path_text(text: str, subtype: str, charset: str) -> bytes:
    message = EmailMessage(policy=_POLICY)
    message["MIME-Version"] = "1.0"
    set_text(message, text, subtype, charset)
    return message.as_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one line",
        "two\nlines\n",
        "crlf\r\nlines\r\n\r\n",
        "bare\rcr",
        ".leading dot\n",
        "x" * 78 + "\n",
        "x" * 79 + "\n",  # too long for 7bit: full path
        "caf\u00e9\n",  # non-ASCII: full path
        "form\x0cfeed and \x0bvertical tab\n",
    ],
)
@pytest.mark.parametrize(("subtype", "charset"), [("plain", "utf-8"), ("html", "latin-1")])
def test_text_parts_match_set_content(text: str, subtype: str, charset: str) -> None:
    expected = full_path_text(text, subtype, charset)
    actual = fast_path_text(text, subtype, charset)
    assert sorted(actual.split(b"\r\n")) == sorted(expected.split(b"\r\n"))


@pytest.mark.parametrize(
    "value",
    [
        "Plain subject",
        "Gr\u00fc\u00dfe",  # non-ASCII: encoded by the full path
        "word " * 30,  # long: folded by the full path
    ],
)
def test_unstructured_headers_match_the_registry(value: str) -> None:
    fast, full = EmailMessage(policy=_POLICY), EmailMessage(policy=_POLICY)
    set_header(fast, "Subject", value)
    full["Subject"] = value
    assert fast.as_bytes() == full.as_bytes()
    assert fast["Subject"] == full["Subject"]


def test_encoded_word_text_reads_back_the_same() -> None:
    """Kept verbatim (as Flask-Mail sends it); every reader decodes it as the registry does."""
    fast, full = EmailMessage(policy=_POLICY), EmailMessage(policy=_POLICY)
    set_header(fast, "Subject", "=?utf-8?q?caf=C3=A9?=")
    full["Subject"] = "=?utf-8?q?caf=C3=A9?="
    assert fast["Subject"] == full["Subject"] == "caf\u00e9"


@pytest.mark.parametrize(
    "addresses",
    [
        [Address("", "a@example.test")],
        [Address("Ann Lee", "ann@example.test"), Address("Lee, Ann", "lee@example.test")],
        [Address('Quote "q" \\ back', "q@example.test")],
        [Address("J\u00f6rg", "j@example.test")],
        [Address(f"Person {n}", f"p{n}@example.test") for n in range(6)],
    ],
)
def test_address_headers_read_back_the_same(addresses: list[Address]) -> None:
    fast, full = EmailMessage(policy=_POLICY), EmailMessage(policy=_POLICY)
    set_address_header(fast, "To", addresses)
    full["To"] = addresses
    assert fast["To"].addresses == full["To"].addresses
    assert all(len(line) <= 78 for line in fast.as_bytes().split(b"\r\n"))


def test_line_breaks_are_refused_not_written() -> None:
    message = EmailMessage(policy=_POLICY)
    with pytest.raises(ValueError):
        set_header(message, "X-Injected", "a\r\nBcc: victim@example.test")
