"""Signals around each message, as django-anymail's: ``pre_send`` may cancel, ``post_send``
carries the ``SendResult``.

    pre_send.send(sender=<backend class>, message=<EmailMessage>, backend=<backend>)
    post_send.send(sender=<backend class>, message=<EmailMessage>, result=<SendResult>,
                   backend=<backend>)
"""

from __future__ import annotations

from django.dispatch import Signal

pre_send = Signal()
post_send = Signal()


class CancelSend(Exception):
    """Raised by a ``pre_send`` receiver: this message is skipped (not sent, not counted)."""


def pre_send_allows(backend: object, message: object) -> bool:
    """Send ``pre_send`` for one message: False when a receiver cancelled it."""
    try:
        pre_send.send(sender=type(backend), message=message, backend=backend)
    except CancelSend:
        return False
    return True
