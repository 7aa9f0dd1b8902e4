"""Where caught messages are kept on disk, so a restarted server shows the same inbox.

``MaildirFolder`` writes a real Maildir (``tmp/``, ``new/``, ``cur/``; one file per
message, LF line ends, the envelope as ``Return-Path`` and ``X-Original-To`` headers on
top, as an MTA delivers) that mail clients and :class:`mailbox.Maildir` read.
``EmlFolder`` keeps ``<id>.eml`` (the exact bytes received) beside ``<id>.json`` (the
envelope); an ``.eml`` dropped in by hand is shown too, its envelope from its headers.
"""

from __future__ import annotations

import email.policy
import json
import os
import re
import socket
from datetime import datetime, timezone
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

from .store import StoredMessage, is_message_id


class Folder(Protocol):
    """What the store needs of a place on disk."""

    def load(self) -> list[StoredMessage]: ...

    def write(self, message: StoredMessage) -> None: ...

    def delete(self, message_id: str) -> None: ...


def _write_atomically(path: Path, content: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


class EmlFolder:
    """``<id>.eml`` + ``<id>.json`` per message in one directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[StoredMessage]:
        self.path.mkdir(parents=True, exist_ok=True)
        found = (self._read(path) for path in sorted(self.path.glob("*.eml")))
        return [message for message in found if message is not None]

    def write(self, message: StoredMessage) -> None:
        envelope = {
            "sender": message.sender,
            "recipients": list(message.recipients),
            "received_at": message.received_at.isoformat(),
            "peer": message.peer,
            "tls": message.tls,
        }
        # the envelope first: a reader that finds the .eml finds its envelope too
        _write_atomically(self.path / f"{message.id}.json", json.dumps(envelope).encode())
        _write_atomically(self.path / f"{message.id}.eml", message.data)

    def delete(self, message_id: str) -> None:
        for suffix in (".eml", ".json"):
            (self.path / f"{message_id}{suffix}").unlink(missing_ok=True)

    def _read(self, path: Path) -> StoredMessage | None:
        if not is_message_id(path.stem):
            return None
        data = path.read_bytes()
        try:
            envelope = json.loads(path.with_suffix(".json").read_bytes())
            return StoredMessage(
                id=path.stem,
                sender=str(envelope["sender"]),
                recipients=tuple(map(str, envelope["recipients"])),
                data=data,
                received_at=datetime.fromisoformat(envelope["received_at"]),
                peer=str(envelope.get("peer", "")),
                tls=bool(envelope.get("tls", False)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return _from_headers(path.stem, data, _modified(path))


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _from_headers(message_id: str, data: bytes, received_at: datetime) -> StoredMessage:
    """A message without its envelope: sender and recipients as a mail client would see them."""
    headers = BytesParser(policy=email.policy.compat32).parsebytes(data, headersonly=True)
    senders = getaddresses(headers.get_all("From", []))
    recipients = getaddresses([*headers.get_all("To", []), *headers.get_all("Cc", [])])
    return StoredMessage(
        id=message_id,
        sender=senders[0][1] if senders else "",
        recipients=tuple(address for _name, address in recipients if address),
        data=data,
        received_at=received_at,
    )


# <seconds>.<message id>.<host>[:2,<flags>]: the Maildir name, carrying the server's id
_MAILDIR_NAME = re.compile(r"\d+\.(?P<id>[^.:/]+)\.")
_ENVELOPE_HEADERS = (b"return-path", b"x-original-to")


class MaildirFolder:
    """A Maildir: delivered into ``tmp/`` then renamed into ``new/``; read from new/ and cur/."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "host"

    def load(self) -> list[StoredMessage]:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        messages = []
        for sub in ("new", "cur"):
            for path in sorted((self.path / sub).iterdir()):
                name = _MAILDIR_NAME.match(path.name)
                if path.is_file() and name is not None and is_message_id(name["id"]):
                    messages.append(_from_maildir(name["id"], path.read_bytes(), _modified(path)))
        return messages

    def write(self, message: StoredMessage) -> None:
        top = f"Return-Path: <{message.sender}>\n".encode()
        top += b"".join(f"X-Original-To: {rcpt}\n".encode() for rcpt in message.recipients)
        name = f"{int(message.received_at.timestamp())}.{message.id}.{self._host}"
        temporary = self.path / "tmp" / name
        # Maildir files end lines with LF, as every mail program that reads one expects
        temporary.write_bytes(top + message.data.replace(b"\r\n", b"\n"))
        os.replace(temporary, self.path / "new" / name)

    def delete(self, message_id: str) -> None:
        for sub in ("new", "cur"):
            for path in (self.path / sub).glob(f"*.{message_id}.*"):
                name = _MAILDIR_NAME.match(path.name)
                if name is not None and name["id"] == message_id:
                    path.unlink(missing_ok=True)


def _from_maildir(message_id: str, content: bytes, received_at: datetime) -> StoredMessage:
    """The message as received (CRLF again), its envelope from the headers written on top."""
    sender: str | None = None
    recipients: list[str] = []
    lines = content.split(b"\n")
    index = 0
    while index < len(lines):
        name, colon, value = lines[index].partition(b":")
        if not colon or name.lower() not in _ENVELOPE_HEADERS:
            break
        text = value.strip().decode("utf-8", "replace")
        if name.lower() == b"return-path":
            sender = text.removeprefix("<").removesuffix(">")
        else:
            recipients.append(text)
        index += 1
    data = b"\r\n".join(lines[index:])
    if sender is None:  # a message put there by another program
        return _from_headers(message_id, data, received_at)
    return StoredMessage(message_id, sender, tuple(recipients), data, received_at)
