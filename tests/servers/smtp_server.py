"""The recording SMTP server a test talks to: aiosmtpd on 127.0.0.1 in a thread."""

from __future__ import annotations

import asyncio
from typing import Any

from .handler import RecordingHandler
from .loop_thread import LoopThreadServer
from .options import SMTPServerOptions
from .records import ReceivedCommand, ReceivedMessage, ServerLog
from .smtp_session import RecordingSMTP
from .tls import LoopbackPKI


class RecordingSMTPServer:
    """``host``/``port`` to connect to; ``messages``, ``commands``, ``connections`` to assert on.

    A message is recorded before the server replies 250 to it, so once a client has the
    reply, the record is there.
    """

    def __init__(self, options: SMTPServerOptions, pki: LoopbackPKI | None = None) -> None:
        if options.tls is not None and pki is None:
            raise ValueError("a TLS server needs the test PKI")
        self.options = options
        self._log = ServerLog()
        self._handler = RecordingHandler(options, self._log)
        self._pki = pki
        implicit_tls = pki.server_context() if pki and options.tls == "implicit" else None
        self._server = LoopThreadServer(self._new_session, ssl_context=implicit_tls)

    def _new_session(self, loop: asyncio.AbstractEventLoop) -> RecordingSMTP:
        starttls: dict[str, Any] = {}
        if self._pki is not None and self.options.tls == "starttls":
            starttls = {
                "tls_context": self._pki.server_context(),
                "require_starttls": self.options.require_starttls,
            }
        return RecordingSMTP(self._handler, self._log.connection_opened(), loop=loop, **starttls)

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        return list(self._log.messages)

    @property
    def commands(self) -> list[ReceivedCommand]:
        return list(self._log.commands)

    @property
    def connections(self) -> int:
        return self._log.connections

    def verbs(self) -> list[str]:
        """The command verbs received, in order, e.g. ``["EHLO", "MAIL", "RCPT", "DATA"]``."""
        return [command.verb for command in self._log.commands]

    def reset(self) -> None:
        self._log.reset()

    def start(self) -> RecordingSMTPServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> RecordingSMTPServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
