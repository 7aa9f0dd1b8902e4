"""Messages read for ``send``: ``.eml`` files, mbox files, directories of ``.eml``, stdin.

Messages are parsed with the ``compat32`` policy, so a message is sent with the bytes
of its file (line endings made CRLF, Bcc removed), as smtplib's ``send_message``.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import mailbox
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..mailer import MailItem
from ..protocol.message import envelope_addresses, flatten_message, needs_smtputf8
from ..results import Envelope

INTERNATIONAL_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")  # as smtplib send_message adds them

MBOX_MARK = b"From "
STDIN = "-"


@dataclass(frozen=True)
class SourceMessage:
    """One message read, and where it came from (for the summary)."""

    label: str
    message: email.message.Message

    def as_item(self, sender: str | None, recipients: Sequence[str]) -> MailItem:
        """The message, or an Envelope when the envelope is given instead of read from headers."""
        if sender is None and not recipients:
            return self.message
        header_sender, header_recipients = envelope_addresses(self.message)
        sender = header_sender if sender is None else sender
        recipients = tuple(recipients) or tuple(header_recipients)
        # compat32 keeps the file's own bytes, UTF-8 headers included: no utf8 re-policy.
        data = flatten_message(self.message, international=False)
        international = needs_smtputf8(sender, recipients)
        return Envelope(sender, recipients, data, INTERNATIONAL_OPTIONS if international else ())


def is_batch(sources: Sequence[str]) -> bool:
    """True when the sources may hold more than one message (progress bar and summary)."""
    if len(sources) != 1 or sources[0] == STDIN:
        return len(sources) > 1
    path = Path(sources[0])
    return path.is_dir() or _is_mbox(path)


def read_messages(sources: Sequence[str], stdin: BinaryIO) -> Iterator[SourceMessage]:
    """Every message of every source, lazily, in order. ``OSError`` for a missing file."""
    for source in sources:
        if source == STDIN:
            yield from _read_bytes("<stdin>", stdin.read())
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
            if not files:
                raise OSError(f"no .eml files in directory {source}")
            for file in files:
                yield SourceMessage(str(file), _parse(file.read_bytes()))
        elif _is_mbox(path):
            yield from _read_mbox(str(path), path)
        else:
            yield SourceMessage(str(path), _parse(path.read_bytes()))


def _read_bytes(label: str, data: bytes) -> Iterator[SourceMessage]:
    if not data.startswith(MBOX_MARK):
        yield SourceMessage(label, _parse(data))
        return
    with tempfile.TemporaryDirectory() as spool:
        path = Path(spool, "stdin.mbox")
        path.write_bytes(data)
        yield from _read_mbox(label, path)


def _read_mbox(label: str, path: Path) -> Iterator[SourceMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, message in enumerate(box, 1):
            yield SourceMessage(f"{label} #{number}", message)
    finally:
        box.close()


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(MBOX_MARK)) == MBOX_MARK


def _parse(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data, policy=email.policy.compat32)
