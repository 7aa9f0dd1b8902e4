"""A Django ``EmailMessage`` -> an ``Envelope``: addresses from ``from_email`` and
``recipients()`` (Bcc included), the bytes from ``message()``, serialised once."""

from __future__ import annotations

import email.message
import email.policy
import functools
import inspect
from email.headerregistry import AddressHeader
from typing import Any

from smtp_backend import Envelope

# Python < 3.15 flags a non-ASCII local part (cpython#81074); SMTPUTF8 allows one.
_ALLOWED_DEFECTS = {
    "addr-spec local part with no domain",  # Django allows "From: webmaster" (#15042)
    "local-part contains non-ASCII characters)",
}


def envelope_address(address: Any) -> str:
    """The addr-spec of one address, as Django's ``prep_address`` checks it.

    Raises ``ValueError`` for an invalid address (CR/LF injection included). A non-ASCII
    domain is IDNA-encoded when the local part is ASCII; a non-ASCII local part is kept
    as it is (it needs SMTPUTF8, which the caller then asks for).
    """
    return _addr_spec(str(address))


@functools.lru_cache(maxsize=4096)
def _addr_spec(text: str) -> str:
    # Cached: the header parser is slow and a batch repeats its sender (and often more).
    parsed = AddressHeader.value_parser(text)
    defects = {str(defect) for defect in parsed.all_defects} - _ALLOWED_DEFECTS
    if defects:
        raise ValueError(f"Invalid address {text!r}: {'; '.join(sorted(defects))}")
    mailboxes = parsed.all_mailboxes
    if len(mailboxes) != 1:
        raise ValueError(f"Invalid address {text!r}: must be a single address")
    mailbox = mailboxes[0]
    local_part, domain = mailbox.local_part, mailbox.domain or ""
    if domain and not domain.isascii() and local_part.isascii():
        return f"{mailbox.addr_spec.rpartition('@')[0]}@{domain.encode('idna').decode('ascii')}"
    return str(mailbox.addr_spec)


@functools.cache
def _takes_policy(message_class: type) -> bool:
    """Django 6.0+ builds ``message(policy=...)``; older versions take no argument."""
    return "policy" in inspect.signature(message_class.message).parameters


def message_bytes(django_message: Any, *, international: bool) -> bytes:
    """The message as it goes on the wire, CRLF line endings, no Bcc header ever."""
    if _takes_policy(type(django_message)):
        policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
        message: email.message.Message = django_message.message(policy=policy)
        del message["Bcc"]
        return message.as_bytes()
    message = django_message.message()
    del message["Bcc"]  # Django < 6 copies a "Bcc" extra header into the headers
    return message.as_bytes(linesep="\r\n")


def django_envelope(django_message: Any) -> Envelope | None:
    """The envelope of one Django message, or ``None`` when it has no recipients."""
    recipients = django_message.recipients()
    if not recipients:
        return None
    sender = envelope_address(django_message.from_email)
    addresses = [envelope_address(recipient) for recipient in recipients]
    international = not (sender.isascii() and all(address.isascii() for address in addresses))
    # SMTPUTF8 and BODY=8BITMIME are the engine's to add, where every MAIL is built.
    return Envelope(sender, addresses, message_bytes(django_message, international=international))
