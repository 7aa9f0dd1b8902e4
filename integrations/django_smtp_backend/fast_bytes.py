"""The bytes of Django's own message classes through the core's fast serialiser.

Only Django's ``EmailMessage`` and ``EmailMultiAlternatives`` themselves: a subclass
may override ``message()`` or serialise in its own way, so it keeps Django's path.
What ``message()`` built is serialised by ``smtp_backend.wire_bytes``, the same bytes
as ``as_bytes`` with CRLF line endings (Django's ``as_bytes`` does not mangle ``From``
lines either), made without the stdlib's header folder where that changes nothing.
"""

from __future__ import annotations

import email.message
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

from smtp_backend import wire_bytes

_OWN_CLASSES = frozenset({EmailMessage, EmailMultiAlternatives})


def fast_message_bytes(django_message: Any, message: email.message.Message) -> bytes | None:
    """``message.as_bytes()`` (CRLF) for a message of Django's own classes, else ``None``."""
    if type(django_message) not in _OWN_CLASSES:
        return None
    return wire_bytes(message)
