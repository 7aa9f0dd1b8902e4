"""The one rule for a header value written from caller text: it never starts a new line.

No line-break character of any kind may appear: a generator re-folding the value splits
on everything ``str.splitlines()`` splits on (``\\v``, ``\\f``, ``\\x1c``-``\\x1e``,
``\\x85``, ``\\u2028``, ``\\u2029`` as well as CR and LF), so each would become a real
header line on the wire. Nor may NUL or another C0 control except TAB. The one exception,
where a caller allows it, is a fold: CRLF followed by a space or tab, which continues
the same header (Flask-Mail accepts one in a subject).
"""

from __future__ import annotations

import re
from email.message import Message

from ..errors import SMTPInvalidInputError

_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x85\u2028\u2029]")
_FOLD = re.compile(r"\r\n(?=[ \t])")
_STORED_FOLD = re.compile(r"(?<!\r)\n(?=[ \t])")  # email.header.Header folds with LF alone
_NAME = re.compile(r"[!-9;-~]+\Z")  # RFC 5322 ftext: printable ASCII but ":"

__all__ = ["check_header_value", "check_message_headers", "header_value_problem"]


def header_value_problem(value: str, *, folds: bool = False) -> str | None:
    """Why ``value`` may not be written as a header value, or ``None`` when it may.

    With ``folds``, a CRLF followed by a space or tab is allowed.
    """
    match = _FORBIDDEN.search(value)
    if match is not None and folds:  # the usual value has nothing to unfold: no copy made
        match = _FORBIDDEN.search(_FOLD.sub("", value))
    if match is None:
        return None
    shown = value if len(value) <= 80 else value[:77] + "..."
    return f"it holds {match[0]!r}, which could start a new header line: {shown!r}"


def check_header_value(name: str, value: str, *, folds: bool = False) -> None:
    """Raise :class:`SMTPInvalidInputError` (a ``ValueError``) unless ``name`` is a field
    name and ``value`` is safe."""
    if _NAME.match(name) is None:
        raise SMTPInvalidInputError(f"{name!r} is not a valid header name (RFC 5322 §3.6.8)")
    problem = header_value_problem(value, folds=folds)
    if problem is not None:
        raise SMTPInvalidInputError(f"header {name!r} is refused: {problem}")


def check_message_headers(message: Message) -> None:
    """:func:`check_header_value` on every header of every part, as stored: folds allowed,
    with CRLF or with the LF alone that ``email.header.Header`` writes."""
    for part in message.walk():
        for name, value in part.raw_items():
            text = value if isinstance(value, str) else str(value)  # a Header: str() decodes
            # One search per header on the hot path; check_header_value says why, if need be.
            if _NAME.match(name) is None or _FORBIDDEN.search(text) is not None:
                check_header_value(name, _STORED_FOLD.sub("\r\n", text), folds=True)
