"""The ``capture`` option's output: ``django.core.mail.outbox``, as Django's locmem backend fills it."""

from __future__ import annotations

import copy
from typing import Any

from django.core import mail

from smtp_backend.mailer import CapturedMessage


def append_to_outbox(message: Any, record: CapturedMessage, alias: str | None) -> None:
    """Append a copy of ``message`` to ``mail.outbox`` (created if missing).

    The copy also carries ``captured``: the Mailer's record, with the envelope and the
    exact bytes that would have gone on the wire.
    """
    outbox_copy = copy.deepcopy(message)
    outbox_copy.sent_using = alias
    outbox_copy.captured = record
    if not hasattr(mail, "outbox"):
        mail.outbox = []
    mail.outbox.append(outbox_copy)
