"""Batch items -> prepared transactions; batch results -> smtplib's return values."""

from __future__ import annotations

import email.message

from ..errors import (
    SMTPException,
    SMTPNotSupportedError,
    SMTPServerDisconnected,
)
from ..results import Envelope, MessageState, SendResult
from .batch import UnpreparedMessage
from .features import ServerFeatures
from .message import message_to_envelope
from .transaction import PreparedTransaction, prepare_transaction

Message = email.message.Message


def prepare_item(
    item: Envelope | Message, features: ServerFeatures, use_bdat: bool
) -> PreparedTransaction | UnpreparedMessage:
    """One batch item, validated and encoded; a failure becomes that item's result."""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    try:
        if isinstance(item, Envelope):
            sender, recipients, message_id = item.sender, tuple(item.recipients), item.message_id
            return prepare_transaction(item, features, use_bdat=use_bdat)
        if not isinstance(item, email.message.Message):
            raise TypeError(f"expected an email.message.Message or an Envelope, got {item!r}")
        message_id = item.get("Message-ID")
        envelope = message_to_envelope(item, server_smtputf8=True)  # the server's check is next
        sender, recipients = envelope.sender, tuple(envelope.recipients)
        return prepare_transaction(envelope, features, use_bdat=use_bdat, message_id=message_id)
    except (SMTPNotSupportedError, TypeError, ValueError) as exc:
        # Bad input (SMTPInvalidInputError, SMTPMessageTooLarge are ValueErrors) fails
        # this message alone, before any of its bytes are sent.
        return UnpreparedMessage(exc, sender, recipients, message_id)


def sendmail_outcome(result: SendResult) -> dict[str, tuple[int, bytes]]:
    """smtplib's return value and exceptions for one transaction's result."""
    if result.state is MessageState.SENT:
        return {r: (reply.code, reply.message) for r, reply in result.refused.items()}
    if result.state is MessageState.REFUSED and result.error is not None:
        raise result.error
    error = result.error
    if isinstance(error, SMTPException) and not isinstance(error, SMTPServerDisconnected):
        raise error
    raise SMTPServerDisconnected(f"Connection unexpectedly closed: {error}") from error
