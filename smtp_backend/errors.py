"""The smtplib-named exceptions.

Each class has the same name, attributes and meaning as its ``smtplib`` twin and
also subclasses it, so ``except smtplib.SMTPException`` keeps catching ours.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping


class SMTPException(smtplib.SMTPException):
    """Base class for every exception this package raises."""


class SMTPNotSupportedError(SMTPException, smtplib.SMTPNotSupportedError):
    """The command or option is not supported by the server."""


class SMTPServerDisconnected(SMTPException, smtplib.SMTPServerDisconnected):
    """Not connected, or the server closed the connection unexpectedly."""


class SMTPResponseException(SMTPException, smtplib.SMTPResponseException):
    """The server replied with an error code; ``smtp_code`` and ``smtp_error`` hold it."""

    def __init__(self, code: int, msg: bytes | str) -> None:
        # smtplib itself passes str here at times ("Line too long."); keep what we are given.
        super().__init__(code, msg)


class SMTPSenderRefused(SMTPResponseException, smtplib.SMTPSenderRefused):
    """The server refused the sender address; ``sender`` holds it."""

    def __init__(self, code: int, msg: bytes | str, sender: str) -> None:
        smtplib.SMTPSenderRefused.__init__(self, code, msg, sender)  # type: ignore[arg-type]


class SMTPRecipientsRefused(SMTPException, smtplib.SMTPRecipientsRefused):
    """Every recipient was refused; ``recipients`` maps each to its ``(code, msg)``."""

    def __init__(self, recipients: Mapping[str, tuple[int, bytes]]) -> None:
        self.recipients = dict(recipients)
        self.args = (self.recipients,)


class SMTPDataError(SMTPResponseException, smtplib.SMTPDataError):
    """The server refused the message data."""


class SMTPConnectError(SMTPResponseException, smtplib.SMTPConnectError):
    """The server greeted the connection with an error."""


class SMTPHeloError(SMTPResponseException, smtplib.SMTPHeloError):
    """The server refused HELO/EHLO."""


class SMTPAuthenticationError(SMTPResponseException, smtplib.SMTPAuthenticationError):
    """The server refused the credentials (or every mechanism failed)."""


class SMTPProtocolError(SMTPResponseException):
    """The server sent something that is not an SMTP reply; the connection is unusable."""


class SMTPInvalidInputError(SMTPException, ValueError):
    """An argument would corrupt or inject into the SMTP stream; nothing was sent."""


class SMTPMessageTooLarge(SMTPException, ValueError):
    """The message exceeds the size the server advertised; nothing was sent."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message is {size} bytes, the server accepts at most {limit}")
        self.size = size
        self.limit = limit


class SMTPInsecureAuthError(SMTPException):
    """Credentials would travel in clear text to a non-loopback host; nothing was sent."""


class SMTPTimeoutError(SMTPServerDisconnected, TimeoutError):
    """The server did not answer (or take data) in time; the connection has been closed.

    Catchable as ``SMTPServerDisconnected`` (the session is over) and as the builtin
    ``TimeoutError`` (which is ``socket.timeout``, an ``OSError``).
    """
