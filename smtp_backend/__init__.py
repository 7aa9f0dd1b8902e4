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
)
from .results import Envelope, MessageState, Reply, SendResult

__version__ = "0.1.0"

__all__ = [
    "CRLF",
    "LMTP",
    "LMTP_PORT",
    "SMTP",
    "SMTP_PORT",
    "SMTP_SSL",
    "SMTP_SSL_PORT",
    "Envelope",
    "MessageState",
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
    "SendResult",
    "bCRLF",
    "quoteaddr",
    "quotedata",
]
