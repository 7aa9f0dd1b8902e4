"""``Message`` and ``Attachment``: Flask-Mail 0.10's classes, making Flask-Mail's bytes.

Unlike Flask-Mail, importing this module changes no global state of the ``email``
package (Flask-Mail re-registers the ``utf-8`` charset for the whole process).
"""

from __future__ import annotations

import socket
import time
import warnings
from collections.abc import Iterable
from email.mime.base import MIMEBase
from email.utils import make_msgid
from functools import cache
from mimetypes import guess_type
from typing import TYPE_CHECKING

from flask import current_app, has_app_context

from smtp_backend import Envelope, wire_bytes

from .addresses import as_text, envelope_address, has_newline, unique
from .mime import INTERNATIONAL_POLICY, POLICY, build
from .sanitize import AddressLike, BadHeaderError, check_header_text, force_text

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Attachment", "BadHeaderError", "Message"]


@cache
def _message_id_domain() -> str:
    # make_msgid() looks the host name up on every call; it does not change while we run.
    return socket.getfqdn()


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
        """True when the sender, a recipient (cc and bcc included) or reply-to holds a line
        break, or the subject one other than a fold (CRLF then a space or tab, each line
        holding text), or any of them another control character but TAB."""
        addresses = [self.sender or "", *self.recipients, *self.cc, *self.bcc]
        if self.reply_to:
            addresses.append(self.reply_to)
        for address in addresses:
            text = as_text(address)
            if has_newline(text) or _refused("To", text):
                return True
        subject = force_text(self.subject) if self.subject else ""
        if _refused("Subject", subject):
            return True
        if not has_newline(subject):
            return False
        lines = subject.split("\r\n")
        return any(
            not line.strip() or (n > 0 and line[0] not in "\t ") for n, line in enumerate(lines)
        )

    def is_bad_headers(self) -> bool:
        warnings.warn(
            "'is_bad_headers' is renamed to 'has_bad_headers'. The old name is"
            " deprecated and will be removed in Flask-Mail 1.0.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.has_bad_headers()

    def send(self, connection: Connection) -> None:
        """Send through ``connection`` (``mail.connect()``)."""
        connection.send(self)

    # -- building the email -----------------------------------------------------

    def _message(self, ascii_attachments: bool | None = None) -> MIMEBase:
        """The MIME tree Flask-Mail builds (``email.mime`` classes), ready to write.

        ``ascii_attachments`` defaults to ``MAIL_ASCII_ATTACHMENTS`` of the current app.
        """
        if ascii_attachments is None:
            ascii_attachments = _app_ascii_attachments()
        message = build(self, ascii_attachments)
        message.policy = INTERNATIONAL_POLICY if self._international() else POLICY
        return message

    def _international(self) -> bool:
        """An address whose local part is not ASCII: headers go as UTF-8 (SMTPUTF8)."""
        addresses = [self.sender or "", *self.send_to, self.reply_to or ""]
        return not all(as_text(a).isascii() or envelope_address(a).isascii() for a in addresses)

    def as_bytes(self, ascii_attachments: bool | None = None) -> bytes:
        """The message as sent: Flask-Mail's bytes (CRLF line endings), written by the core's
        fast serialiser where it gives the same bytes (the stdlib's generator otherwise)."""
        return wire_bytes(self._message(ascii_attachments))

    def as_string(self) -> str:
        """The message as text, headers unfolded (as Flask-Mail's ``as_string``)."""
        message = self._message()
        unfolded = message.policy.clone(max_line_length=0)
        return message.as_bytes(policy=unfolded).decode("utf-8", "surrogateescape")

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
            message_id=self.msgId,  # reported back in the SendResult
        )


def _refused(name: str, text: str) -> bool:
    try:
        check_header_text(name, text)
    except BadHeaderError:
        return True
    return False


def _app_ascii_attachments() -> bool:
    if not has_app_context():
        return False
    state = current_app.extensions.get("mail")
    return bool(getattr(state, "ascii_attachments", False))
