"""smtp_backend: a fast, safe, smtplib-compatible SMTP client.

``SMTP``, ``SMTP_SSL`` and ``LMTP`` are drop-in replacements for smtplib's classes
(same names, signatures, results and exceptions) with safe defaults, pipelining
(RFC 2920) and CHUNKING (RFC 3030); ``SMTP.send_many`` sends a batch with one
``SendResult`` per message.
"""

from .client import (
    CRLF,
    LMTP,
    LMTP_PORT,
    SMTP,
    SMTP_PORT,
    SMTP_SSL,
    SMTP_SSL_PORT,
    bCRLF,
    quoteaddr,
    quotedata,
)
from .dsn import DSN, RecipientDSN
from .errors import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPInsecureAuthError,
    SMTPInvalidInputError,
    SMTPMessageTooLarge,
    SMTPNotSupportedError,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from .mailer import Mailer, MailItem
from .mailer.capture import CapturedMessage
from .mailer.dkim import DKIM
from .mailer.ratelimit import TokenBucket
from .protocol.fast_flatten import wire_bytes
from .protocol.header_classes import shared_header_classes
from .protocol.headers import check_header_value, check_message_headers, header_value_problem
from .results import Envelope, MessageState, Reply, SendResult
from .status import Classification
from .timeouts import DEFAULT_TIMEOUTS, Phase, Timeouts

__version__ = "0.1.0"

# The asyncio client loads asyncio only when asked for.
_LAZY = {
    "AsyncSMTP": "smtp_backend.aio",
    "AsyncMailer": "smtp_backend.mailer.aio",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'smtp_backend' has no attribute {name!r}")


__all__ = [
    "CRLF",
    "DEFAULT_TIMEOUTS",
    "DKIM",
    "DSN",
    "LMTP",
    "LMTP_PORT",
    "SMTP",
    "SMTP_PORT",
    "SMTP_SSL",
    "SMTP_SSL_PORT",
    "AsyncMailer",
    "AsyncSMTP",
    "CapturedMessage",
    "Classification",
    "Envelope",
    "MailItem",
    "Mailer",
    "MessageState",
    "Phase",
    "RecipientDSN",
    "Reply",
    "SMTPAuthenticationError",
    "SMTPConnectError",
    "SMTPDataError",
    "SMTPException",
    "SMTPHeloError",
    "SMTPInsecureAuthError",
    "SMTPInvalidInputError",
    "SMTPMessageTooLarge",
    "SMTPNotSupportedError",
    "SMTPProtocolError",
    "SMTPRecipientsRefused",
    "SMTPResponseException",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
    "SMTPTimeoutError",
    "SendResult",
    "Timeouts",
    "TokenBucket",
    "bCRLF",
    "check_header_value",
    "check_message_headers",
    "header_value_problem",
    "quoteaddr",
    "quotedata",
    "shared_header_classes",
    "wire_bytes",
]
