"""A table of Flask-Mail ``Message``s, built the same way from either package's classes.

Used in this process for flask_smtp_backend and, in a subprocess, for Flask-Mail 0.10.0
itself (``flask_mail_reference.py``): Flask-Mail changes the ``email`` package's global
``utf-8`` charset when imported, so it must never be imported by the test process.
This module imports neither package.
"""

from __future__ import annotations

import copy
import random
from typing import Any

DATE = 1_700_000_000.0  # the same Date and Message-ID on both sides
MESSAGE_ID = "<20231114221320.1.2@example.test>"
FROM = "from@example.test"
TO = ["to@example.test"]

Case = tuple[dict[str, Any], list[dict[str, Any]], bool]


def _attached(
    filename: str, data: bytes, content_type: str | None = None, *, ascii_names: bool = False
) -> Case:
    """A plain message with one attachment (``ascii_names``: MAIL_ASCII_ATTACHMENTS)."""
    attachment = {"filename": filename, "data": data, "content_type": content_type}
    return {"subject": "Report", "body": "attached"}, [attachment], ascii_names


#: name -> (Message keyword arguments, attachments (Message.attach keywords), MAIL_ASCII_ATTACHMENTS)
CASES: dict[str, Case] = {
    "plain": ({"subject": "Hello", "body": "Hello Joe,\nHow are you?"}, [], False),
    "plain, trailing newline": ({"subject": "Hi", "body": "ends with a newline\n"}, [], False),
    "plain, CRLF body": ({"subject": "Hi", "body": "a\r\nb\r\n"}, [], False),
    "no subject, no body": ({}, [], False),
    "html": ({"subject": "Hi", "html": "<p>Hello</p>"}, [], False),
    "html + body": ({"subject": "Hi", "body": "Hello", "html": "<p>Hello</p>"}, [], False),
    "alts json": ({"subject": "Hi", "alts": {"json": '{"a": 1}'}}, [], False),
    "attachment ascii name": _attached("test doc.txt", b"this is a test", "text/plain"),
    "attachment non-ascii name": _attached("ünicöde ←→ ✓.txt", b"data", "text/plain"),
    "attachment short non-ascii name": _attached("é.pdf", b"%PDF-1.4"),
    "attachment name made ascii": _attached(
        "ünicödeß ←.→ ✓.txt", b"x", "text/plain", ascii_names=True
    ),
    "attachment str data": (
        {"subject": "Notes", "body": "b"},
        [{"filename": "notes.txt", "data": "line 1\nline 2"}],
        False,
    ),
    "attachment no name, html + body": (
        {"subject": "Bin", "body": "b", "html": "<b>b</b>"},
        [{"data": b"\x00\x01\xff binary", "content_type": "application/octet-stream"}],
        False,
    ),
    "attachment inline with headers": (
        {"subject": "Logo", "html": '<img src="cid:logo">'},
        [
            {
                "filename": "logo.png",
                "data": b"\x89PNG\r\n\x1a\n",
                "disposition": "inline",
                "headers": {"Content-ID": "<logo>"},
            }
        ],
        False,
    ),
    "attachment type with parameters": (
        {"subject": "CSV", "body": "b"},
        [{"filename": "a.csv", "content_type": "text/csv; charset=utf-8", "data": b"a,b"}],
        False,
    ),
    "unicode headers": (
        {
            "subject": "sübject ✓",
            "sender": "ÄÜÖ → ✓ <from@example.test>",
            "recipients": ["Ä <t1@example.test>", "Ü <t2@example.test>"],
            "cc": ["Ö <cc@example.test>"],
            "body": "ünicöde ←→ ✓\nline two",
        },
        [],
        False,
    ),
    "unicode body + html": (
        {"subject": "Hi", "body": "Grüße", "html": "<p>Grüße ✓</p>"},
        [],
        False,
    ),
    "ascii display names": (
        {
            "subject": "Hi",
            "sender": ("Tester", "from@example.test"),
            "recipients": ["Last, First <to@example.test>"],
            "body": "b",
        },
        [],
        False,
    ),
    "charset us-ascii": ({"subject": "Hi", "body": "ascii text", "charset": "us-ascii"}, [], False),
    "charset iso-8859-1": (
        {"subject": "sübject", "body": "café", "charset": "iso-8859-1"},
        [],
        False,
    ),
    "charset shift_jis": (
        {
            "subject": "表題",
            "sender": ("送信者", "from@example.test"),
            "reply_to": "返信先 <somebody@example.test>",
            "body": "内容",
            "charset": "shift_jis",
        },
        [],
        False,
    ),
    "multi-line subject": (
        {"subject": "testing\r\n testing\r\n testing \r\n \ttesting", "body": "b"},
        [],
        False,
    ),
    "long subject": ({"subject": "a long subject " * 8, "body": "b"}, [], False),
    "long unicode subject": ({"subject": "ünicöde subject " * 8, "body": "b"}, [], False),
    "extra headers": (
        {
            "subject": "Hi",
            "body": "b",
            "extra_headers": {
                "X-Extra-Header": "Yes",
                "List-Unsubscribe": "<mailto:unsubscribe@example.test>",
                "X-Long": "word " * 30,
            },
        },
        [],
        False,
    ),
    "reply_to": (
        {"subject": "Hi", "body": "b", "reply_to": "Rëply Désk <reply@example.test>"},
        [],
        False,
    ),
    "cc and bcc": (
        {
            "subject": "Hi",
            "body": "b",
            "recipients": ["to@example.test", "Two <two@example.test>"],
            "cc": ["Cé <cc@example.test>", "cc2@example.test"],
            "bcc": ["hidden@example.test"],
        },
        [],
        False,
    ),
    "bcc only": (
        {"subject": "Hi", "body": "b", "recipients": [], "bcc": ["hidden@example.test"]},
        [],
        False,
    ),
    "internationalised domains": (
        {
            "subject": "Hi",
            "body": "b",
            "sender": "from@exämple.test",
            "recipients": ["to@bücher.test"],
        },
        [],
        False,
    ),
}

#: Messages where Flask-Mail's output is unsafe or breaks, which flask_smtp_backend refuses
#: or writes otherwise (see the Flask README's list of differences).
DIFFERENT: dict[str, Case] = {
    "subject with a vertical tab": (
        {"subject": "Invoice\x0bBcc: leak@evil.test", "body": "b"},
        [],
        False,
    ),
    "extra header with a line break": (
        {"subject": "Hi", "body": "b", "extra_headers": {"X-Note": "1\r\nBcc: leak@evil.test"}},
        [],
        False,
    ),
    "attachment header with a line break": (
        {"subject": "Hi", "body": "b"},
        [{"filename": "a.txt", "data": b"x", "headers": {"X-Id": "1\nBcc: leak@evil.test"}}],
        False,
    ),
    "body line over 998 octets": ({"subject": "Hi", "body": "x" * 1200 + "\nend"}, [], False),
    "non-ascii str attachment": (
        {"subject": "Hi", "body": "b"},
        [{"filename": "a.csv", "data": "é,✓\n"}],
        False,
    ),
    "non-ascii extra header": (
        {"subject": "Hi", "body": "b", "extra_headers": {"X-Name": "Jörg"}},
        [],
        False,
    ),
    "extra header given twice": (
        {"subject": "Hi", "body": "b", "extra_headers": {"Message-ID": "<mine@example.test>"}},
        [],
        False,
    ),
}

_WORDS = ["hello", "Grüße", "ünïcode", "表題", "✓", "naïve", "a", "subject", "Ωμέγα", "x" * 40]
_DOMAINS = ["example.test", "bücher.test", "mail.example.test"]


def _generated(
    count: int, seed: int
) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]], bool]]:
    """``count`` seeded random messages of every shape (the same on both sides)."""
    rng = random.Random(seed)

    def text(most: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, most)))

    def address(tag: str) -> Any:
        email = f"{tag}{rng.randrange(100)}@{rng.choice(_DOMAINS)}"
        name = text(3)
        form = rng.randrange(3)
        if not name or form == 0:
            return email
        return f"{name} <{email}>" if form == 1 else (name, email)

    cases = {}
    for number in range(count):
        kwargs: dict[str, Any] = {
            "subject": text(12),
            "sender": address("from"),
            "recipients": [address("to") for _ in range(rng.randint(1, 3))],
            "cc": [address("cc") for _ in range(rng.randint(0, 2))],
            "bcc": [address("bcc") for _ in range(rng.randint(0, 1))],
            "charset": rng.choice([None, "utf-8", "iso-8859-1", "shift_jis"]),
        }
        if rng.random() < 0.8:
            kwargs["body"] = "\n".join(text(12) for _ in range(rng.randint(0, 5)))
        if rng.random() < 0.4:
            kwargs["html"] = f"<p>{text(8)}</p>"
        if rng.random() < 0.3:
            kwargs["reply_to"] = address("reply")
        if rng.random() < 0.3:
            kwargs["extra_headers"] = {"X-Tag": "word " * rng.randint(1, 20)}
        attachments = [
            {
                "filename": rng.choice([None, f"{text(2)}.pdf", f"{text(1)}.txt"]),
                "data": bytes(rng.randrange(256) for _ in range(rng.randint(0, 100))),
                "disposition": rng.choice([None, "inline"]),
            }
            for _ in range(rng.randint(0, 2))
        ]
        cases[f"generated {number}"] = (kwargs, attachments, rng.random() < 0.2)
    return cases


#: Seeded random messages, compared as the table above is.
GENERATED = _generated(120, seed=18)

#: Inputs of the module-level helpers, compared with Flask-Mail's results.
ADDRESSES: list[Any] = [
    "plain@example.test",
    "Name <name@example.test>",
    ("Tuple Name", "tuple@example.test"),
    "Last, First <last@example.test>",
    "ÄÜÖ → ✓ <from@example.test>",
    ("送信者", "jp@example.test"),
    "idn@bücher.test",
    "from@example.com\r\n",
    "a very long display name that goes on and on and on for many words <long@example.test>",
]
SUBJECTS: list[str] = ["ascii subject", "sübject", "表題", "ünicöde subject " * 8]
ENCODINGS: list[str] = ["utf-8", "shift_jis", "iso-8859-1"]


def build(message_class: Any, name: str) -> Any:
    """The message ``name`` of ``CASES`` or ``DIFFERENT``, with the fixed Date and Message-ID."""
    kwargs, attachments, _ = _case(name)
    kwargs = {"sender": FROM, "recipients": TO, **copy.deepcopy(kwargs)}
    message = message_class(**kwargs)
    for attachment in attachments:
        message.attach(**copy.deepcopy(attachment))
    message.date = DATE
    message.msgId = MESSAGE_ID
    return message


def ascii_attachments(name: str) -> bool:
    return _case(name)[2]


def _case(name: str) -> Case:
    return CASES.get(name) or GENERATED.get(name) or DIFFERENT[name]
