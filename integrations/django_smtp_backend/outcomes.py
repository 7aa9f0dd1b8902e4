"""Between a ``SendResult`` and the smtplib exception Django's backend raises, both ways
(one way is ``SendResult.exception()``).

Django's backend raises the first failure's smtplib exception; this one raises the same,
after sending the rest, carrying every message's result (``results``, ``messages``).
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from typing import Any

from smtp_backend import Envelope, MessageState, Reply, SendResult


def failure(results: Sequence[SendResult], messages: Sequence[Any]) -> BaseException | None:
    """The first failed result's exception, carrying ``results`` and their ``messages``
    (the Django messages handed to the server, in order); None when all were sent."""
    error = next((e for result in results if (e := result.exception()) is not None), None)
    if error is None:
        return None
    error.results = list(results)  # type: ignore[attr-defined]
    error.messages = list(messages)  # type: ignore[attr-defined]
    return error


def sendmail_result(
    index: int,
    envelope: Envelope,
    refused: Mapping[str, tuple[int, bytes]] | None = None,
    error: BaseException | None = None,
) -> SendResult:
    """The result of one ``connection.sendmail()`` call: its refused recipients, or the
    exception it raised (a refusal; anything else may have been delivered: unknown)."""
    recipients = tuple(envelope.recipients)
    if error is None:
        refusals = {rcpt: Reply(code, text) for rcpt, (code, text) in (refused or {}).items()}
        accepted = tuple(rcpt for rcpt in recipients if rcpt not in refusals)
        return SendResult(
            index,
            envelope.sender,
            recipients,
            MessageState.SENT,
            accepted,
            refusals,
            message_id=envelope.message_id,
        )
    refusals, reply = {}, None
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refusals = {rcpt: Reply(code, text) for rcpt, (code, text) in error.recipients.items()}
    elif isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        reply = Reply(error.smtp_code, text if isinstance(text, bytes) else text.encode())
    state = MessageState.REFUSED if refusals or reply else MessageState.UNKNOWN
    return SendResult(
        index,
        envelope.sender,
        recipients,
        state,
        (),
        refusals,
        reply,
        error,
        message_id=envelope.message_id,
    )
