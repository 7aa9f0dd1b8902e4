"""A message composed from the ``send`` flags: addresses, subject, text, HTML, attachments."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Composition:
    """What the user asked for; ``build()`` turns it into an ``EmailMessage``."""

    sender: str
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: Sequence[Path] = ()
    headers: Sequence[tuple[str, str]] = field(default=())

    def build(self) -> email.message.EmailMessage:
        """The message; its Bcc header gives the envelope and is removed when sent."""
        if not (self.to or self.cc or self.bcc):
            raise ValueError("no recipient: give --to, --cc or --bcc")
        message = email.message.EmailMessage(policy=email.policy.SMTP)
        message["From"] = self.sender
        for name, addresses in (("To", self.to), ("Cc", self.cc), ("Bcc", self.bcc)):
            if addresses:
                message[name] = ", ".join(addresses)
        if self.subject is not None:
            message["Subject"] = self.subject
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = email.utils.make_msgid(domain=_domain(self.sender))
        for name, value in self.headers:
            message[name] = value
        message.set_content(self.text if self.text is not None else "")
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        for path in self.attachments:
            _attach(message, path)
        return message


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` -> ``("Name", "value")``; ``ValueError`` when it is not a header."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name or any(c.isspace() or not c.isprintable() for c in name):
        raise ValueError(f"not a header (Name: value): {text!r}")
    return name, value.strip()


def _domain(address: str) -> str | None:
    domain = email.utils.parseaddr(address)[1].rpartition("@")[2]
    return domain or None


def _attach(message: email.message.EmailMessage, path: Path) -> None:
    content_type, encoding = mimetypes.guess_type(path.name)
    if content_type is None or encoding is not None:  # unknown, or compressed (.gz)
        content_type = "application/octet-stream"
    maintype, subtype = content_type.split("/", 1)
    message.add_attachment(
        path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
    )
