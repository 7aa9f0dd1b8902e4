"""SMTP, SMTP_SSL, LMTP: the smtplib-compatible blocking driver of the engine.

Same names, signatures, return values and exceptions as smtplib's SMTP objects,
with safer defaults (listed in the README): certificates verified, line endings
of ``bytes`` data normalised, no CR/LF injection through any argument, no
credentials in clear text to a remote host, and pipelined transactions.

This module is also a stand-in for the ``smtplib`` module itself (CPython's own
test suite runs against it), so it exposes smtplib's module-level names and uses
``socket`` through its module global, as smtplib does.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import logging
import re
import socket as socket  # re-exported: smtplib.socket is the patch point its tests use
import ssl
import sys
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from socket import MSG_PEEK, SHUT_WR  # bound here: tests may swap the module's socket
from typing import Any, TypeVar

from .errors import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupportedError,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from .protocol import ReplyParser, command_line, plans, quoteaddr, setup
from .protocol import exchanges as ex
from .protocol.message import text_with_crlf
from .protocol.replies import MAX_LINE_LENGTH
from .protocol.sasl import PREFERRED_MECHANISMS
from .protocol.session import (
    MAX_CHALLENGES,
    OAUTH_MECHANISMS,
    AuthObject,
    ClientSession,
    default_local_hostname,
    insecure_auth_error,
    is_loopback,
)
from .protocol.setup import LMTP_PORT, SMTP_PORT, SMTP_SSL_PORT, Login
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
)
from .results import Envelope, Reply, SendResult
from .timeouts import Phase, Timeouts
from .transport.tls import client_context, verifies

__all__ = [
    "CRLF",
    "LMTP",
    "LMTP_PORT",
    "SMTP",
    "SMTP_PORT",
    "SMTP_SSL",
    "SMTP_SSL_PORT",
    "SMTPAuthenticationError",
    "SMTPConnectError",
    "SMTPDataError",
    "SMTPException",
    "SMTPHeloError",
    "SMTPNotSupportedError",
    "SMTPRecipientsRefused",
    "SMTPResponseException",
    "SMTPSenderRefused",
    "SMTPServerDisconnected",
    "SMTPTimeoutError",
    "bCRLF",
    "quoteaddr",
    "quotedata",
]

CRLF = "\r\n"
bCRLF = b"\r\n"
_GLOBAL_DEFAULT: Any = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
_MAXLINE = MAX_LINE_LENGTH
_MAXCHALLENGE = MAX_CHALLENGES
_RECV_SIZE = 65536
_have_ssl = True

logger = logging.getLogger("smtp_backend")
T = TypeVar("T")
S = TypeVar("S")

Message = email.message.Message


def quotedata(data: str) -> str:
    """smtplib's legacy helper: CRLF line endings and leading dots doubled."""
    return re.sub(r"(?m)^\.", "..", text_with_crlf(data))


def _is_loopback(sock: Any, host: str) -> bool:
    """True for a Unix socket, a loopback peer address, or the name localhost."""
    unix = getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object())
    try:
        peer = sock.getpeername()
    except (OSError, AttributeError):
        peer = None
    return is_loopback(host, peer, unix_socket=unix)


class SMTP(ClientSession):
    """An SMTP client session, exactly as ``smtplib.SMTP`` (see the module docstring).

    ``timeout`` bounds every wait, as in smtplib. ``timeouts`` (keyword only) sets a
    limit per phase instead, and ``Timeouts.total`` bounds each whole method call;
    ``connect``, ``set_up`` and ``send_many`` also take a ``deadline`` (a
    ``time.monotonic()`` instant) for the whole call. A limit that passes raises
    :class:`SMTPTimeoutError` and closes the connection.
    """

    sock: Any = None
    file: Any = None
    default_port = SMTP_PORT
    _clock = staticmethod(time.monotonic)

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._init_session(host, timeout=timeout, timeouts=timeouts, source_address=source_address)
        self._parser = ReplyParser()
        if host:
            code, msg = self.connect(host, port)
            if code != 220:
                self.close()
                raise SMTPConnectError(code, msg)
        if local_hostname is None:  # the module global, as smtplib: CPython's tests patch it
            local_hostname = default_local_hostname(socket)
        self.local_hostname = local_hostname

    def __enter__(self) -> SMTP:
        return self

    def __exit__(self, *args: object) -> None:
        try:
            self._follow(plans.goodbye(Call("_leave")))
        finally:
            self.close()

    # -- the step runner ---------------------------------------------------------

    def _run(self, exchange: Exchange[T]) -> T:
        """Drive a shared exchange over this socket (see ``protocol.steps``)."""
        outermost = self._start_call()
        try:
            return self._drive(exchange, self._perform)
        finally:
            self._end_call(outermost)

    def _follow(self, plan: Plan[T]) -> T:
        """Carry out a plan (see ``protocol.plans``): each call made through ``self``."""
        return self._drive(plan, self._call)

    def _drive(self, steps: Generator[S, Any, T], perform: Callable[[S], Any]) -> T:
        run = StepRun(steps, self.close)
        while (step := run.next_step()) is not None:
            try:
                run.succeeded(perform(step))
            except Exception as exc:
                run.failed(exc)
        return run.result

    def _call(self, call: Call) -> Any:
        return getattr(self, call.method)(*call.args, **call.kwargs)

    def _perform(self, step: Step) -> Reply | None:
        if isinstance(step, Write):
            self._write(step)
        elif isinstance(step, Read):
            return self._read_reply(step.phase)
        elif step is CLOSE:
            self.close()
        elif isinstance(step, EndOutput):
            self._end_output(step.grace)
        return None

    def _end_output(self, grace: float) -> None:
        """Our FIN unless a reply comes within ``grace``; none on TLS (no close_notify)."""
        sock = self.sock
        if sock is None or isinstance(sock, ssl.SSLSocket) or self._parser.pending:
            return
        try:
            sock.settimeout(grace)
            sock.recv(1, MSG_PEEK)  # the reply (or the server's end) came: no FIN needed
        except TimeoutError:
            with contextlib.suppress(OSError):
                sock.shutdown(SHUT_WR)
        except OSError:
            pass  # the read of the reply will say what happened

    def _write(self, step: Write) -> None:
        self._arm(step.phase)
        self._redact = step.secret
        try:
            self.send(step.data)
        finally:
            self._redact = False

    # -- time limits -----------------------------------------------------------

    def _default_limit(self) -> float | None:
        if self.timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
            return socket.getdefaulttimeout()
        return self.timeout

    def _arm(self, phase: Phase, until: float | None = None) -> float | None:
        """Apply ``phase``'s limit to the socket, or what is left of it ``until`` that
        ``time.monotonic()`` instant; return the instant the wait must end (None: never)."""
        sock = self.sock
        if sock is None:
            return None
        if until is None:
            limit = self._limit(phase)
        else:
            limit = until - self._clock()
            if limit <= 0:
                raise self._timed_out(f"waiting for the {phase.replace('_', ' ')} reply")
        if sock.gettimeout() != limit:
            sock.settimeout(limit)
        return until if until is not None or limit is None else self._clock() + limit

    def _timed_out(self, what: str) -> SMTPTimeoutError:
        self.close()
        return SMTPTimeoutError(f"timed out {what}")

    # -- connection ----------------------------------------------------------

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if self.debuglevel > 0:
            self.print_debug("connect: to", (host, port), self.source_address)
        return socket.create_connection((host, port), timeout, self.source_address)

    def connect(
        self,
        host: str = "localhost",
        port: int = 0,
        source_address: tuple[str, int] | None = None,
        *,
        deadline: float | None = None,
    ) -> tuple[int, bytes]:
        """Connect to ``host`` (``"host:port"`` accepted) and return the greeting."""
        outermost = self._start_call(deadline)
        try:
            return self._connect(host, port, source_address)
        finally:
            self._end_call(outermost)

    def _connect_limit(self) -> float | None:
        """The connect phase's limit, for ``_get_socket`` (smtplib's ``timeout`` otherwise)."""
        if self.timeouts is None and self._call_deadline is None:
            return self.timeout
        return self._limit("connect")

    def _connect(
        self, host: str, port: int, source_address: tuple[str, int] | None
    ) -> tuple[int, bytes]:
        if host.startswith("/"):
            return self._connect_unix(host)
        if source_address:
            self.source_address = source_address
        if not port and (host.find(":") == host.rfind(":")):
            i = host.rfind(":")
            if i >= 0:
                host, port_text = host[:i], host[i + 1 :]
                try:
                    port = int(port_text)
                except ValueError:
                    raise OSError("nonnumeric port") from None
        if not port:
            port = self.default_port
        sys.audit("smtplib.connect", self, host, port)
        self._host = host
        try:
            self.sock = self._get_socket(host, port, self._connect_limit())
        except TimeoutError:
            raise SMTPTimeoutError(f"timed out connecting to {host}:{port}") from None
        self.file = None
        return self._read_greeting()

    def _connect_unix(self, path: str) -> tuple[int, bytes]:
        """Connect to a Unix socket ``path`` (as smtplib's LMTP does) and read the greeting."""
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        limit = self._connect_limit()
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if limit is not _GLOBAL_DEFAULT:
                self.sock.settimeout(limit)
            self.file = None
            self.sock.connect(path)
        except OSError:
            if self.debuglevel > 0:
                self.print_debug("connect fail:", path)
            if self.sock:
                self.sock.close()
            self.sock = None
            raise
        self._host = path
        return self._read_greeting()

    def _read_greeting(self) -> tuple[int, bytes]:
        self._parser = ReplyParser()
        code, msg = self._read_reply(READ_GREETING.phase).as_tuple()
        if self.debuglevel > 0:
            self.print_debug("connect:", repr(msg))
        return code, msg

    def send(self, s: str | bytes) -> None:
        """Send ``s`` (str is encoded with ``command_encoding``) to the server."""
        self._trace("send:", s)
        if not self.sock:
            raise SMTPServerDisconnected("please run connect() first")
        data = s.encode(self.command_encoding) if isinstance(s, str) else s
        sys.audit("smtplib.send", self, data)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise self._timed_out("while the server was not reading") from None
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send one command line; CR or LF in it raises ``ValueError``."""
        self.send(command_line(cmd, args))

    def _read_reply(self, phase: Phase = "command") -> Reply:
        parser = self._parser
        tracing = self.debuglevel > 0 or logger.isEnabledFor(logging.DEBUG)
        if tracing != (parser.raw_lines is not None):
            parser.raw_lines = [] if tracing else None
        reply = parser.next_reply()
        until: float | None = None  # the phase's limit bounds the whole reply, not each recv
        while reply is None:
            if not self.sock:
                raise SMTPServerDisconnected("please run connect() first")
            until = self._arm(phase, until)
            try:
                data = self.sock.recv(_RECV_SIZE)
            except TimeoutError:
                raise self._timed_out(f"waiting for the {phase.replace('_', ' ')} reply") from None
            except OSError as exc:
                self.close()
                raise SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from None
            if not data:
                self.close()
                raise SMTPServerDisconnected("Connection unexpectedly closed")
            try:
                parser.feed(data)
            except SMTPProtocolError:
                self.close()
                raise
            finally:
                self._trace_lines()
            reply = parser.next_reply()
        self._trace_lines()
        if self.debuglevel > 0:
            self.print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
        return reply

    def _trace_lines(self) -> None:
        lines = self._parser.raw_lines
        if lines:
            for line in lines:
                self._trace("reply:", line)
            lines.clear()

    def getreply(self) -> tuple[int, bytes]:
        """Read one reply: ``(code, text)``, code -1 when it cannot be read as a code."""
        return self._read_reply().as_tuple()

    def docmd(self, cmd: str, args: str = "") -> tuple[int, bytes]:
        """Send a command, and return its reply."""
        self.putcmd(cmd, args)
        return self.getreply()

    def close(self) -> None:
        """Close the connection without QUIT (the object may connect again)."""
        try:
            file = self.file
            self.file = None
            if file:
                file.close()
        finally:
            sock = self.sock
            self.sock = None
            if sock:
                sock.close()

    def quit(self) -> tuple[int, bytes]:
        """Send QUIT, forget the session and close the connection."""
        res = self._run(ex.quit(self))
        self.close()
        return res

    def goodbye(self) -> None:
        """QUIT politely if the connection still answers, then close it; never raises: how
        a pool ends a connection it is done with. Unlike :meth:`quit`, it ends our side of
        a plain stream when the 221 is slow to come (``protocol.exchanges.leave``)."""
        try:
            if self.sock is not None:
                self._leave()
        except (SMTPException, OSError):
            pass
        finally:
            self.close()

    def _leave(self) -> tuple[int, bytes]:
        """QUIT, ending our side if the 221 is slow (``goodbye`` and the ``with`` block)."""
        return self._run(ex.leave(self))

    # -- greeting and session commands ------------------------------------------

    def helo(self, name: str = "") -> tuple[int, bytes]:
        return self._run(ex.helo(self, name))

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        return self._run(ex.ehlo(self, name))

    def ehlo_or_helo_if_needed(self) -> None:
        """EHLO (falling back to HELO) unless one was already done."""
        self._follow(plans.greet(self))

    def help(self, args: str = "") -> bytes:
        return self._run(ex.simple(self, "help", args))[1]

    def rset(self) -> tuple[int, bytes]:
        return self._run(ex.rset(self))

    def noop(self) -> tuple[int, bytes]:
        return self._run(ex.simple(self, "noop"))

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """MAIL FROM; options are sent only to an ESMTP server, as smtplib does."""
        return self._run(ex.mail(self, sender, options))

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        return self._run(ex.rcpt(self, recip, options))

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA: send ``msg`` (line endings made CRLF, dots stuffed) and return the reply."""
        return self._run(ex.data(self, msg))

    def verify(self, address: str) -> tuple[int, bytes]:
        return self._run(ex.simple(self, "vrfy", ex.address_only(address)))

    vrfy = verify

    def expn(self, address: str) -> tuple[int, bytes]:
        return self._run(ex.simple(self, "expn", ex.address_only(address)))

    # -- TLS -----------------------------------------------------------------

    def starttls(
        self,
        keyfile: str | None = None,
        certfile: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> tuple[int, bytes]:
        """Upgrade to TLS. Without ``context`` the certificate and host name are verified."""
        self.ehlo_or_helo_if_needed()
        ex.require_extension(self, "starttls", "STARTTLS")
        context = client_context(context, keyfile, certfile)
        code, reply = self._run(ex.starttls(self))
        leftover = self._parser.take_unparsed()
        if leftover:  # sent before the handshake: an injection attempt (CVE-2011-0411)
            logger.warning("discarded %d plaintext bytes received before TLS", len(leftover))
        self._arm("command")
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=self._host or None)
        except TimeoutError:
            raise self._timed_out("in the TLS handshake") from None
        except (OSError, ValueError):
            self.close()  # the connection is in an unknown state: never reuse it
            raise
        self.file = None
        self._parser = ReplyParser()
        self.forget_session()
        return code, reply

    def set_up(
        self,
        security: str,
        login: Login | None = None,
        *,
        context: ssl.SSLContext | None = None,
        deadline: float | None = None,
        where: str | None = None,
    ) -> None:
        """After ``connect``: EHLO, STARTTLS as ``security`` says (``"starttls"`` raises
        ``SMTPNotSupportedError`` when it is not offered, nothing sent), EHLO again, and
        ``login`` (a password or an OAuth token); all within ``deadline``."""
        outermost = self._start_call(deadline)
        try:
            self._follow(setup.set_up(self, security, where or self._host, login, context))
        finally:
            self._end_call(outermost)

    # -- authentication ------------------------------------------------------

    def _tls_verified(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket) and verifies(self.sock.context)

    def _check_auth_allowed(self) -> None:
        encrypted = isinstance(self.sock, ssl.SSLSocket)
        if not (encrypted or self.allow_insecure_auth or _is_loopback(self.sock, self._host)):
            raise insecure_auth_error(self._host)

    def auth(
        self, mechanism: str, authobject: AuthObject, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Run one SASL exchange; ``authobject(challenge=None)`` gives each response."""
        self._check_auth_allowed()
        return self._run(
            ex.auth(self, mechanism, authobject, initial_response_ok=initial_response_ok)
        )

    def _peer_port(self) -> int | None:
        return int(self.sock.getpeername()[1]) if self.sock else None

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Log in with the first of CRAM-MD5, PLAIN, LOGIN the server offers."""
        return self._follow(
            plans.login(self, user, password, PREFERRED_MECHANISMS, initial_response_ok)
        )

    def login_oauth2(self, user: str, token: str) -> tuple[int, bytes]:
        """Log in with an OAuth 2 access token: OAUTHBEARER if offered, else XOAUTH2."""
        return self._follow(plans.login(self, user, token, OAUTH_MECHANISMS, True, what="token"))

    # -- transactions ----------------------------------------------------------

    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: str | bytes,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send one message; return the refused recipients as smtplib does.

        Raises SMTPSenderRefused, SMTPRecipientsRefused (every recipient refused)
        or SMTPDataError exactly where smtplib does. MAIL, the RCPTs and DATA are
        pipelined when the server offers PIPELINING.
        """
        self.ehlo_or_helo_if_needed()
        return self._run(ex.sendmail(self, from_addr, to_addrs, msg, mail_options, rcpt_options))

    def send_message(
        self,
        msg: Message,
        from_addr: str | None = None,
        to_addrs: str | Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send an ``email.message.Message`` with smtplib's envelope rules (Resent-*, Bcc)."""
        return self._follow(
            plans.send_message(self, msg, from_addr, to_addrs, mail_options, rcpt_options)
        )

    def send_many(
        self,
        messages: Iterable[Envelope | Message],
        *,
        window: int | None = None,
        deadline: float | None = None,
    ) -> list[SendResult]:
        """Send every message over this connection, pipelined; one result per message.

        ``messages`` (``EmailMessage`` or :class:`Envelope` items) is consumed lazily.
        A refused sender, refused recipients or a refused DATA/BDAT is recorded in
        that message's result and the batch goes on; a lost connection ends it, each
        message then reported UNKNOWN (its data was sent, its reply never came) or
        NOT_ATTEMPTED. Nothing is reported sent without the server's 250. ``deadline``
        (a ``time.monotonic()`` instant) bounds the whole batch.
        """
        outermost = self._start_call(deadline)
        try:
            self.ehlo_or_helo_if_needed()
            return self._run(ex.send_many(self, messages, window))
        finally:
            self._end_call(outermost)


class SMTP_SSL(SMTP):
    """SMTP over implicit TLS (port 465). Without ``context`` the server is verified."""

    default_port = SMTP_SSL_PORT

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        keyfile: str | None = None,
        certfile: str | None = None,
        timeout: float | None = _GLOBAL_DEFAULT,
        source_address: tuple[str, int] | None = None,
        context: ssl.SSLContext | None = None,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.keyfile = keyfile
        self.certfile = certfile
        self.context = client_context(context, keyfile, certfile)
        super().__init__(host, port, local_hostname, timeout, source_address, timeouts=timeouts)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        if self.debuglevel > 0:
            self.print_debug("connect:", (host, port))
        new_socket = super()._get_socket(host, port, timeout)
        try:
            return self.context.wrap_socket(new_socket, server_hostname=self._host or None)
        except BaseException:
            new_socket.close()
            raise


class LMTP(SMTP):
    """LMTP (RFC 2033): LHLO, Unix-socket paths, and one reply per recipient after DATA.

    smtplib reads a single reply after the data and leaves the others unread; here
    ``data()`` reads all of them (``data_replies``) and ``sendmail`` reports each
    recipient the server refused after the data in its returned dictionary.
    """

    ehlo_msg = "lhlo"

    def __init__(
        self,
        host: str = "",
        port: int = LMTP_PORT,
        local_hostname: str | None = None,
        source_address: tuple[str, int] | None = None,
        timeout: float | None = _GLOBAL_DEFAULT,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._accepted_rcpts = 0
        self.data_replies: list[tuple[int, bytes]] = []
        super().__init__(
            host,
            port,
            local_hostname=local_hostname,
            source_address=source_address,
            timeout=timeout,
            timeouts=timeouts,
        )

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self._accepted_rcpts = 0
        return super().mail(sender, options)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        code, msg = super().rcpt(recip, options)
        if code in (250, 251):
            self._accepted_rcpts += 1
        return code, msg

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA, then one reply per accepted recipient; returns the first refusal, else the last."""
        first = super().data(msg)
        self.data_replies = [first]
        for _ in range(self._accepted_rcpts - 1):
            self.data_replies.append(self.getreply())
        return next((r for r in self.data_replies if r[0] != 250), self.data_replies[-1])
