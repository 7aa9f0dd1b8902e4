"""Message content -> the octets of the data phase (RFC 5321 §4.5.2, RFC 3030).

Every bare CR and bare LF becomes CRLF, for ``bytes`` as well as ``str``: a lone
CR or LF next to a dot is how SMTP smuggling ends a message early on a server
that reads line endings loosely. smtplib leaves ``bytes`` alone; we do not.
"""

from __future__ import annotations

import re

CRLF = b"\r\n"
DATA_TERMINATOR = b".\r\n"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def normalize_line_endings(data: bytes) -> bytes:
    """Every CR, LF and CRLF becomes CRLF; already-canonical data is returned as is."""
    crlf = data.count(CRLF)
    if data.count(b"\r") == crlf and data.count(b"\n") == crlf:
        return data
    if b"\r" not in data:
        return data.replace(b"\n", CRLF)
    return _LINE_BREAK.sub(CRLF, data)


def ensure_final_crlf(data: bytes) -> bytes:
    return data if data.endswith(CRLF) else data + CRLF


def dot_stuff(data: bytes) -> bytes:
    """Double every dot that starts a line (data must already be CRLF-canonical)."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def encode_data(data: bytes) -> bytes:
    """The complete DATA payload: canonical line endings, dot-stuffed, terminated."""
    return dot_stuff(ensure_final_crlf(normalize_line_endings(data))) + DATA_TERMINATOR
