"""aiosmtpd's SMTP protocol plus what the tests need: BDAT, extra SASL, command log."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope

from .handler import RecordingHandler
from .records import ReceivedCommand
from .sasl import ExtraSaslMechanisms, check_password

_BDAT_ARGUMENT = re.compile(r"(\d+)( +LAST)?\Z", re.IGNORECASE)


class NullReversePath(str):
    """The ``<>`` sender: equal to "" yet truthy, since aiosmtpd refuses a falsy address."""

    def __bool__(self) -> bool:
        return True


class ChunkedEnvelope(Envelope):
    """An envelope that knows its BDAT chunks (None until the first BDAT)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] | None = None
        self.chunking_failed = False


class RecordingSMTP(ExtraSaslMechanisms, SMTP):
    """One connection of the recording server; ``connection_number`` counts from 1."""

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

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

    def _create_envelope(self) -> ChunkedEnvelope:
        return ChunkedEnvelope()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        if arg.strip().startswith("<>"):
            return NullReversePath(), arg.strip()[2:].strip()
        return super()._getaddr(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if not self.options.auth:
            await self.push("502 5.5.1 AUTH not available")
            return
        await super().smtp_AUTH(arg)

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        assert isinstance(envelope, ChunkedEnvelope)
        if envelope.chunks is not None:
            await self.push("503 5.5.1 DATA not allowed during a BDAT transfer")
            return
        await super().smtp_DATA(arg)

    async def smtp_BDAT(self, arg: str | None) -> None:
        if not self.options.chunking:
            await self.push('500 Error: command "BDAT" not recognized')
            return
        argument = _BDAT_ARGUMENT.match(arg or "")
        if argument is None:
            # the chunk size is unknown, so nothing can be consumed
            await self.push("501 5.5.4 Syntax: BDAT <size> [LAST]")
            return
        size, last = int(argument[1]), argument[2] is not None
        try:
            chunk = await self._reader.readexactly(size)
        except asyncio.IncompleteReadError:
            assert self.transport is not None
            self.transport.close()
            return
        # the chunk is consumed whatever the verdict (RFC 3030 section 3)
        refusal = await self._bdat_refusal(size)
        envelope = self.envelope
        assert isinstance(envelope, ChunkedEnvelope)
        if refusal is not None:
            # a refused chunk fails the whole transaction until RSET
            envelope.chunking_failed = bool(envelope.mail_from and envelope.rcpt_tos)
            await self.push(refusal)
            return
        envelope.chunks = [*(envelope.chunks or []), chunk]
        if not last:
            await self.push(f"250 2.0.0 {size} octets received")
            return
        envelope.original_content = envelope.content = b"".join(envelope.chunks)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)

    async def _bdat_refusal(self, size: int) -> str | None:
        """The error reply for this chunk, or None when it is accepted."""
        envelope = self.envelope
        session = self.session
        assert isinstance(envelope, ChunkedEnvelope) and session is not None
        if not session.host_name:
            return "503 5.5.1 Error: send EHLO first"
        if self.options.must_authenticate and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if not envelope.mail_from:
            return "503 5.5.1 Error: need MAIL command"
        if not envelope.rcpt_tos:
            return "503 5.5.1 Error: need RCPT command"
        if envelope.chunking_failed:
            return "503 5.5.1 Error: an earlier chunk failed, send RSET"
        received = sum(map(len, envelope.chunks or []))
        if self.data_size_limit and received + size > self.data_size_limit:
            envelope.chunks = []  # drop the accumulated data; the transaction has failed
            return "552 5.3.4 Error: message size exceeds fixed maximum message size"
        return None
