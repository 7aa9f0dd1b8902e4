"""Bytes from the server -> complete SMTP replies (RFC 5321 §4.2), incrementally."""

from __future__ import annotations

import re
from collections import deque

from ..errors import SMTPProtocolError
from ..results import Reply
from ..status import EnhancedCode

MAX_LINE_LENGTH = 8192  # smtplib's _MAXLINE: eight times RFC 5321's 512
MAX_REPLY_LINES = 1000  # an endless multi-line reply must not grow without bound
MAX_REPLY_SIZE = 256 * 1024

_ENHANCED = re.compile(rb"([245])\.(\d{1,3})\.(\d{1,3})(?=[ \t]|$)")


def parse_enhanced_code(code: int, text: bytes) -> EnhancedCode | None:
    """The RFC 3463 status code at the start of ``text``, if its class matches ``code``."""
    match = _ENHANCED.match(text)
    if match is None or int(match[1]) != code // 100:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


class LineTooLong(SMTPProtocolError):
    """A reply line exceeded MAX_LINE_LENGTH (smtplib: ``SMTPResponseException(500, ...)``)."""

    def __init__(self) -> None:
        super().__init__(500, "Line too long.")


class ReplyTooLong(SMTPProtocolError):
    def __init__(self) -> None:
        super().__init__(500, "Reply too long.")


class ReplyParser:
    """Feed it bytes as they arrive; take complete replies out in order.

    Lines end in LF (a preceding CR is optional, as smtplib accepts). A line whose
    first three octets are not digits ends the reply with code -1, exactly as
    smtplib's ``getreply()`` reports it; callers treat that connection as broken.
    """

    __slots__ = ("_buffer", "_lines", "_replies", "_size", "raw_lines")

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[bytes] = []
        self._size = 0
        self._replies: deque[Reply] = deque()
        self.raw_lines: list[bytes] | None = None  # set to a list to record lines (debug output)

    def feed(self, data: bytes) -> None:
        """Add received bytes; raise ``SMTPProtocolError`` if a cap is exceeded."""
        buffer = self._buffer + data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if end + 1 - start > MAX_LINE_LENGTH:
                raise LineTooLong()
            self._take_line(buffer[start : end + 1])
            start = end + 1
        rest = buffer[start:]
        if len(rest) > MAX_LINE_LENGTH:
            raise LineTooLong()
        self._buffer = rest

    def _take_line(self, line: bytes) -> None:
        if self.raw_lines is not None:
            self.raw_lines.append(line)
        self._size += len(line)
        if len(self._lines) >= MAX_REPLY_LINES or self._size > MAX_REPLY_SIZE:
            raise ReplyTooLong()
        self._lines.append(line[4:].strip(b" \t\r\n"))
        digits = line[:3]
        if not (len(digits) == 3 and digits.isdigit()):
            self._finish(-1)
        elif line[3:4] != b"-":
            self._finish(int(digits))

    def _finish(self, code: int) -> None:
        lines = self._lines
        # code -1 (garbage) matches no class, so it never gets an enhanced code
        self._replies.append(Reply(code, b"\n".join(lines), parse_enhanced_code(code, lines[0])))
        self._lines = []
        self._size = 0

    def next_reply(self) -> Reply | None:
        """The oldest complete reply not yet taken, or None."""
        return self._replies.popleft() if self._replies else None

    @property
    def pending(self) -> int:
        """How many complete replies are waiting to be taken."""
        return len(self._replies)

    @property
    def has_partial(self) -> bool:
        """True while part of a reply has arrived but not its end."""
        return bool(self._buffer or self._lines)

    def take_unparsed(self) -> bytes:
        """Discard and return bytes not yet part of a complete reply (after STARTTLS)."""
        rest, self._buffer = self._buffer, b""
        self._lines = []
        self._size = 0
        self._replies.clear()
        return rest
