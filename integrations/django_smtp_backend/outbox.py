"""The ``capture`` option's output: ``django.core.mail.outbox``, as Django's locmem backend fills it."""

from __future__ import annotations

import copy
from typing import Any

from django.core import mail

from smtp_backend import CapturedMessage


def append_to_outbox(message: Any, record: CapturedMessage, backend: Any) -> None:
    """Append a copy of ``message`` to ``mail.outbox`` (created if missing).

    The copy also carries ``captured``: the Mailer's record, with the envelope and the
    exact bytes that would have gone on the wire.
    """
    # A message sent with connection=backend refers to it: the copy shares the backend.
    outbox_copy = copy.deepcopy(message, {id(backend): backend})
    outbox_copy.sent_using = backend.alias
    outbox_copy.captured = record
    if not hasattr(mail, "outbox"):
        mail.outbox = []
    mail.outbox.append(outbox_copy)
