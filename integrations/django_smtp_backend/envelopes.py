"""A Django ``EmailMessage`` -> an ``Envelope``: addresses from ``from_email`` and
``recipients()`` (Bcc included), the bytes from ``message()``, serialised once."""

from __future__ import annotations

import contextlib
import email.message
import email.policy
import functools
import inspect
from collections.abc import Callable, Iterator
from email.headerregistry import Address, AddressHeader
from typing import Any

from django.core.mail import BadHeaderError
from django.utils.encoding import force_str

from smtp_backend import (
    Envelope,
    SMTPInvalidInputError,
    check_header_value,
    check_message_headers,
)

from .fast_path import building_policy, fast_message_bytes, plain_address

_NO_DOMAIN = "addr-spec local part with no domain"  # Django allows "From: webmaster" (#15042)
# Python < 3.15 flags a non-ASCII local part (cpython#81074); SMTPUTF8 allows one.
_NON_ASCII_LOCAL_PART = "local-part contains non-ASCII characters)"

#: ``prep_address(address, force_ascii)``: an address -> its envelope addr-spec.
PrepAddress = Callable[..., str]


def prep_address(address: Any, force_ascii: bool = True) -> str:
    """Django 6.1's ``EmailBackend.prep_address``: the addr-spec of one address.

    Raises ``ValueError`` for an invalid address (CR/LF injection included). With
    ``force_ascii`` a non-ASCII domain is IDNA-encoded and a non-ASCII local part is
    invalid (it cannot be encoded); without, both are kept as they are (for SMTPUTF8).
    """
    text = force_str(address)
    return text if plain_address(text) else _addr_spec(text, force_ascii)


@functools.lru_cache(maxsize=4096)
def _addr_spec(text: str, force_ascii: bool) -> str:
    # Cached: the header parser is slow and a batch repeats its sender (and often more).
    parsed = AddressHeader.value_parser(text)
    defects = {str(defect) for defect in parsed.all_defects} - {_NO_DOMAIN}
    if not force_ascii:
        defects.discard(_NON_ASCII_LOCAL_PART)
    if defects:
        raise ValueError(f"Invalid address {text!r}: {'; '.join(sorted(defects))}")
    mailboxes = parsed.all_mailboxes
    if len(mailboxes) != 1:
        raise ValueError(f"Invalid address {text!r}: must be a single address")
    mailbox = mailboxes[0]
    if force_ascii and mailbox.domain and not mailbox.domain.isascii():
        domain = mailbox.domain.encode("idna").decode("ascii")
        return str(Address(username=mailbox.local_part, domain=domain))
    return str(mailbox.addr_spec)


def smtputf8_address(prep: PrepAddress, address: Any) -> str:
    """``prep(address)`` (a non-ASCII domain IDNA-encoded), else the address as it is for
    SMTPUTF8 when only ``force_ascii`` made it invalid (a non-ASCII local part)."""
    try:
        return prep(address)
    except ValueError:
        return prep(address, force_ascii=False)


@functools.cache
def _takes_policy(message_class: type) -> bool:
    """Django 6.0+ builds ``message(policy=...)``; older versions take no argument."""
    return "policy" in inspect.signature(message_class.message).parameters


def serialised(django_message: Any, *, international: bool) -> tuple[bytes, str | None]:
    """The message as it goes on the wire (CRLF line endings, no Bcc header ever) and
    its Message-ID.

    Raises ``BadHeaderError`` for a header value smtp_backend's rule refuses (Django
    checks only CR and LF): the caller's text before Django encodes it, then every
    header of the message Django built.
    """
    with _bad_header():
        for name, value in _header_texts(django_message):
            check_header_value(name, value)
    if _takes_policy(type(django_message)):
        policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
        policy = building_policy(django_message, policy)  # the same message, built quicker
        message: email.message.Message = django_message.message(policy=policy)
        del message["Bcc"]
        with _bad_header():
            check_message_headers(message)
        data = fast_message_bytes(django_message, message) or message.as_bytes()
        return data, _message_id(message)
    message = django_message.message()
    del message["Bcc"]  # Django < 6 copies a "Bcc" extra header into the headers
    with _bad_header():
        check_message_headers(message)
    data = fast_message_bytes(django_message, message) or message.as_bytes(linesep="\r\n")
    return data, _message_id(message)


def _header_texts(django_message: Any) -> Iterator[tuple[str, str]]:
    yield "Subject", force_str(django_message.subject)
    yield "From", force_str(django_message.from_email)
    for name, addresses in (("To", "to"), ("Cc", "cc"), ("Reply-To", "reply_to")):
        for address in getattr(django_message, addresses, None) or ():
            yield name, force_str(address)
    for name, value in (django_message.extra_headers or {}).items():
        yield force_str(name), force_str(value)


@contextlib.contextmanager
def _bad_header() -> Iterator[None]:
    """smtp_backend's refusal as Django's own exception, which contact forms catch."""
    try:
        yield
    except SMTPInvalidInputError as exc:
        raise BadHeaderError(str(exc)) from None


def _message_id(message: email.message.Message) -> str | None:
    value = message.get("Message-ID")
    return None if value is None else str(value).strip()


def django_envelope(
    django_message: Any, prep: PrepAddress = prep_address, *, smtputf8: bool = False
) -> Envelope | None:
    """The envelope of one Django message, or ``None`` when it has no recipients.

    ``prep`` is the backend's ``prep_address``. A non-ASCII local part raises its
    ``ValueError``, as Django's backend, unless ``smtputf8``: then the message goes
    with SMTPUTF8 (and fails before any byte if the server does not offer it).
    """
    recipients = django_message.recipients()
    if not recipients:
        return None
    address = functools.partial(smtputf8_address, prep) if smtputf8 else prep
    sender = address(django_message.from_email)
    addresses = [address(recipient) for recipient in recipients]
    international = not (sender.isascii() and all(item.isascii() for item in addresses))
    data, message_id = serialised(django_message, international=international)
    # SMTPUTF8 and BODY=8BITMIME are the engine's to add, where every MAIL is built.
    return Envelope(sender, addresses, data, message_id=message_id)
