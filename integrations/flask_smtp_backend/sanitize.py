"""Flask-Mail 0.10's module-level text helpers, and the rule no header text may break.

``sanitize_address``, ``sanitize_addresses``, ``sanitize_subject``, ``force_text`` and
``FlaskMailUnicodeDecodeError`` give Flask-Mail's results. Flask-Mail gets its header
forms by re-registering the ``utf-8`` charset for the whole process on import (the
shorter of ``q``/``b`` in headers, 8bit bodies); here the same forms come from a
private ``Charset`` object, so importing this package changes nothing global.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.charset import SHORTEST, Charset
from email.header import Header
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Any

from smtp_backend import SMTPInvalidInputError, check_header_value

AddressLike = str | tuple[str, str]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_BARE_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


class BadHeaderError(Exception):
    """A header (subject, sender, a recipient, reply-to...) would break into a new line."""


def check_header_text(name: str, text: str) -> None:
    """smtp_backend's one rule for user text bound for a header, as ``BadHeaderError``:
    no line break or control character but TAB, a fold (CRLF then a space or a tab,
    which Flask-Mail accepts in a subject) being the one exception; ``name`` must be a
    valid header field name."""
    try:
        check_header_value(name, text, folds=True)
    except SMTPInvalidInputError as exc:
        raise BadHeaderError(str(exc)) from None


class FlaskMailUnicodeDecodeError(UnicodeDecodeError):
    """``force_text`` could not decode bytes; the message names the object given."""

    def __init__(self, obj: Any, *args: Any) -> None:
        self.obj = obj
        super().__init__(*args)

    def __str__(self) -> str:
        return f"{super().__str__()}. You passed in {self.obj!r} ({type(self.obj)})"


def force_text(s: Any, encoding: str = "utf-8", errors: str = "strict") -> str:
    """``s`` as text: bytes decoded, a lazy string (flask-babel) resolved, an exception's
    arguments joined when its text cannot be decoded."""
    if isinstance(s, str):
        return s
    try:
        return str(s, encoding, errors) if isinstance(s, bytes) else str(s)
    except UnicodeDecodeError as exc:
        if not isinstance(s, Exception):
            raise FlaskMailUnicodeDecodeError(s, *exc.args) from exc
        return " ".join(force_text(arg, encoding, errors) for arg in s.args)


@lru_cache(maxsize=64)
def mail_charset(name: str) -> Charset:
    """``Charset(name)`` as Flask-Mail sees it: ``utf-8`` headers take the shorter of the
    ``q`` and ``b`` encodings and ``utf-8`` bodies go 8bit, as its import registers."""
    charset = Charset(name)
    if charset.input_charset == "utf-8":
        charset.header_encoding = SHORTEST
        charset.body_encoding = None
        charset.output_charset = "utf-8"
    return charset


def _header(text: str, encoding: str) -> str:
    """RFC 2047 form of ``text`` in ``encoding``, in utf-8 if ``encoding`` cannot hold it."""
    try:
        return Header(text, mail_charset(encoding)).encode()
    except UnicodeEncodeError:
        return Header(text, mail_charset("utf-8")).encode()


def sanitize_subject(subject: str, encoding: str = "utf-8") -> str:
    """An ASCII subject as given; any other RFC 2047-encoded."""
    return subject if subject.isascii() else _header(subject, encoding)


def split_address(value: AddressLike) -> tuple[str, str]:
    """``(name, address)`` of a Flask-Mail address form, as ``parseaddr`` gives it."""
    if isinstance(value, tuple):
        return value
    text = force_text(value)
    if _BARE_ADDRESS.match(text):  # "user@domain": parseaddr's answer, without its parser
        return "", text
    return parseaddr(text)


@lru_cache(maxsize=4096)  # the same addresses recur in every message: build each once
def _sanitized(addr: AddressLike, encoding: str) -> str:
    name, address = split_address(addr)
    if not name and _BARE_ADDRESS.match(address):
        return address  # what Header("") and formataddr make of it
    name = _header(name, encoding)
    if not address.isascii():
        local, at, domain = address.partition("@")
        if not at:
            address = _header(address, encoding)
        else:  # the domain in IDNA form; a non-ASCII local part stays (sent with SMTPUTF8)
            address = f"{local}@{domain.encode('idna').decode('ascii')}"
    if not address.isascii():  # formataddr takes ASCII only (Flask-Mail raises here)
        return f"{name} <{address}>" if name else address
    return formataddr((name, address))


def sanitize_address(addr: AddressLike, encoding: str = "utf-8") -> str:
    """``"Name <a@b>"`` or ``("Name", "a@b")`` as a header value: the name RFC 2047-encoded,
    an internationalised domain in IDNA form."""
    try:
        return _sanitized(addr, encoding)
    except TypeError:  # an unhashable address-like value: build it without the cache
        return _sanitized.__wrapped__(addr, encoding)


def sanitize_addresses(addresses: Iterable[AddressLike], encoding: str = "utf-8") -> list[str]:
    return [sanitize_address(address, encoding) for address in addresses]
