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

import datetime
import email.message
import email.utils
import ipaddress
import logging
import re
import socket
import ssl
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import auth as sasl
from .errors import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPInsecureAuthError,
    SMTPNotSupportedError,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from .message import envelope_addresses, flatten_message, needs_smtputf8, sendmail_data
from .protocol import (
    DEFAULT_WINDOW,
    BatchEngine,
    PreparedTransaction,
    ReplyParser,
    ServerFeatures,
    UnpreparedMessage,
    command_line,
    encode_data,
    option_list,
    parse_ehlo_features,
    path_argument,
    prepare_transaction,
    quoteaddr,
)
from .protocol.replies import MAX_LINE_LENGTH
from .results import Envelope, Reply, SendResult
from .sending import prepare_item, sendmail_outcome

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
    "bCRLF",
    "quoteaddr",
    "quotedata",
]

SMTP_PORT = 25
SMTP_SSL_PORT = 465
LMTP_PORT = 2003
CRLF = "\r\n"
bCRLF = b"\r\n"
_MAXLINE = MAX_LINE_LENGTH
_MAXCHALLENGE = 5  # AUTH challenges answered before giving up, as smtplib
_RECV_SIZE = 65536
_have_ssl = True

logger = logging.getLogger("smtp_backend")
_EOL = re.compile(r"(?:\r\n|\n|\r(?!\n))")

AuthObject = Callable[..., "str | bytes | None"]
Message = email.message.Message
SendItem = "Envelope | email.message.Message"


def quotedata(data: str) -> str:
    """smtplib's legacy helper: CRLF line endings and leading dots doubled."""
    return re.sub(r"(?m)^\.", "..", _EOL.sub(CRLF, data))


def _addr_only(addrstring: str) -> str:
    displayname, addr = email.utils.parseaddr(addrstring)
    return addrstring if (displayname, addr) == ("", "") else addr


def _is_loopback(sock: Any, host: str) -> bool:
    """True for a Unix socket, a loopback peer address, or the name localhost."""
    if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", object()):
        return True
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    candidates = [host]
    try:
        candidates.append(str(sock.getpeername()[0]))
    except (OSError, AttributeError, IndexError, TypeError):
        pass
    for candidate in candidates:
        try:
            if ipaddress.ip_address(candidate.strip("[]")).is_loopback:
                return True
        except ValueError:
            continue
    return False


class SMTP:
    """An SMTP client session, exactly as ``smtplib.SMTP`` (see the module docstring)."""

    debuglevel = 0
    sock: Any = None
    file: Any = None
    helo_resp: bytes | None = None
    ehlo_msg = "ehlo"
    ehlo_resp: bytes | None = None
    does_esmtp = False
    default_port = SMTP_PORT
    #: Send MAIL/RCPT/DATA (and BDAT) pipelined when the server offers it.
    pipelining = True
    #: Use BDAT (RFC 3030) in ``send_many`` when the server offers CHUNKING.
    chunking = True
    #: Allow AUTH over an unencrypted connection to a host that is not loopback.
    allow_insecure_auth = False

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
    ) -> None:
        self._host = host
        self.timeout = timeout
        self.esmtp_features: dict[str, str] = {}
        self.command_encoding = "ascii"
        self.source_address = source_address
        self._auth_challenge_count = 0
        self._parser = ReplyParser()
        self._redact = False
        self.user = ""
        self.password = ""
        if host:
            code, msg = self.connect(host, port)
            if code != 220:
                self.close()
                raise SMTPConnectError(code, msg)
        if local_hostname is not None:
            self.local_hostname = local_hostname
        else:
            fqdn = socket.getfqdn()
            if "." in fqdn:
                self.local_hostname = fqdn
            else:
                addr = "127.0.0.1"
                try:
                    addr = socket.gethostbyname(socket.gethostname())
                except socket.gaierror:
                    pass
                self.local_hostname = f"[{addr}]"

    def __enter__(self) -> SMTP:
        return self

    def __exit__(self, *args: object) -> None:
        try:
            code, message = self.docmd("QUIT")
            if code != 221:
                raise SMTPResponseException(code, message)
        except SMTPServerDisconnected:
            pass
        finally:
            self.close()

    # -- debugging -----------------------------------------------------------

    def set_debuglevel(self, debuglevel: int) -> None:
        """1: print the conversation to stderr; 2: the same with timestamps."""
        self.debuglevel = debuglevel

    def _print_debug(self, *args: object) -> None:
        if self.debuglevel > 1:
            stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")
            print(stamp, *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

    def _trace(self, direction: str, data: object) -> None:
        """One line of the transcript: stderr at debuglevel > 0, logging at DEBUG."""
        if self._redact:
            data = "<credentials redacted>"
        if self.debuglevel > 0:
            self._print_debug(direction, repr(data))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s %r", self._host or "-", direction, data)

    # -- connection ----------------------------------------------------------

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if self.debuglevel > 0:
            self._print_debug("connect: to", (host, port), self.source_address)
        return socket.create_connection((host, port), timeout, self.source_address)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: tuple[str, int] | None = None
    ) -> tuple[int, bytes]:
        """Connect to ``host`` (``"host:port"`` accepted) and return the greeting."""
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
        self.sock = self._get_socket(host, port, self.timeout)
        self.file = None
        self._parser = ReplyParser()
        code, msg = self.getreply()
        if self.debuglevel > 0:
            self._print_debug("connect:", repr(msg))
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
        except OSError:
            self.close()
            raise SMTPServerDisconnected("Server not connected") from None

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send one command line; CR or LF in it raises ``ValueError``."""
        self.send(command_line(cmd, args))

    def _read_reply(self) -> Reply:
        parser = self._parser
        if self.debuglevel > 0:
            parser.raw_lines = []
        reply = parser.next_reply()
        while reply is None:
            if not self.sock:
                raise SMTPServerDisconnected("please run connect() first")
            try:
                data = self.sock.recv(_RECV_SIZE)
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
            self._print_debug(f"reply: retcode ({reply.code}); Msg: {reply.message!a}")
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
        res = self.docmd("quit")
        self.ehlo_resp = self.helo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self.close()
        return res

    # -- greeting and session commands ------------------------------------------

    def helo(self, name: str = "") -> tuple[int, bytes]:
        self.putcmd("helo", name or self.local_hostname)
        code, msg = self.getreply()
        self.helo_resp = msg
        return code, msg

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        self.esmtp_features = {}
        self.putcmd(self.ehlo_msg, name or self.local_hostname)
        code, msg = self.getreply()
        if code == -1 and len(msg) == 0:
            self.close()
            raise SMTPServerDisconnected("Server not connected")
        self.ehlo_resp = msg
        if code != 250:
            return code, msg
        self.does_esmtp = True
        self.esmtp_features = parse_ehlo_features(msg)
        return code, msg

    def ehlo_or_helo_if_needed(self) -> None:
        """EHLO (falling back to HELO) unless one was already done."""
        if self.helo_resp is None and self.ehlo_resp is None:
            if not (200 <= self.ehlo()[0] <= 299):
                code, resp = self.helo()
                if not (200 <= code <= 299):
                    raise SMTPHeloError(code, resp)

    def has_extn(self, opt: str) -> bool:
        return opt.lower() in self.esmtp_features

    def help(self, args: str = "") -> bytes:
        self.putcmd("help", args)
        return self.getreply()[1]

    def rset(self) -> tuple[int, bytes]:
        self.command_encoding = "ascii"
        return self.docmd("rset")

    def _rset(self) -> None:
        try:
            self.rset()
        except SMTPServerDisconnected:
            pass

    def noop(self) -> tuple[int, bytes]:
        return self.docmd("noop")

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """MAIL FROM; options are sent only to an ESMTP server, as smtplib does."""
        options = options if self.does_esmtp else ()
        if any(x.lower() == "smtputf8" for x in options):
            if self.has_extn("smtputf8"):
                self.command_encoding = "utf-8"
            else:
                raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
        return self._path_command("mail", "from:", sender, options, "sender")

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        options = options if self.does_esmtp else ()
        return self._path_command("rcpt", "to:", recip, options, "recipient")

    def _path_command(
        self, verb: str, keyword: str, address: str, options: Sequence[str], what: str
    ) -> tuple[int, bytes]:
        # smtplib's newline check (and message) on the whole line first, then our stricter one.
        command_line(verb, f"{keyword}{quoteaddr(address)} {' '.join(options)}")
        self.putcmd(verb, f"{keyword}{path_argument(address, what)}{option_list(options)}")
        return self.getreply()

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA: send ``msg`` (line endings made CRLF, dots stuffed) and return the reply."""
        self.putcmd("data")
        code, repl = self.getreply()
        if self.debuglevel > 0:
            self._print_debug("data:", (code, repl))
        if code != 354:
            raise SMTPDataError(code, repl)
        self.send(encode_data(sendmail_data(msg)))
        code, final = self.getreply()
        if self.debuglevel > 0:
            self._print_debug("data:", (code, final))
        return code, final

    def verify(self, address: str) -> tuple[int, bytes]:
        self.putcmd("vrfy", _addr_only(address))
        return self.getreply()

    vrfy = verify

    def expn(self, address: str) -> tuple[int, bytes]:
        self.putcmd("expn", _addr_only(address))
        return self.getreply()

    # -- TLS -----------------------------------------------------------------

    def starttls(
        self,
        keyfile: str | None = None,
        certfile: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> tuple[int, bytes]:
        """Upgrade to TLS. Without ``context`` the certificate and host name are verified."""
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise SMTPNotSupportedError("STARTTLS extension not supported by server.")
        context = _tls_context(context, keyfile, certfile)
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            raise SMTPResponseException(code, reply)
        leftover = self._parser.take_unparsed()
        if leftover:  # sent before the handshake: an injection attempt (CVE-2011-0411)
            logger.warning("discarded %d plaintext bytes received before TLS", len(leftover))
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=self._host or None)
        except (OSError, ValueError):
            self.close()  # the connection is in an unknown state: never reuse it
            raise
        self.file = None
        self._parser = ReplyParser()
        self.helo_resp = None
        self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return code, reply

    # -- authentication ------------------------------------------------------

    def _check_auth_allowed(self) -> None:
        encrypted = isinstance(self.sock, ssl.SSLSocket)
        if not (encrypted or self.allow_insecure_auth or _is_loopback(self.sock, self._host)):
            raise SMTPInsecureAuthError(
                f"refusing to send credentials to {self._host!r} over an unencrypted "
                "connection; call starttls() first, use SMTP_SSL, or set "
                "allow_insecure_auth = True on this object if you accept the risk"
            )

    def auth(
        self, mechanism: str, authobject: AuthObject, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Run one SASL exchange; ``authobject(challenge=None)`` gives each response."""
        self._check_auth_allowed()
        mechanism = mechanism.upper()
        initial_response = authobject() if initial_response_ok else None
        self._redact = True
        try:
            if initial_response is not None:
                encoded = sasl.encode_sasl(_as_bytes(initial_response), initial=True)
                code, resp = self._auth_command(f"AUTH {mechanism} {encoded}")
                self._auth_challenge_count = 1
            else:
                code, resp = self.docmd("AUTH", mechanism)
                self._auth_challenge_count = 0
            while code == 334:
                self._auth_challenge_count += 1
                challenge = sasl.decode_challenge(resp)
                answer = authobject(challenge)
                code, resp = self._auth_command(
                    sasl.encode_sasl(_as_bytes(answer or b""), initial=False)
                )
                if self._auth_challenge_count > _MAXCHALLENGE:
                    raise SMTPException(
                        "Server AUTH mechanism infinite loop. Last response: " + repr((code, resp))
                    )
        finally:
            self._redact = False
        if code in (235, 503):
            return code, resp
        raise SMTPAuthenticationError(code, resp)

    def _auth_command(self, line: str) -> tuple[int, bytes]:
        self.send(command_line(line))
        self._redact = False
        try:
            return self.getreply()
        finally:
            self._redact = True

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return None
        return sasl.cram_md5_response(self.user, self.password, challenge).decode()

    def auth_plain(self, challenge: bytes | None = None) -> str:
        return sasl.plain_response(self.user, self.password).decode()

    def auth_login(self, challenge: bytes | None = None) -> str:
        if challenge is None or self._auth_challenge_count < 2:
            return self.user
        return self.password

    def auth_xoauth2(self, challenge: bytes | None = None) -> bytes:
        """XOAUTH2 with ``user`` and ``password`` (the access token); a challenge is an error."""
        if challenge:
            return sasl.oauth_error_ack("XOAUTH2")
        return sasl.xoauth2_response(self.user, self.password)

    def auth_oauthbearer(self, challenge: bytes | None = None) -> bytes:
        """OAUTHBEARER (RFC 7628) with ``user`` and ``password`` (the access token)."""
        if challenge:
            return sasl.oauth_error_ack("OAUTHBEARER")
        port = self.sock.getpeername()[1] if self.sock else None
        return sasl.oauthbearer_response(self.user, self.password, self._host or None, port)

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Log in with the first of CRAM-MD5, PLAIN, LOGIN the server offers."""
        return self._login(user, password, sasl.PREFERRED_MECHANISMS, initial_response_ok)

    def login_oauth2(self, user: str, token: str) -> tuple[int, bytes]:
        """Log in with an OAuth 2 access token: OAUTHBEARER if offered, else XOAUTH2."""
        return self._login(user, token, ("OAUTHBEARER", "XOAUTH2"), True, what="token")

    def _login(
        self,
        user: str,
        secret: str,
        preferred: Iterable[str],
        initial_response_ok: bool,
        what: str = "password",
    ) -> tuple[int, bytes]:
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("auth"):
            raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        sasl.validate_credential(user, "user")
        sasl.validate_credential(secret, what)
        advertised = self.esmtp_features["auth"].split()
        authlist = [name for name in preferred if name in advertised]
        if not authlist:
            raise SMTPException("No suitable authentication method found.")
        self.user, self.password = user, secret
        last_exception: SMTPAuthenticationError | None = None
        for authmethod in authlist:
            method = getattr(self, "auth_" + authmethod.lower().replace("-", "_"))
            try:
                code, resp = self.auth(authmethod, method, initial_response_ok=initial_response_ok)
                if code in (235, 503):
                    return code, resp
            except SMTPAuthenticationError as exc:
                last_exception = exc
        assert last_exception is not None
        raise last_exception

    # -- transactions ----------------------------------------------------------

    def _server_features(self) -> ServerFeatures:
        return ServerFeatures.from_esmtp(
            self.esmtp_features, esmtp=self.does_esmtp, lmtp=self.ehlo_msg == "lhlo"
        )

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
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        envelope = Envelope(from_addr, recipients, sendmail_data(msg), mail_options, rcpt_options)
        features = self._server_features()
        if not features.smtputf8 and not any(o.lower() == "smtputf8" for o in mail_options):
            "".join([from_addr, *recipients]).encode("ascii")  # smtplib's UnicodeEncodeError
        txn = prepare_transaction(envelope, features, use_bdat=False)
        if not recipients:
            self._rset()
            raise SMTPRecipientsRefused({})
        result = self._run_batch(iter([txn]), features, window=1)[0]
        return sendmail_outcome(result)

    def send_message(
        self,
        msg: Message,
        from_addr: str | None = None,
        to_addrs: str | Sequence[str] | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        """Send an ``email.message.Message`` with smtplib's envelope rules (Resent-*, Bcc)."""
        self.ehlo_or_helo_if_needed()
        sender, recipients = envelope_addresses(msg, from_addr, to_addrs)
        international = needs_smtputf8(sender, recipients)
        if international:
            if not self.has_extn("smtputf8"):
                raise SMTPNotSupportedError(
                    "One or more source or delivery addresses require internationalized "
                    "email support, but the server does not advertise the required "
                    "SMTPUTF8 capability"
                )
            mail_options = (*mail_options, "SMTPUTF8", "BODY=8BITMIME")
        flat = flatten_message(msg, international=international)
        return self.sendmail(sender, recipients, flat, tuple(mail_options), rcpt_options)

    def send_many(
        self, messages: Iterable[Envelope | Message], *, window: int | None = None
    ) -> list[SendResult]:
        """Send every message over this connection, pipelined; one result per message.

        ``messages`` (``EmailMessage`` or :class:`Envelope` items) is consumed lazily.
        A refused sender, refused recipients or a refused DATA/BDAT is recorded in
        that message's result and the batch goes on; a lost connection ends it, each
        message then reported UNKNOWN (its data was sent, its reply never came) or
        NOT_ATTEMPTED. Nothing is reported sent without the server's 250.
        """
        self.ehlo_or_helo_if_needed()
        features = self._server_features()
        use_bdat = self.chunking and self.pipelining and features.chunking and not features.lmtp
        items = (prepare_item(item, features, use_bdat) for item in messages)
        return self._run_batch(items, features, window=window or DEFAULT_WINDOW)

    def _run_batch(
        self,
        items: Iterable[PreparedTransaction | UnpreparedMessage],
        features: ServerFeatures,
        *,
        window: int,
    ) -> list[SendResult]:
        engine = BatchEngine(
            iter(items),
            pipelining=self.pipelining and features.pipelining,
            window=window,
            lmtp=features.lmtp,
        )
        results: list[SendResult] = []
        try:
            while not engine.finished:
                out = engine.data_to_send()
                if out:
                    self.send(out)
                elif engine.awaiting_replies:
                    engine.receive_reply(self._read_reply())
                else:
                    break
                results.extend(engine.pop_results())
                if engine.closing_reply is not None:
                    break
        except (SMTPServerDisconnected, SMTPProtocolError, OSError) as exc:
            engine.connection_lost(exc)
        if engine.closing_reply is not None:
            engine.connection_lost(SMTPServerDisconnected("the server closed the connection"))
            self.close()
        self.command_encoding = "ascii"
        results.extend(engine.pop_results())
        return results


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _tls_context(
    context: ssl.SSLContext | None, keyfile: str | None, certfile: str | None
) -> ssl.SSLContext:
    """The caller's context, or a verifying default one (smtplib's does not verify)."""
    if keyfile is not None or certfile is not None:
        if context is not None:
            raise ValueError("context and keyfile/certfile arguments are mutually exclusive")
        warnings.warn(
            "keyfile and certfile are deprecated, use a custom context instead",
            DeprecationWarning,
            3,
        )
    if context is None:
        context = ssl.create_default_context()
        if certfile is not None:
            context.load_cert_chain(certfile, keyfile)
    return context


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
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.keyfile = keyfile
        self.certfile = certfile
        self.context = _tls_context(context, keyfile, certfile)
        super().__init__(host, port, local_hostname, timeout, source_address)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        if self.debuglevel > 0:
            self._print_debug("connect:", (host, port))
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
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    ) -> None:
        self._accepted_rcpts = 0
        self.data_replies: list[tuple[int, bytes]] = []
        super().__init__(
            host,
            port,
            local_hostname=local_hostname,
            source_address=source_address,
            timeout=timeout,
        )

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: tuple[str, int] | None = None
    ) -> tuple[int, bytes]:
        """Connect to the LMTP server on a TCP port, or a Unix socket path starting '/'."""
        if host[0] != "/":
            return super().connect(host, port, source_address=source_address)
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if self.timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                self.sock.settimeout(self.timeout)
            self.file = None
            self.sock.connect(host)
        except OSError:
            if self.debuglevel > 0:
                self._print_debug("connect fail:", host)
            if self.sock:
                self.sock.close()
            self.sock = None
            raise
        self._host = host
        self._parser = ReplyParser()
        code, msg = self.getreply()
        if self.debuglevel > 0:
            self._print_debug("connect:", msg)
        return code, msg

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
