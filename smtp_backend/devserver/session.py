"""One SMTP connection of the dev server: aiosmtpd plus BDAT (RFC 3030), accepting everything."""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

try:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
except ImportError as error:  # the optional extra is missing
    raise ImportError(
        "smtp_backend.devserver needs aiosmtpd: pip install 'smtp-backend[dev]'"
    ) from error

from .store import StoredMessage, new_message_id

_BDAT_ARGUMENT = re.compile(r"(\d+)( +LAST)?\Z", re.IGNORECASE)

Deliver = Callable[[StoredMessage], None]


class NullReversePath(str):
    """The ``<>`` sender of a bounce: equal to "" yet truthy, since aiosmtpd refuses a falsy one."""

    def __bool__(self) -> bool:
        return True


class ChunkedEnvelope(Envelope):
    """An envelope that knows its BDAT chunks (None until the first BDAT)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] | None = None
        self.chunking_failed = False


class CatchAllHandler:
    """The aiosmtpd handler: every recipient accepted, every message handed to ``deliver``."""

    def __init__(self, deliver: Deliver, chunking: bool) -> None:
        self.deliver = deliver
        self.chunking = chunking

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        extensions = ["250-PIPELINING", *(["250-CHUNKING"] if self.chunking else [])]
        return [*responses[:-1], *extensions, responses[-1]]

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        received_at = datetime.now(timezone.utc)
        peer = session.peer
        message = StoredMessage(
            id=new_message_id(received_at),
            sender=str(envelope.mail_from),
            recipients=tuple(envelope.rcpt_tos),
            data=envelope.original_content or b"",
            received_at=received_at,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or ""),
            tls=server.transport.get_extra_info("ssl_object") is not None,
        )
        self.deliver(message)
        return f"250 2.0.0 OK: caught as {message.id}"


class PasswordCheck:
    """aiosmtpd ``authenticator`` for PLAIN and LOGIN accepting one user and password."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        accepted = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self._user)
            and hmac.compare_digest(auth_data.password, self._password)
        )
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)


class ChunkingSMTP(SMTP):
    """aiosmtpd's session with BDAT (RFC 3030) while ``chunking``, and ``<>`` accepted as a sender.

    The dev server runs it; the test suite's recording server subclasses it.
    """

    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"
    #: Answer BDAT (a subclass sets it per connection); False: BDAT is an unknown command.
    chunking = True

    def _create_envelope(self) -> ChunkedEnvelope:
        return ChunkedEnvelope()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        if arg.strip().startswith("<>"):
            return NullReversePath(), arg.strip()[2:].strip()
        return super()._getaddr(arg)

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        assert isinstance(envelope, ChunkedEnvelope)
        if envelope.chunks is not None:
            await self.push("503 5.5.1 DATA not allowed during a BDAT transfer")
            return
        await super().smtp_DATA(arg)

    async def smtp_BDAT(self, arg: str | None) -> None:
        if not self.chunking:
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
        envelope = self.envelope
        assert isinstance(envelope, ChunkedEnvelope)
        # the chunk is consumed whatever the verdict (RFC 3030 section 3)
        refusal = self._bdat_refusal(envelope, size)
        if refusal is not None:
            if envelope.mail_from and envelope.rcpt_tos:
                # a refused chunk fails the whole transaction until RSET; its data is dropped
                envelope.chunking_failed = True
                envelope.chunks = []
            await self.push(refusal)
            return
        envelope.chunks = [*(envelope.chunks or []), chunk]
        if not last:
            await self.push(f"250 2.0.0 {size} octets received")
            return
        envelope.original_content = envelope.content = b"".join(envelope.chunks)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    def _bdat_refusal(self, envelope: ChunkedEnvelope, size: int) -> str | None:
        """The error reply for this chunk, or None when it is accepted."""
        session = self.session
        assert session is not None
        if not session.host_name:
            return "503 5.5.1 Error: send EHLO first"
        if self._auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if not envelope.mail_from:
            return "503 5.5.1 Error: need MAIL command"
        if not envelope.rcpt_tos:
            return "503 5.5.1 Error: need RCPT command"
        if envelope.chunking_failed:
            return "503 5.5.1 Error: an earlier chunk failed, send RSET"
        received = sum(map(len, envelope.chunks or []))
        if self.data_size_limit and received + size > self.data_size_limit:
            return "552 5.3.4 Error: message size exceeds fixed maximum message size"
        return None


class DevSMTP(ChunkingSMTP):
    """One dev server connection: BDAT as the handler's ``chunking`` says."""

    def __init__(self, handler: CatchAllHandler, **options: Any) -> None:
        super().__init__(handler, **options)
        self.chunking = handler.chunking
