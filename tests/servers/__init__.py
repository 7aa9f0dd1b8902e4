"""In-process SMTP servers for the tests: real sockets on 127.0.0.1, one thread each.

``RecordingSMTPServer`` is aiosmtpd with STARTTLS/implicit TLS, AUTH, SMTPUTF8,
PIPELINING, CHUNKING and SIZE, recording every accepted message; ``ScriptedServer``
replays a fixed script for protocol edge cases.
"""

from .handler import REFUSED_DOMAIN, REJECTED_SENDER, TEMPFAIL_DOMAIN
from .options import AUTH_PASSWORD, AUTH_USER, OAUTH_TOKEN, SMTPServerOptions
from .records import ReceivedCommand, ReceivedMessage
from .scripted import (
    GREETING,
    Close,
    Expect,
    ReadBytes,
    ReadData,
    Reset,
    ScriptedServer,
    Send,
    Stall,
    StartTLS,
    Step,
    ehlo_reply,
)
from .smtp_server import RecordingSMTPServer
from .tls import LoopbackPKI

__all__ = [
    "AUTH_PASSWORD",
    "AUTH_USER",
    "GREETING",
    "OAUTH_TOKEN",
    "REFUSED_DOMAIN",
    "REJECTED_SENDER",
    "TEMPFAIL_DOMAIN",
    "Close",
    "Expect",
    "LoopbackPKI",
    "ReadBytes",
    "ReadData",
    "ReceivedCommand",
    "ReceivedMessage",
    "RecordingSMTPServer",
    "Reset",
    "SMTPServerOptions",
    "ScriptedServer",
    "Send",
    "Stall",
    "StartTLS",
    "Step",
    "ehlo_reply",
]
