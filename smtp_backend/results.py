"""Small immutable records: a server reply, an envelope, the outcome of one message."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .dsn import DSN
from .errors import (
    SMTPDataError,
    SMTPException,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from .status import Classification, EnhancedCode, classify, describe_enhanced


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete SMTP reply.

    ``message`` is exactly what smtplib's ``getreply()`` returns as its second item:
    the text of every line, joined with ``b"\\n"``. ``enhanced`` is the RFC 3463 code
    parsed from the first line's text when it has one.
    """

    code: int
    message: bytes
    enhanced: EnhancedCode | None = None

    @property
    def text(self) -> str:
        return self.message.decode("utf-8", "replace")

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def classification(self) -> Classification | None:
        """PERMANENT (5xx), TEMPORARY (4xx), UNKNOWN (unreadable) or None when positive."""
        return classify(self.code)

    @property
    def description(self) -> str | None:
        """What the enhanced status code usually means (e.g. 5.1.1: no such user)."""
        return describe_enhanced(self.enhanced)

    def as_tuple(self) -> tuple[int, bytes]:
        """The ``(code, message)`` pair smtplib's methods return."""
        return (self.code, self.message)


class MessageState(str, enum.Enum):
    """Where one message of a batch ended. Exactly one applies to every message."""

    SENT = "sent"  # the server took responsibility (250 after the data)
    REFUSED = "refused"  # the server said no; the codes say why
    NOT_ATTEMPTED = (
        "not_attempted"  # never delivered: its data was never completed; safe to send again
    )
    UNKNOWN = "unknown"  # the connection died after the data, before the final reply


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope and the exact bytes of one message.

    ``data`` is the message as it should arrive (any line endings); the engine
    normalises line endings and adds dot-stuffing or BDAT framing itself.
    """

    sender: str
    recipients: Sequence[str]
    data: bytes
    mail_options: Sequence[str] = ()
    rcpt_options: Sequence[str] = ()
    dsn: DSN | None = None  # delivery status notifications to ask for (RFC 3461)
    require_tls: bool = False  # RFC 8689: refused locally unless TLS is verified and offered
    message_id: str | None = None  # reported back in the SendResult, for correlation

    def __post_init__(self) -> None:
        if isinstance(self.recipients, str):
            object.__setattr__(self, "recipients", (self.recipients,))
        else:
            object.__setattr__(self, "recipients", tuple(self.recipients))
        object.__setattr__(self, "mail_options", tuple(self.mail_options))
        object.__setattr__(self, "rcpt_options", tuple(self.rcpt_options))


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one message of a batch, in the order the batch gave them.

    It names the envelope (sender, recipients) but does not keep the message data,
    so the results of a million-message batch stay small.
    """

    index: int
    sender: str
    recipients: tuple[str, ...]
    state: MessageState
    accepted: tuple[str, ...] = ()
    refused: Mapping[str, Reply] = field(default_factory=dict)  # recipient -> the server's no
    reply: Reply | None = None  # the final reply to the data, or the reply that ended it
    error: BaseException | None = None
    size: int = 0  # octets of message data, as sized for SIZE
    message_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the server took the message for at least one recipient."""
        return self.state is MessageState.SENT

    @property
    def unknown(self) -> bool:
        """True when the fate is unknown: never report it as sent, never resend it blindly."""
        return self.state is MessageState.UNKNOWN

    @property
    def classification(self) -> Classification | None:
        """None when sent; else whether sending it again could succeed.

        PERMANENT: the server refused it with 5xx, or it is bad input (it would fail
        again). TEMPORARY: a 4xx refusal, or never attempted because the connection was
        lost: safe to send again later. UNKNOWN: it may have been delivered; resending
        risks a duplicate (RFC 1047).
        """
        if self.state is MessageState.SENT:
            return None
        if self.state is MessageState.UNKNOWN:
            return Classification.UNKNOWN
        if self.state is MessageState.NOT_ATTEMPTED:
            error = self.error
            if isinstance(error, SMTPProtocolError):
                return Classification.TEMPORARY  # the connection's fault, not the message's
            if isinstance(error, SMTPResponseException) and error.smtp_code >= 400:
                return classify(error.smtp_code)  # e.g. a 421 greeting: try again later
            lost = isinstance(error, SMTPServerDisconnected) or (
                isinstance(error, OSError) and not isinstance(error, SMTPException)
            )
            return Classification.TEMPORARY if lost else Classification.PERMANENT
        codes = [reply.code for reply in self.refused.values()]
        if self.reply is not None:
            codes.append(self.reply.code)
        if codes and all(400 <= code < 500 for code in codes):
            return Classification.TEMPORARY
        if any(500 <= code < 600 for code in codes):
            return Classification.PERMANENT
        return Classification.TEMPORARY if codes else Classification.UNKNOWN

    @property
    def retryable(self) -> bool:
        """True when sending this message again cannot duplicate it and may succeed."""
        return self.classification is Classification.TEMPORARY

    def exception(self) -> BaseException | None:
        """The exception smtplib's ``sendmail`` would have raised for this message, or None
        when it was sent: the error it met, else ``SMTPSenderRefused``,
        ``SMTPRecipientsRefused`` or ``SMTPDataError`` from the server's reply, and
        ``SMTPServerDisconnected`` when the connection was lost before the reply."""
        if self.state is MessageState.SENT:
            return None
        if self.error is not None:
            return self.error
        if self.state is MessageState.UNKNOWN:
            return SMTPServerDisconnected(
                "connection lost after the message data, before the server's reply: "
                "it may have been delivered"
            )
        reply = self.reply
        if self.refused and not self.accepted:
            return SMTPRecipientsRefused({r: x.as_tuple() for r, x in self.refused.items()})
        if reply is not None and self.accepted:
            return SMTPDataError(reply.code, reply.message)
        if reply is not None:
            return SMTPSenderRefused(reply.code, reply.message, self.sender)
        return SMTPException(f"message {self.index} {self.state.value}")
