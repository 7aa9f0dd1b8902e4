"""flask_smtp_backend: Flask-Mail 0.10's API on smtp_backend's pooled, pipelining Mailer.

Moving from Flask-Mail is a one-line change::

    from flask_smtp_backend import Mail, Message   # was: from flask_mail import ...

Same ``MAIL_*`` keys and defaults, same ``Mail``, ``Message`` (and the bytes it makes),
``Attachment``, ``Connection``, ``record_messages()``, ``email_dispatched``, the state in
``app.extensions["mail"]`` and the module-level ``sanitize_*``/``force_text`` helpers;
in addition, connections are pooled and reused, ``connect()`` batches are pipelined, TLS
certificates are verified, header injection is refused, suppressed mail lands in
``mail.outbox``, and ``send_many``/``send_async`` exist. See ``MailSettings`` for the
extra keys and the README for every difference from Flask-Mail.
"""

from .config import MailSettings
from .connection import Connection
from .extension import Mail
from .message import Attachment, BadHeaderError, Message
from .sanitize import (
    AddressLike,
    FlaskMailUnicodeDecodeError,
    force_text,
    sanitize_address,
    sanitize_addresses,
    sanitize_subject,
)
from .signals import email_dispatched, signals
from .state import MailState

__all__ = [
    "AddressLike",
    "Attachment",
    "BadHeaderError",
    "Connection",
    "FlaskMailUnicodeDecodeError",
    "Mail",
    "MailSettings",
    "MailState",
    "Message",
    "email_dispatched",
    "force_text",
    "sanitize_address",
    "sanitize_addresses",
    "sanitize_subject",
    "signals",
]
