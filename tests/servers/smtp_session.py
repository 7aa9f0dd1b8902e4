"""aiosmtpd's SMTP protocol plus what the tests need: extra SASL, a command log, AUTH off.

BDAT and the ``<>`` sender come from the dev server's session (product code).
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from smtp_backend.devserver.session import ChunkingSMTP

from .handler import RecordingHandler
from .records import ReceivedCommand
from .sasl import ExtraSaslMechanisms, check_password


class RecordingSMTP(ExtraSaslMechanisms, ChunkingSMTP):
    """One connection of the recording server; ``connection_number`` counts from 1."""

    def __init__(
        self, handler: RecordingHandler, connection_number: int, **smtp_options: Any
    ) -> None:
        options = handler.options
        with warnings.catch_warnings():
            # AUTH without TLS is deliberate here: the client, not the server, is under test
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            super().__init__(
                handler,
                data_size_limit=options.size_limit,
                enable_SMTPUTF8=options.smtputf8,
                hostname=options.hostname,
                ident="ESMTP test server",
                auth_required=options.must_authenticate,
                auth_require_tls=False,
                authenticator=check_password,
                **smtp_options,
            )
        self.options = options
        self.chunking = options.chunking
        self.log = handler.log
        self.connection_number = connection_number
        self._smtp_methods = {
            verb: self._recorded(verb, method) for verb, method in self._smtp_methods.items()
        }

    def _recorded(
        self, verb: str, method: Callable[[str | None], Awaitable[None]]
    ) -> Callable[[str | None], Awaitable[None]]:
        async def run(argument: str | None) -> None:
            self.log.add_command(ReceivedCommand(self.connection_number, verb, argument))
            await method(argument)

        return run

    async def smtp_AUTH(self, arg: str) -> None:
        if not self.options.auth:
            await self.push("502 5.5.1 AUTH not available")
            return
        await super().smtp_AUTH(arg)
