"""Test-mode capture: each message recorded, exactly as a modern server would receive it.

A captured message goes through the same preparation as a sent one, so bad input
fails the same way (a NOT_ATTEMPTED result carrying the same error) and the bytes
are those that would have gone on the wire.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from dataclasses import dataclass

from ..errors import SMTPRecipientsRefused
from ..protocol import ServerFeatures, UnpreparedMessage
from ..protocol.batch import not_attempted_result
from ..protocol.items import prepare_item
from ..results import Envelope, MessageState, Reply, SendResult

#: What capture assumes of the server: a modern one (SMTPUTF8, 8BITMIME, no size limit).
CAPTURE_FEATURES = ServerFeatures(
    esmtp=True,
    pipelining=True,
    chunking=True,
    smtputf8=True,
    eightbitmime=True,
    enhanced_status_codes=True,
)
CAPTURED_REPLY = Reply(250, b"2.0.0 captured, not sent", (2, 0, 0))


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One message a capturing Mailer recorded instead of sending.

    ``message`` is the object given to ``send()`` (an ``email.message.Message`` or an
    :class:`Envelope`), unchanged. ``sender`` and ``recipients`` are the envelope that
    would have been used (for a message: smtplib's rules, Bcc included, Resent-*
    honoured). ``data`` is the message exactly as the server would receive it: CRLF
    line endings, Bcc removed, no dot-stuffing.
    """

    message: email.message.Message | Envelope
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str | None = None

    def as_message(self) -> email.message.EmailMessage:
        """``data`` parsed back into an ``EmailMessage`` (modern policy), for assertions."""
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(self.data)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


def capture_item(
    index: int, item: Envelope | email.message.Message
) -> tuple[SendResult, CapturedMessage | None]:
    """The result a send would give this item, and its record (None when it failed)."""
    prepared = prepare_item(item, CAPTURE_FEATURES, use_bdat=True)
    if isinstance(prepared, UnpreparedMessage) or not prepared.recipients:
        # Exactly the result the batch engine reports for an item it never sends.
        return not_attempted_result(index, prepared, SMTPRecipientsRefused({})), None
    record = CapturedMessage(
        item, prepared.sender, prepared.recipients, prepared.content, prepared.message_id
    )
    sent = SendResult(
        index,
        prepared.sender,
        prepared.recipients,
        MessageState.SENT,
        accepted=prepared.recipients,
        reply=CAPTURED_REPLY,
        size=prepared.size,
        message_id=prepared.message_id,
    )
    return sent, record
