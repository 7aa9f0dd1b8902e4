"""Headers and text parts set verbatim when the value is already valid on the wire.

``EmailMessage`` parses every header it is given into a structured object and
re-folds it on output: correct, and most of the cost of building a message. A
value that is ASCII, free of CR/LF and short enough to need no folding comes out
of that round trip unchanged, so it is stored as is (``set_raw``); any other value
takes the full path (RFC 2047 encoding, folding, and ``ValueError`` on a line break).
Reading a header back (``msg["To"]``) still gives the structured object.
"""

from __future__ import annotations

import email.charset
import re
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import MIMEPart
from email.utils import formataddr
from functools import cache
from typing import Any

MAX_LINE = 78  # RFC 5322's recommended line length, the policy's max_line_length
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+\Z")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _wire_ready(name: str, value: str) -> bool:
    return (
        value.isascii()
        and "\r" not in value
        and "\n" not in value
        and len(name) + 2 + len(value) <= MAX_LINE
    )


def set_header(message: MIMEPart, name: str, value: str) -> None:
    """Set ``name`` (replacing any value it had) to an unstructured or pre-formatted value."""
    del message[name]
    if _wire_ready(name, value):
        message.set_raw(name, value)
    else:
        message[name] = value


def set_address_header(message: MIMEPart, name: str, addresses: Sequence[Address]) -> None:
    """Set an address-list header (From, To, Cc, Reply-To)."""
    del message[name]
    if all(a.display_name.isascii() and a.addr_spec.isascii() for a in addresses):
        value = ", ".join(formataddr((a.display_name, a.addr_spec)) for a in addresses)
        if _wire_ready(name, value):
            message.set_raw(name, value)
            return
    message[name] = addresses


def set_text(part: MIMEPart, text: str, subtype: str, charset: str) -> None:
    """``part.set_content(text, subtype, charset=charset)``, without the header round trip
    when the text is ASCII in lines short enough for 7bit (what set_content would choose)."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    simple = (
        text.isascii()
        and all(len(line) <= MAX_LINE for line in lines)
        and _TOKEN.match(subtype) is not None
        and _ascii_compatible(charset)
    )
    if not simple:
        part.set_content(text, subtype=subtype, charset=charset)
        return
    charset = email.charset.ALIASES.get(charset, charset)  # as set_content names it
    part.set_raw("Content-Type", f'text/{subtype}; charset="{charset}"')
    part.set_raw("Content-Transfer-Encoding", "7bit")
    part.set_payload("\n".join(lines) + "\n")


def add_mime_version(message: Any) -> None:
    if "MIME-Version" not in message:
        message.set_raw("MIME-Version", "1.0")


@cache
def _ascii_compatible(charset: str) -> bool:
    """A known charset (a token) in which ASCII text is the same bytes as in ASCII."""
    if _TOKEN.match(charset) is None:
        return False
    try:
        return _ASCII_SAMPLE.encode(charset) == _ASCII_SAMPLE.encode("ascii")
    except (LookupError, UnicodeError):
        return False


_ASCII_SAMPLE = "".join(map(chr, range(32, 127))) + "\t\n"
