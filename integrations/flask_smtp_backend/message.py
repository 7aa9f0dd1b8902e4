"""``Message`` and ``Attachment``: Flask-Mail 0.10's classes, built on ``email.message.EmailMessage``.

Unlike Flask-Mail, importing this module changes no global state of the ``email``
package (Flask-Mail re-registers the ``utf-8`` charset for the whole process).
"""

from __future__ import annotations

import email.policy
import re
import socket
import time
import unicodedata
import warnings
from collections.abc import Iterable
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid
from functools import cache
from mimetypes import guess_type
from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context

from smtp_backend import Envelope

from .addresses import (
    AddressLike,
    as_text,
    envelope_address,
    has_newline,
    header_address,
    unique,
)
from .wire_headers import add_mime_version, set_address_header, set_header, set_text

if TYPE_CHECKING:
    from .connection import Connection

# 7-bit-safe bodies: non-ASCII text goes quoted-printable or base64, so the message is
# valid even to a server without 8BITMIME.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")
_INTERNATIONAL_POLICY = _POLICY.clone(utf8=True)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SPACES = re.compile(r"\s+")


class BadHeaderError(Exception):
    """A header (subject, sender, a recipient, reply-to) holds a line break."""


@cache
def _message_id_domain() -> str:
    # make_msgid() looks the host name up on every call; it does not change while we run.
    return socket.getfqdn()


def _text(value: Any) -> str:
    """A lazy string (e.g. flask-babel's ``lazy_gettext``) resolved, as Flask-Mail does."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


class Attachment:
    """One attachment: ``data`` is required; the type is guessed from ``filename``."""

    def __init__(
        self,
        filename: str | None = None,
        content_type: str | None = None,
        data: str | bytes | None = None,
        disposition: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if data is None:
            raise ValueError("The 'data' argument is required.")
        if content_type is None and filename is not None:
            content_type = guess_type(filename)[0]
        if content_type is None:
            content_type = "text/plain" if isinstance(data, str) else "application/octet-stream"
        self.data: str | bytes = data
        self.filename: str | None = filename
        self.content_type: str = content_type
        self.disposition: str = disposition or "attachment"
        self.headers: dict[str, str] = headers if headers is not None else {}

    def part(self, charset: str, ascii_filename: bool) -> MIMEPart:
        """This attachment as a MIME part (text stays text; anything else is base64)."""
        part = MIMEPart(policy=_POLICY)
        maintype, _, subtype = self.content_type.split(";", 1)[0].strip().partition("/")
        placement: dict[str, Any] = {}
        if self.filename is not None:
            filename = _ascii_filename(self.filename) if ascii_filename else self.filename
            placement = {"disposition": self.disposition, "filename": filename}
        if isinstance(self.data, str) and maintype == "text":
            part.set_content(self.data, subtype=subtype, charset=charset, **placement)
        else:
            data = self.data.encode("utf-8") if isinstance(self.data, str) else self.data
            part.set_content(data, maintype, subtype, cte="base64", **placement)
        for name, value in self.headers.items():
            set_header(part, name, _text(value))
        return part


def _ascii_filename(filename: str) -> str:
    """MAIL_ASCII_ATTACHMENTS: accents dropped, other non-ASCII removed, spaces collapsed."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", folded).strip()


class Message:
    """An email, with Flask-Mail's constructor, attributes and methods.

    ``sender`` defaults to ``MAIL_DEFAULT_SENDER`` of the current app; a
    ``(name, address)`` sender is stored as ``"name <address>"``. Outside an app
    context the default is filled in when the message is sent.
    """

    def __init__(
        self,
        subject: str = "",
        recipients: list[AddressLike] | None = None,
        body: str | None = None,
        html: str | None = None,
        alts: dict[str, str] | Iterable[tuple[str, str]] | None = None,
        sender: AddressLike | None = None,
        cc: list[AddressLike] | None = None,
        bcc: list[AddressLike] | None = None,
        attachments: list[Attachment] | None = None,
        reply_to: AddressLike | None = None,
        date: float | None = None,
        charset: str | None = None,
        extra_headers: dict[str, str] | None = None,
        mail_options: list[str] | None = None,
        rcpt_options: list[str] | None = None,
    ) -> None:
        if not sender and has_app_context():
            sender = getattr(current_app.extensions.get("mail"), "default_sender", None)
        if isinstance(sender, tuple):
            sender = f"{sender[0]} <{sender[1]}>"
        self.recipients: list[AddressLike] = recipients or []
        self.subject: str = subject
        self.sender: AddressLike | None = sender
        self.reply_to: AddressLike | None = reply_to
        self.cc: list[AddressLike] = cc or []
        self.bcc: list[AddressLike] = bcc or []
        self.body: str | None = body
        self.alts: dict[str, str] = dict(alts or {})
        if html is not None:  # Flask-Mail drops an "html" given in alts here; we keep it
            self.html = html
        self.date: float | None = date
        self.msgId: str = make_msgid(domain=_message_id_domain())
        self.charset: str | None = charset
        self.extra_headers: dict[str, str] | None = extra_headers
        self.mail_options: list[str] = mail_options or []
        self.rcpt_options: list[str] = rcpt_options or []
        self.attachments: list[Attachment] = attachments or []

    @property
    def send_to(self) -> set[AddressLike]:
        """Every recipient: ``recipients``, ``cc`` and ``bcc``."""
        return {*self.recipients, *self.cc, *self.bcc}

    @property
    def html(self) -> str | None:
        return self.alts.get("html")

    @html.setter
    def html(self, value: str | None) -> None:
        if value is None:
            self.alts.pop("html", None)
        else:
            self.alts["html"] = value

    def add_recipient(self, recipient: AddressLike) -> None:
        self.recipients.append(recipient)

    def attach(
        self,
        filename: str | None = None,
        content_type: str | None = None,
        data: str | bytes | None = None,
        disposition: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Add an attachment (``disposition="inline"`` plus a ``Content-ID`` header for an
        image the HTML refers to as ``cid:``)."""
        self.attachments.append(Attachment(filename, content_type, data, disposition, headers))

    def has_bad_headers(self) -> bool:
        """True when the sender, a recipient (cc and bcc included), reply-to or the subject
        holds a line break; a subject may be folded (CRLF followed by a space or tab)."""
        addresses = [self.sender or "", *self.recipients, *self.cc, *self.bcc]
        if self.reply_to:
            addresses.append(self.reply_to)
        if any(has_newline(as_text(address)) for address in addresses):
            return True
        subject = _text(self.subject) if self.subject else ""
        if not has_newline(subject):
            return False
        for number, line in enumerate(subject.split("\r\n")):
            if not line.strip() or has_newline(line) or (number > 0 and line[0] not in "\t "):
                return True
        return False

    def is_bad_headers(self) -> bool:
        warnings.warn(
            "'is_bad_headers' is renamed to 'has_bad_headers'.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.has_bad_headers()

    def send(self, connection: Connection) -> None:
        """Send through ``connection`` (``mail.connect()``)."""
        connection.send(self)

    # -- building the email -----------------------------------------------------

    def to_email_message(self, ascii_attachments: bool | None = None) -> EmailMessage:
        """The message as an ``EmailMessage`` (Bcc is not a header: it is envelope only).

        ``ascii_attachments`` defaults to ``MAIL_ASCII_ATTACHMENTS`` of the current app.
        """
        if ascii_attachments is None:
            ascii_attachments = _app_ascii_attachments()
        charset = self.charset or "utf-8"
        message = EmailMessage(policy=_POLICY)
        self._set_headers(message)
        texts: list[tuple[str, str]] = []
        if self.body is not None or not self.alts:
            texts.append(("plain", self.body or ""))
        texts.extend(self.alts.items())
        (subtype, first), *alternatives = texts
        add_mime_version(message)
        set_text(message, _text(first), subtype, charset)
        if alternatives:
            message.make_alternative()
            for subtype, content in alternatives:
                part = MIMEPart(policy=_POLICY)  # add_alternative would add MIME-Version to it
                set_text(part, _text(content), subtype, charset)
                message.attach(part)  # type: ignore[arg-type]  # typeshed: EmailMessage only
        if self.attachments:
            message.make_mixed()
            for attachment in self.attachments:
                message.attach(attachment.part(charset, ascii_attachments))  # type: ignore[arg-type]
        return message

    def _set_headers(self, message: EmailMessage) -> None:
        if self.subject:
            set_header(message, "Subject", _FOLD.sub("", _text(self.subject)))
        if self.sender:
            set_address_header(message, "From", [header_address(self.sender)])
        if self.recipients:
            to = [header_address(r) for r in unique(self.recipients)]
            set_address_header(message, "To", to)
        set_header(message, "Date", formatdate(self.date, localtime=True))
        set_header(message, "Message-ID", self.msgId)
        if self.cc:
            set_address_header(message, "Cc", [header_address(r) for r in unique(self.cc)])
        if self.reply_to:
            set_address_header(message, "Reply-To", [header_address(self.reply_to)])
        for name, value in (self.extra_headers or {}).items():
            set_header(message, name, _text(value))

    def as_bytes(self, ascii_attachments: bool | None = None) -> bytes:
        """The message as sent (CRLF line endings); UTF-8 headers when an address needs it."""
        message = self.to_email_message(ascii_attachments)
        addresses = [self.sender or "", *self.send_to, self.reply_to or ""]
        international = not all(envelope_address(a).isascii() for a in addresses)
        return message.as_bytes(policy=_INTERNATIONAL_POLICY if international else _POLICY)

    def as_string(self) -> str:
        return self.as_bytes().decode("utf-8", "surrogateescape")

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    def __str__(self) -> str:
        return self.as_string()

    # -- sending ----------------------------------------------------------------

    def check_sendable(self) -> None:
        """Flask-Mail's checks before a send: recipients, a sender, no header injection."""
        if not self.send_to:
            raise AssertionError("No recipients have been added")
        if not self.sender:
            raise AssertionError(
                "The message does not specify a sender and a default sender has not been configured"
            )
        if self.has_bad_headers():
            raise BadHeaderError

    def envelope(
        self, envelope_from: AddressLike | None = None, ascii_attachments: bool = False
    ) -> Envelope:
        """The envelope and bytes to send; stamps ``date`` when unset, as Flask-Mail does."""
        self.check_sendable()
        if self.date is None:
            self.date = time.time()
        sender = envelope_address(envelope_from or self.sender or "")
        recipients = [envelope_address(r) for r in unique([*self.recipients, *self.cc, *self.bcc])]
        return Envelope(
            sender,
            recipients,
            self.as_bytes(ascii_attachments),
            self.mail_options,
            self.rcpt_options,
        )


def _app_ascii_attachments() -> bool:
    if not has_app_context():
        return False
    state = current_app.extensions.get("mail")
    return bool(getattr(state, "ascii_attachments", False))
