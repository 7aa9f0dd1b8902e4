"""A Django message to its envelope, the quick way where that gives the same answer.

Bytes: only for Django's ``EmailMessage`` and ``EmailMultiAlternatives`` themselves (a
subclass may override ``message()`` or serialise in its own way, so it keeps Django's
path). What ``message()`` built is serialised by ``smtp_backend.wire_bytes``: the same
bytes as ``as_bytes`` with CRLF line endings (Django's ``as_bytes`` does not mangle
``From`` lines either), made without the stdlib's header folder where that changes
nothing.

Building: Django 6 builds ``message(policy=...)`` with the policy the backend gives;
for its own classes that is the policy with one header class per kind of header
(``smtp_backend.shared_header_classes``: the same message, built in half the time).

Addresses: a plain ``local@domain`` (dot-atoms of letters, digits and ``_+-``) is its
own addr-spec, with no defect; the header parser is for everything else.
"""

from __future__ import annotations

import email.message
import email.policy
import re
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

from smtp_backend import shared_header_classes, wire_bytes

_OWN_CLASSES = frozenset({EmailMessage, EmailMultiAlternatives})
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def fast_message_bytes(django_message: Any, message: email.message.Message) -> bytes | None:
    """``message.as_bytes()`` (CRLF) for a message of Django's own classes, else ``None``."""
    if type(django_message) not in _OWN_CLASSES:
        return None
    return wire_bytes(message)


def building_policy(django_message: Any, policy: email.policy.EmailPolicy) -> Any:
    """The policy to pass to ``message(policy=...)``: ``policy``, quicker to build with
    for a message of Django's own classes."""
    if type(django_message) not in _OWN_CLASSES:
        return policy
    return shared_header_classes(policy)


def plain_address(text: str) -> bool:
    """True when ``text`` is a plain ``local@domain``, its own addr-spec."""
    return _PLAIN_ADDRESS.fullmatch(text) is not None
