"""AsyncSMTP: the asyncio driver of the engine.

The same methods as the blocking :class:`~smtp_backend.client.SMTP` (as coroutines),
returning the same values and raising the same exceptions, because both run the same
exchanges from :mod:`smtp_backend.protocol.exchanges`. Every network wait is bounded
by ``timeout``; a timeout raises :class:`SMTPTimeoutError`. A command that times out,
fails or is cancelled part-way closes the connection: it is never left half-spoken.
"""

from __future__ import annotations

import asyncio
import email.message
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from .errors import SMTPConnectError, SMTPException, SMTPServerDisconnected
from .errors import SMTPTimeoutError as _SMTPTimeoutError
from .protocol import exchanges as ex
from .protocol import plans, setup, validate_hostname
from .protocol.sasl import PREFERRED_MECHANISMS
from .protocol.session import (
    OAUTH_MECHANISMS,
    AuthObject,
    ClientSession,
    default_local_hostname,
    insecure_auth_error,
    is_loopback,
    logger,
)
from .protocol.setup import Login, default_port, security_mode
from .protocol.steps import (
    CLOSE,
    READ_GREETING,
    Call,
    EndOutput,
    Exchange,
    Plan,
    Read,
    Step,
    StepRun,
    Write,
    encode_command,
    read_reply,
)
from .results import Envelope, Reply, SendResult
from .timeouts import Phase, Timeouts
from .transport.aio_stream import ReplyStream
from .transport.tls import client_context, verifies

__all__ = ["DEFAULT_TIMEOUT", "AsyncSMTP", "SMTPTimeoutError"]

T = TypeVar("T")
S = TypeVar("S")
DEFAULT_TIMEOUT = 60.0
Message = email.message.Message


if sys.version_info >= (3, 11):
    SMTPTimeoutError = _SMTPTimeoutError
else:  # asyncio.TimeoutError is its own class before 3.11: catchable as either

    class SMTPTimeoutError(_SMTPTimeoutError, asyncio.TimeoutError):
        """The server did not answer in time; the connection is closed."""


class AsyncSMTP(ClientSession):
    """One SMTP connection driven by asyncio.

    ``use_tls``: TLS from the first byte (port 465). ``start_tls``: ``None`` upgrades
    with STARTTLS when the server offers it, ``True`` requires it, ``False`` never
    does. Without ``tls_context`` the server's certificate and name are verified.
    With ``username`` and ``password`` (or ``oauth_token``), ``connect`` logs in; the
    set-up after the greeting is the engine's (:func:`~smtp_backend.protocol.setup.set_up`),
    the blocking Mailer's too. ``lmtp=True`` speaks LMTP (RFC 2033: LHLO, one reply per
    recipient after the data); a ``hostname`` starting with ``/`` is a Unix socket path.
    ``timeout`` bounds every wait; ``timeouts`` sets a limit per phase instead, and its
    ``total`` bounds each whole method call; ``connect``, ``set_up`` and ``send_many``
    also take a ``deadline`` (a ``time.monotonic()`` instant) for the whole call.
    """

    _timeout_error = SMTPTimeoutError
    _clock = staticmethod(time.monotonic)

    def __init__(
        self,
        hostname: str | None = None,
        port: int | None = None,
        *,
        host: str | None = None,
        local_hostname: str | None = None,
        source_address: tuple[str, int] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        use_tls: bool = False,
        start_tls: bool | None = None,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        oauth_token: str | None = None,
        timeouts: Timeouts | None = None,
        lmtp: bool = False,
    ) -> None:
        if hostname is not None and host is not None and hostname != host:
            raise ValueError("give hostname or host, not both")
        if tls_context is not None and ssl_context is not None:
            raise ValueError("give tls_context or ssl_context, not both")
        if use_tls and start_tls:
            raise ValueError("use_tls and start_tls are mutually exclusive")
        if password is not None and oauth_token is not None:
            raise ValueError("give password or oauth_token, not both")
        if local_hostname is not None:
            validate_hostname(local_hostname)
        self._init_session(
            hostname or host or "localhost",
            timeout=timeout,
            timeouts=timeouts,
            source_address=source_address,
        )
        self.port = port
        self.local_hostname = local_hostname or default_local_hostname(socket)
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.tls_context = tls_context or ssl_context
        self.username = username
        self._secret = oauth_token if oauth_token is not None else password
        self._oauth = oauth_token is not None
        if lmtp:
            self.ehlo_msg = "lhlo"
        self._stream: ReplyStream | None = None
        self._lock = asyncio.Lock()

    @property
    def hostname(self) -> str:
        return self._host

    @property
    def is_connected(self) -> bool:
        """True while the connection is open and in a known state."""
        return self._stream is not None and self._stream.is_open

    @property
    def has_unread_data(self) -> bool:
        """True when the server sent something nobody asked for (a goodbye, an EOF)."""
        stream = self._stream
        return (
            stream is None
            or not stream.is_open
            or stream.parser.has_partial
            or bool(stream.parser.pending)
        )

    @property
    def is_encrypted(self) -> bool:
        stream = self._stream
        transport = stream.transport if stream is not None else None
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    async def __aenter__(self) -> AsyncSMTP:
        if not self.is_connected:
            await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.is_connected and exc_type is None:
                await self._follow(plans.goodbye(Call("_leave")))
        finally:
            self.close()

    # -- connection ----------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self.tls_context is None:
            self.tls_context = client_context()
        return self.tls_context

    @property
    def security(self) -> str:
        """The security mode ``use_tls`` and ``start_tls`` say (see ``protocol.setup``)."""
        return security_mode(implicit_tls=self.use_tls, starttls=self.start_tls)

    async def connect(
        self,
        hostname: str | None = None,
        port: int | None = None,
        *,
        deadline: float | None = None,
    ) -> tuple[int, bytes]:
        """Connect, read the greeting; then STARTTLS and login as configured (``set_up``)."""
        if hostname is not None:
            self._host = hostname
        if port is not None:
            self.port = port
        if self.port is None:
            self.port = default_port(self.security, "lmtp" if self.ehlo_msg == "lhlo" else "smtp")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive (or None for no timeout)")
        self.close()
        self.forget_session()
        outermost = self._start_call(deadline)
        try:
            code, message = await self._connect(self.port)
            login = None
            if self.username is not None and self._secret is not None:
                login = Login(self.username, self._secret, oauth=self._oauth)
            try:
                # Only when there is something to set up: otherwise the first command greets.
                if login is not None or self.security not in ("none", "tls"):
                    await self.set_up(self.security, login, context=self.tls_context)
            except BaseException:
                self.close()
                raise
            return code, message
        finally:
            self._end_call(outermost)

    async def _connect(self, port: int) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        opening: Awaitable[tuple[asyncio.BaseTransport, ReplyStream]]
        if self._host.startswith("/"):
            opening = loop.create_unix_connection(lambda: ReplyStream(loop), self._host)
        else:
            opening = loop.create_connection(
                lambda: ReplyStream(loop),
                self._host,
                port,
                ssl=self._context() if self.use_tls else None,
                server_hostname=self._host if self.use_tls else None,
                local_addr=self.source_address,
            )
        _, stream = await self._bounded(opening, "connect", what="connecting")
        self._stream = stream
        try:
            code, message = (await self._run(read_reply(READ_GREETING))).as_tuple()
            if code != 220:
                raise SMTPConnectError(code, message)
        except BaseException:
            self.close()
            raise
        return code, message

    async def set_up(
        self,
        security: str,
        login: Login | None = None,
        *,
        context: ssl.SSLContext | None = None,
        deadline: float | None = None,
        where: str | None = None,
    ) -> None:
        """After the greeting: EHLO, STARTTLS as ``security`` says, EHLO again, ``login``;
        the blocking ``SMTP.set_up``'s rules (one plan, :mod:`~smtp_backend.protocol.setup`)."""
        outermost = self._start_call(deadline)
        try:
            await self._follow(setup.set_up(self, security, where or self._host, login, context))
        finally:
            self._end_call(outermost)

    def close(self) -> None:
        """Close the connection without QUIT (the object may connect again)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    # -- time limits -----------------------------------------------------------

    async def _bounded(
        self,
        awaitable: Awaitable[T],
        phase: Phase,
        what: str = "waiting for the server",
        *,
        timed: bool = True,
    ) -> T:
        """``awaitable`` within ``phase``'s limit (``timed=False``: it keeps its own time)."""
        try:
            if not timed:
                return await awaitable
            return await asyncio.wait_for(awaitable, self._limit(phase))
        except (asyncio.TimeoutError, TimeoutError):
            self.close()
            raise SMTPTimeoutError(f"timed out {what} ({phase.replace('_', ' ')})") from None
        except OSError:
            self.close()  # refused, reset, or a failed handshake: raised as is, as smtplib
            raise

    # -- the step runner -----------------------------------------------------------

    async def _run(self, exchange: Exchange[T]) -> T:
        """Drive a shared exchange; a cancellation or failure mid-way closes the connection."""
        async with self._lock:
            outermost = self._start_call()
            try:
                return await self._drive(exchange, self._perform)
            finally:
                self._end_call(outermost)

    async def _follow(self, plan: Plan[T]) -> T:
        """Carry out a plan (see ``protocol.plans``): each call made through ``self``."""
        return await self._drive(plan, self._call)

    async def _drive(
        self, steps: Generator[S, Any, T], perform: Callable[[S], Awaitable[Any]]
    ) -> T:
        run = StepRun(steps, self.close)
        while (step := run.next_step()) is not None:
            try:
                run.succeeded(await perform(step))
            except Exception as exc:
                run.failed(exc)
            except BaseException:
                self.close()  # cancelled between a command and its reply
                steps.close()
                raise
        return run.result

    async def _call(self, call: Call) -> Any:
        return await getattr(self, call.method)(*call.args, **call.kwargs)

    async def _perform(self, step: Step) -> Reply | None:
        if step is CLOSE:  # also when already closed: a batch ends with it after a loss
            self.close()
            return None
        stream = self._stream
        if stream is None:
            raise SMTPServerDisconnected("please run connect() first")
        if isinstance(step, EndOutput):
            await stream.end_output(step.grace)
            return None
        if isinstance(step, Write):
            self._redact = step.secret
            try:
                self._trace("send:", step.data)
            finally:
                self._redact = False
            data = encode_command(step.data, self.command_encoding)
            limit = self._limit(step.phase)
            await self._bounded(stream.write(data, limit), step.phase, timed=False)
            return None
        if isinstance(step, Read):
            limit = self._limit(step.phase)
            reply = await self._bounded(stream.read_reply(limit), step.phase, timed=False)
            if self.debuglevel > 0:
                self._trace("reply:", reply.as_tuple())
            if reply.code < 0:
                self.close()  # not SMTP: the stream's position is unknown
            return reply
        return None

    # -- plain commands ------------------------------------------------------------

    async def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        """Send one command line and return its reply."""
        return await self._run(ex.simple(self, cmd, args))

    async def execute_command(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        return await self.docmd(cmd, args)

    async def helo(self, name: str = "") -> tuple[int, bytes]:
        return await self._run(ex.helo(self, name))

    async def ehlo(self, name: str = "") -> tuple[int, bytes]:
        return await self._run(ex.ehlo(self, name))

    async def ehlo_or_helo_if_needed(self) -> None:
        """EHLO (falling back to HELO) unless one was already done."""
        await self._follow(plans.greet(self))

    async def help(self, args: str = "") -> bytes:
        return (await self._run(ex.simple(self, "help", args)))[1]

    async def rset(self) -> tuple[int, bytes]:
        return await self._run(ex.rset(self))

    async def noop(self) -> tuple[int, bytes]:
        return await self._run(ex.simple(self, "noop"))

    async def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        return await self._run(ex.mail(self, sender, options))

    async def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        return await self._run(ex.rcpt(self, recip, options))

    async def data(self, msg: str | bytes) -> tuple[int, bytes]:
        return await self._run(ex.data(self, msg))

    async def vrfy(self, address: str) -> tuple[int, bytes]:
        return await self._run(ex.simple(self, "vrfy", ex.address_only(address)))

    verify = vrfy

    async def expn(self, address: str) -> tuple[int, bytes]:
        return await self._run(ex.simple(self, "expn", ex.address_only(address)))

    async def quit(self) -> tuple[int, bytes]:
        """Send QUIT, forget the session and close the connection."""
        try:
            return await self._run(ex.quit(self))
        finally:
            self.close()

    async def goodbye(self) -> None:
        """QUIT politely if the connection still answers, then close it; never raises: how
        a pool ends a connection it is done with. Unlike :meth:`quit`, it ends our side of
        a plain stream when the 221 is slow to come (``protocol.exchanges.leave``)."""
        try:
            if self.is_connected:
                await self._leave()
        except (SMTPException, OSError):
            pass
        finally:
            self.close()

    async def _leave(self) -> tuple[int, bytes]:
        """QUIT, ending our side if the 221 is slow (``goodbye`` and ``async with``)."""
        return await self._run(ex.leave(self))

    # -- TLS ---------------------------------------------------------------------

    async def starttls(
        self,
        tls_context: ssl.SSLContext | None = None,
        *,
        context: ssl.SSLContext | None = None,
    ) -> tuple[int, bytes]:
        """Upgrade to TLS (``context``: smtplib's name for ``tls_context``); the session
        (EHLO) starts again. Without a context the certificate and host name are verified."""
        await self.ehlo_or_helo_if_needed()
        ex.require_extension(self, "starttls", "STARTTLS")
        context = tls_context or context or self._context()
        code, reply = await self._run(ex.starttls(self))
        stream = self._stream
        assert stream is not None and stream.transport is not None
        loop = asyncio.get_running_loop()
        try:
            transport = await self._bounded(
                loop.start_tls(stream.transport, stream, context, server_hostname=self._host),
                "command",
                what="in the TLS handshake",
            )
        except BaseException:
            self.close()  # the connection is in an unknown state: never reuse it
            raise
        assert isinstance(transport, asyncio.Transport)
        leftover = stream.restart_after_tls(transport)
        if leftover:  # sent before the handshake: an injection attempt (CVE-2011-0411)
            logger.warning("discarded %d plaintext bytes received before TLS", len(leftover))
        self.forget_session()
        return code, reply

    # -- authentication --------------------------------------------------------------

    def _peer_port(self) -> int | None:
        stream = self._stream
        peer = stream.transport.get_extra_info("peername") if stream and stream.transport else None
        return int(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else None

    def _tls_verified(self) -> bool:
        stream = self._stream
        transport = stream.transport if stream is not None else None
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        context = getattr(ssl_object, "context", None)
        return isinstance(context, ssl.SSLContext) and verifies(context)

    def _check_auth_allowed(self) -> None:
        stream = self._stream
        if stream is None or stream.transport is None:
            raise SMTPServerDisconnected("please run connect() first")
        peer = stream.transport.get_extra_info("peername")
        sock = stream.transport.get_extra_info("socket")
        unix = getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object())
        if not (
            self.is_encrypted
            or self.allow_insecure_auth
            or is_loopback(self._host, peer, unix_socket=unix)
        ):
            raise insecure_auth_error(self._host)

    async def auth(
        self, mechanism: str, authobject: AuthObject, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Run one SASL exchange; ``authobject(challenge=None)`` gives each response."""
        self._check_auth_allowed()
        return await self._run(
            ex.auth(self, mechanism, authobject, initial_response_ok=initial_response_ok)
        )

    async def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Log in with the first of CRAM-MD5, PLAIN, LOGIN the server offers."""
        return await self._follow(
            plans.login(self, user, password, PREFERRED_MECHANISMS, initial_response_ok)
        )

    async def login_oauth2(self, user: str, token: str) -> tuple[int, bytes]:
        """Log in with an OAuth 2 access token: OAUTHBEARER if offered, else XOAUTH2."""
        return await self._follow(
            plans.login(self, user, token, OAUTH_MECHANISMS, True, what="token")
        )

    # -- transactions ------------------------------------------------------------------

    async def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: str | bytes,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send one message; return the refused recipients, as ``SMTP.sendmail``."""
        await self.ehlo_or_helo_if_needed()
        return await self._run(
            ex.sendmail(self, from_addr, to_addrs, msg, mail_options, rcpt_options)
        )

    async def send_message(
        self,
        msg: Message,
        from_addr: str | None = None,
        to_addrs: str | Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send an ``email.message.Message`` with smtplib's envelope rules (Resent-*, Bcc)."""
        return await self._follow(
            plans.send_message(self, msg, from_addr, to_addrs, mail_options, rcpt_options)
        )

    async def send_many(
        self,
        messages: Iterable[Envelope | Message],
        *,
        window: int | None = None,
        deadline: float | None = None,
    ) -> list[SendResult]:
        """Send every message over this connection, pipelined; one result per message.

        The same results as ``SMTP.send_many`` for the same server behaviour. A
        cancellation part-way closes the connection and propagates; the server may
        by then have accepted some of the messages. ``deadline`` (a ``time.monotonic()``
        instant) bounds the whole batch.
        """
        outermost = self._start_call(deadline)
        try:
            await self.ehlo_or_helo_if_needed()
            return await self._run(ex.send_many(self, messages, window))
        finally:
            self._end_call(outermost)
