"""The caught messages: ``StoredMessage`` and the inbox that keeps them (in memory, and
in a folder on disk when given one: see ``folders``), telling listeners of each change."""

from __future__ import annotations

import email.policy
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .folders import Folder

Attachment = tuple[str, str, bytes]  # (filename, content type, content)

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def new_message_id(received_at: datetime) -> str:
    """Sortable by arrival, unique, and safe in a file name and a URL."""
    return f"{received_at:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


def is_message_id(text: str) -> bool:
    return _SAFE_ID.match(text) is not None


@dataclass(frozen=True)
class StoredMessage:
    """One caught message; the parsed helpers never raise, whatever the bytes."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes = field(repr=False)
    received_at: datetime
    peer: str = ""
    tls: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    @cached_property
    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=email.policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message

    @property
    def subject(self) -> str:
        return self._header("Subject")

    @property
    def from_(self) -> str:
        return self._header("From")

    @property
    def to(self) -> str:
        return self._header("To")

    @property
    def cc(self) -> str:
        return self._header("Cc")

    @cached_property
    def headers(self) -> list[tuple[str, str]]:
        return [(name, self._header_value(name, index)) for index, name in self._header_names()]

    @cached_property
    def text(self) -> str | None:
        return _body_text(self.parsed, "plain")

    @cached_property
    def html(self) -> str | None:
        return _body_text(self.parsed, "html")

    @cached_property
    def attachments(self) -> list[Attachment]:
        """Every leaf part except the text and HTML bodies shown above."""
        bodies = {id(part) for part in _body_parts(self.parsed)}
        found: list[Attachment] = []
        for number, part in enumerate(self.parsed.walk()):
            if part.is_multipart() or id(part) in bodies:
                continue
            name = _filename(part) or f"part-{number}"
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            found.append((name, part.get_content_type(), content))
        return found

    def _header_names(self) -> Iterator[tuple[int, str]]:
        seen: dict[str, int] = {}
        for name in self.parsed:
            index = seen.get(name.lower(), 0)
            seen[name.lower()] = index + 1
            yield index, name

    def _header(self, name: str) -> str:
        return self._header_value(name, 0) if name in self.parsed else ""

    def _header_value(self, name: str, index: int) -> str:
        try:
            return str(self.parsed.get_all(name, [])[index])
        except Exception:
            # a header the modern parser chokes on: show it as the raw text it was sent as
            raw = BytesParser(policy=email.policy.compat32).parsebytes(self.data, headersonly=True)
            return str(raw.get_all(name, [""])[index])


def _body_parts(message: EmailMessage) -> list[Message]:
    parts: list[Message] = []
    for subtype in ("plain", "html"):
        part = message.get_body(preferencelist=(subtype,))
        if part is not None and part.get_content_subtype() == subtype:
            parts.append(part)
    return parts


def _body_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name: show what can be shown
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")  # wire line endings -> Python's


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # a malformed parameter in an untrusted header
        return None


Listener = Callable[[str, StoredMessage], object]  # ("created" | "deleted", message)


class MessageStore:
    """Thread-safe: the SMTP loop adds, the web threads read and delete."""

    def __init__(self, folder: Folder | None = None) -> None:
        self.folder = folder
        self._messages: dict[str, StoredMessage] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call ``listener(event, message)`` after each message is added or deleted."""
        self._listeners.append(listener)

    def load(self) -> int:
        """Read the folder's messages (creating it if absent); returns how many."""
        if self.folder is None:
            return 0
        loaded = self.folder.load()
        with self._lock:
            self._messages.update((message.id, message) for message in loaded)
            return len(self._messages)

    def add(self, message: StoredMessage) -> None:
        if self.folder is not None:
            self.folder.write(message)
        with self._lock:
            self._messages[message.id] = message
        self._tell("created", message)

    def all(self) -> list[StoredMessage]:
        """Oldest first."""
        with self._lock:
            messages = list(self._messages.values())
        return sorted(messages, key=lambda message: (message.received_at, message.id))

    def get(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(message_id)

    def delete(self, message_id: str) -> bool:
        with self._lock:
            message = self._messages.pop(message_id, None)
        if message is None:
            return False
        if self.folder is not None:
            self.folder.delete(message_id)
        self._tell("deleted", message)
        return True

    def clear(self) -> None:
        for message in self.all():
            self.delete(message.id)

    def _tell(self, event: str, message: StoredMessage) -> None:
        for listener in list(self._listeners):
            listener(event, message)
