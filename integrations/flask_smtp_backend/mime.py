"""A ``Message`` as Flask-Mail 0.10 lays it out, so its bytes are Flask-Mail's.

The stdlib's ``email.mime`` classes build the tree and ``policy.SMTP`` writes it, as in
Flask-Mail: a text-only message is one ``text/plain`` part; attachments make it
``multipart/mixed``; ``html`` or other ``alts`` make it ``multipart/mixed`` holding a
``multipart/alternative`` of ``text/plain`` (the body, empty when there is none) and each
alternative; attachments are base64 with ``filename*=UTF8''...`` for a non-ASCII name.

Where Flask-Mail's output is unsafe or breaks, this differs (see the README): text
bound for a header is checked by ``check_header_text`` (no injected header lines); a
text line over 998 octets goes quoted-printable; a non-ASCII ``str`` attachment is sent
as UTF-8; non-ASCII extra or attachment header values are RFC 2047-encoded; a header
given again in ``extra_headers`` or an attachment's ``headers`` replaces it.
"""

from __future__ import annotations

import copy
import email.policy
import re
import unicodedata
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.message import Message as MIMEMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import EmailPolicy
from email.utils import formatdate
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .sanitize import (
    AddressLike,
    check_header_text,
    force_text,
    mail_charset,
    sanitize_address,
    sanitize_subject,
    split_address,
)

if TYPE_CHECKING:
    from .message import Attachment, Message

_SPACES = re.compile(r"\s+")
_LINE_END = re.compile(r"\r\n|\r|\n")
MAX_LINE_OCTETS = 998  # RFC 5322 §2.1.1: longer lines may be cut or refused on the way
_STRUCTURED = email.policy.SMTP  # parses and RFC 2047-encodes a non-ASCII header value


class _SMTPWriting(EmailPolicy):
    """``policy.SMTP`` (what Flask-Mail writes with), reading a header stored as text back
    as text, as compat32 does: the writer's reads (Content-Type, its parameters) then
    parse no header objects, and what it writes is unchanged."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        return value if isinstance(value, str) else super().header_fetch_parse(name, value)


POLICY = _SMTPWriting(linesep="\r\n")  # == email.policy.SMTP but for the reads above
INTERNATIONAL_POLICY = POLICY.clone(utf8=True)  # an address with a non-ASCII local part


def build(message: Message, ascii_attachments: bool) -> MIMEBase:
    """The MIME tree of ``message``; its headers in Flask-Mail's order."""
    encoding = message.charset or "utf-8"
    body = None if message.body is None else force_text(message.body)
    root: MIMEBase
    if not message.attachments and not message.alts:
        root = text_part(body, "plain", encoding)
    else:
        root = MIMEMultipart()
        if message.alts:
            alternative = MIMEMultipart("alternative")
            alternative.attach(text_part(body, "plain", encoding))
            for subtype, content in message.alts.items():
                alternative.attach(text_part(force_text(content), subtype, encoding))
            root.attach(alternative)
        else:
            root.attach(text_part(body, "plain", encoding))
    _set_headers(root, message, encoding)
    for attachment in message.attachments:
        root.attach(attachment_part(attachment, ascii_attachments))
    return root


def _set_headers(root: MIMEBase, message: Message, encoding: str) -> None:
    if message.subject:
        subject = force_text(message.subject)
        check_header_text("Subject", subject)
        root["Subject"] = sanitize_subject(subject, encoding)
    if message.sender:
        root["From"] = header_address("From", message.sender, encoding)
    root["To"] = _address_list("To", message.recipients, encoding)
    root["Date"] = formatdate(message.date, localtime=True)
    check_header_text("Message-ID", message.msgId)
    root["Message-ID"] = message.msgId
    if message.cc:
        root["Cc"] = _address_list("Cc", message.cc, encoding)
    if message.reply_to:
        root["Reply-To"] = header_address("Reply-To", message.reply_to, encoding)
    for name, value in (message.extra_headers or {}).items():
        put_header(root, name, force_text(value))


def _address_list(field: str, addresses: list[AddressLike], encoding: str) -> str:
    """Each address once, in the given order (Flask-Mail's set gives a random order)."""
    sanitized = (header_address(field, address, encoding) for address in addresses)
    return ", ".join(dict.fromkeys(sanitized))


def header_address(field: str, address: AddressLike, encoding: str) -> str:
    """``sanitize_address(address)``, once its name and address pass the header rule."""
    try:
        return _checked_address(field, address, encoding)
    except TypeError:  # unhashable: not cached
        return _checked_address.__wrapped__(field, address, encoding)


@lru_cache(maxsize=4096)
def _checked_address(field: str, address: AddressLike, encoding: str) -> str:
    name, addr = split_address(address)
    check_header_text(field, force_text(name))
    check_header_text(field, force_text(addr))
    return sanitize_address((name, addr), encoding)


def put_header(part: MIMEMessage, name: str, text: str) -> None:
    """Set a user-given header, replacing one of the same name (Flask-Mail adds a second)."""
    check_header_text(name, text)
    value: Any = text if text.isascii() else _STRUCTURED.header_factory(name, text)
    if name in part:
        part.replace_header(name, value)
    else:
        part[name] = value


def text_part(text: str | None, subtype: str, encoding: str) -> MIMEText:
    """``MIMEText`` as Flask-Mail makes it: ``utf-8`` text goes 7bit or 8bit as it is."""
    check_header_text("Content-Type", f"{subtype}; {encoding}")
    charset = mail_charset(encoding)
    if text is not None and _has_long_line(text):
        charset = _quoted_printable(encoding)
    return MIMEText(text, subtype, charset)  # type: ignore[arg-type]  # None: an empty part


def _has_long_line(text: str) -> bool:
    if len(text) <= MAX_LINE_OCTETS // 4:  # at most 4 octets a character in any charset
        return False
    if text.isascii():  # str.split is ~40x faster here than a regex scan for a long run
        return any(
            len(line) > MAX_LINE_OCTETS and any(len(p) > MAX_LINE_OCTETS for p in line.split("\r"))
            for line in text.split("\n")
        )
    return any(len(line.encode("utf-8")) > MAX_LINE_OCTETS for line in _LINE_END.split(text))


@lru_cache(maxsize=16)
def _quoted_printable(encoding: str) -> Charset:
    charset = copy.copy(mail_charset(encoding))
    charset.body_encoding = QP
    return charset


def attachment_part(attachment: Attachment, ascii_filename: bool) -> MIMEBase:
    """A base64 part with Flask-Mail's headers; ``str`` data is sent as the text given."""
    content_type = attachment.content_type
    check_header_text("Content-Type", content_type)
    maintype, slash, subtype = content_type.partition("/")
    if not slash or "/" in subtype:
        raise ValueError(f"an attachment's content_type must be 'type/subtype': {content_type!r}")
    data = attachment.data
    params = {}
    if isinstance(data, str):
        if data.isascii():
            data = data.encode("ascii")
        else:  # Flask-Mail sends Latin-1, or backslash escapes past U+00FF
            data = data.encode("utf-8")
            if maintype == "text" and "charset=" not in subtype.lower():
                params["charset"] = "utf-8"
    part = MIMEBase(maintype, subtype, **params)
    part.set_payload(data)
    encode_base64(part)
    if attachment.filename is not None:
        filename = _ascii(attachment.filename) if ascii_filename else attachment.filename
        check_header_text("Content-Disposition", f"{attachment.disposition}; {filename}")
        name: Any = filename if filename.isascii() else ("UTF8", "", filename)
        part.add_header("Content-Disposition", attachment.disposition, filename=name)
    for key, value in attachment.headers.items():
        put_header(part, key, force_text(value))
    return part


def _ascii(filename: str) -> str:
    """MAIL_ASCII_ATTACHMENTS: accents dropped, other non-ASCII removed, spaces collapsed."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", folded).strip()
