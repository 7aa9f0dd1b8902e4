"""How a Mailer opens one connection ready for mail: the settings, the client class they
call for, and the factory that connects and follows the engine's set-up plan
(:func:`smtp_backend.protocol.setup.set_up`: EHLO, TLS as configured, login)."""

from __future__ import annotations

import dataclasses
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..client import LMTP, SMTP, SMTP_SSL
from ..errors import SMTPConnectError, SMTPResponseException
from ..protocol import validate_hostname
from ..protocol.session import ClientSession
from ..protocol.setup import OPPORTUNISTIC, PROTOCOLS, SECURITY_MODES, Login, default_port
from ..timeouts import DEFAULT_TIMEOUTS, Timeouts

__all__ = [
    "OPPORTUNISTIC",
    "SECURITY_MODES",
    "ConnectionFactory",
    "ConnectionSettings",
    "client_for",
    "default_port",
    "locate",
    "open_connection",
]


TokenSource = str | Callable[[], str]

logger = logging.getLogger("smtp_backend.mailer")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect. A ``host`` starting with ``/`` is a Unix socket path."""

    host: str
    port: int
    security: str = "starttls"
    protocol: str = "smtp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    oauth_token: TokenSource | None = field(default=None, repr=False)
    timeout: float | None = None  # one limit for every phase; None: DEFAULT_TIMEOUTS
    local_hostname: str | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    pipelining: bool = True
    timeouts: Timeouts | None = None  # per phase (overrides ``timeout``)
    allow_insecure_auth: bool = False  # log in over clear text to a host that is not loopback
    debuglevel: int = 0  # smtplib's set_debuglevel: 1 prints the conversation, 2 with times

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {self.security!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        if not self.host:
            raise ValueError("a host (or a Unix socket path) is required")
        if self.unix_socket and self.security != "none":
            raise ValueError(
                f"a Unix socket ({self.host}) carries no TLS: use security='none' with it"
            )
        if self.protocol == "lmtp" and self.security == "tls":
            raise ValueError("LMTP with implicit TLS is not supported: use 'starttls' or 'none'")
        if (self.password is not None or self.oauth_token is not None) and not self.username:
            raise ValueError("a password or oauth_token needs a username")
        if self.password is not None and self.oauth_token is not None:
            raise ValueError("give a password or an oauth_token, not both")
        if self.username and self.password is None and self.oauth_token is None:
            raise ValueError("a username needs a password or an oauth_token")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout!r}")
        if self.local_hostname is not None:
            validate_hostname(self.local_hostname)

    @property
    def phase_timeouts(self) -> Timeouts:
        """``timeouts``; else ``timeout`` for every phase, with the default ``total``; else
        the one default table, :data:`~smtp_backend.timeouts.DEFAULT_TIMEOUTS`."""
        if self.timeouts is not None:
            return self.timeouts
        if self.timeout is None:
            return DEFAULT_TIMEOUTS
        return Timeouts.every(self.timeout, total=DEFAULT_TIMEOUTS.total)

    @property
    def unix_socket(self) -> bool:
        return self.host.startswith("/")

    @property
    def login(self) -> Login | None:
        """The credentials to log in with (an OAuth token source is called now), or None."""
        if not self.username:
            return None
        token = self.oauth_token
        if token is not None:
            return Login(self.username, token() if callable(token) else token, oauth=True)
        return Login(self.username, self.password or "")

    def deadline(self, deadline: float | None) -> float | None:
        """When opening a connection must end: ``Timeouts.total`` from now, or earlier."""
        total = self.phase_timeouts.total
        ends = [
            d
            for d in (deadline, None if total is None else time.monotonic() + total)
            if d is not None
        ]
        return min(ends, default=None)

    @property
    def address(self) -> str:
        """For messages and logs: ``host:port`` or the socket path; never a credential."""
        return self.host if self.unix_socket else f"{self.host}:{self.port}"


def client_for(
    protocol: str,
    security: str,
    host: str,
    *,
    local_hostname: str | None = None,
    timeout: float | None = None,
    timeouts: Timeouts | None = None,
    context: ssl.SSLContext | None = None,
) -> SMTP:
    """The unconnected blocking client a protocol, security mode and host call for (a
    ``host`` starting with ``/`` is a Unix socket path, which ``SMTP`` and ``LMTP`` take)."""
    name = local_hostname
    if protocol == "lmtp":
        return LMTP(local_hostname=name, timeout=timeout, timeouts=timeouts)
    if security == "tls":
        return SMTP_SSL(local_hostname=name, timeout=timeout, context=context, timeouts=timeouts)
    return SMTP(local_hostname=name, timeout=timeout, timeouts=timeouts)


def open_connection(settings: ConnectionSettings, deadline: float | None = None) -> SMTP:
    """A connected, greeted (EHLO), secured and logged-in client, or an exception.

    With ``security="starttls"`` a server that does not offer STARTTLS raises
    ``SMTPNotSupportedError`` before any credential or mail is sent: no downgrade.
    A failed handshake raises (``ssl.SSLError``...) in every mode. Every wait is
    bounded by the settings' timeouts, the whole opening by their ``total`` and by
    ``deadline`` (a ``time.monotonic()`` instant).
    """
    s = settings
    smtp = client_for(
        s.protocol,
        s.security,
        s.host,
        local_hostname=s.local_hostname,
        timeout=s.timeout,
        timeouts=s.phase_timeouts,
        context=s.ssl_context,
    )
    with Opening(smtp, s, deadline) as opening:
        opening.greeted(*smtp.connect(s.host, s.port, deadline=opening.deadline))
        smtp.set_up(
            s.security, s.login, context=s.ssl_context, deadline=opening.deadline, where=s.address
        )
    return smtp


class Opening:
    """One connection a mailer (either face) is opening: the client given the settings'
    options; ``greeted`` checks the greeting; leaving the block with an error closes the
    client and, for an ``OSError``, says in its text which server and phase it was."""

    def __init__(
        self, smtp: ClientSession, settings: ConnectionSettings, deadline: float | None
    ) -> None:
        smtp.allow_insecure_auth = settings.allow_insecure_auth
        smtp.pipelining = settings.pipelining
        smtp.set_debuglevel(settings.debuglevel)
        self.smtp = smtp
        self.address = settings.address
        self.deadline = settings.deadline(deadline)  # the whole opening's
        self.phase = CONNECTING

    def greeted(self, code: int, message: bytes) -> None:
        """After ``connect``: a greeting other than 220 refuses the session."""
        if code != 220:
            raise SMTPConnectError(code, message)
        self.phase = SETTING_UP

    def __enter__(self) -> Opening:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> None:
        if error is None:
            return
        self.smtp.close()
        if isinstance(error, OSError):
            locate(error, self.address, self.phase)


CONNECTING = "connecting and reading the greeting"
SETTING_UP = "EHLO, STARTTLS, login"
#: How to trust a private CA, in each entry point's words; ``smtp-backend check`` shows why.
TRUST_A_PRIVATE_CA = (
    "if the server's certificate comes from a private CA, trust that CA: ca_file= (Mailer),"
    " ssl_cafile (Django), MAIL_CA_FILE (Flask), --ca-file (smtp-backend); run"
    " `smtp-backend check URL` to see the certificate and why it does not verify"
)


def locate(error: OSError, where: str, phase: str) -> None:
    """Say in ``error``'s text which server (``host:port``) and phase it happened in, and
    for a certificate error how to trust a private CA. Its class, errno and attributes stay
    (``except ssl.SSLCertVerificationError`` still catches it); a server's reply (an
    ``SMTPResponseException``) is left as it is, code and text."""
    if isinstance(error, SMTPResponseException) or getattr(error, "_located", False):
        return
    if isinstance(error, ssl.SSLError):
        phase = "TLS handshake" + (" after STARTTLS" if phase == SETTING_UP else "")
    context = f"{where}, {phase}"
    if isinstance(error, ssl.SSLCertVerificationError):
        context += f"; {TRUST_A_PRIVATE_CA}"
    if isinstance(error.strerror, str):  # OSError(errno, text), every ssl error
        error.strerror = f"{error.strerror} ({context})"
    elif len(error.args) == 1 and isinstance(error.args[0], str):  # TimeoutError("timed out")
        error.args = (f"{error.args[0]} ({context})",)
    elif not error.args:
        error.args = (f"{type(error).__name__} ({context})",)
    else:
        return
    error._located = True  # type: ignore[attr-defined]  # a retried error is told once


class ConnectionFactory:
    """Opens connections with ``settings``; the first one's local host name is kept.

    The name lookup behind a default ``local_hostname`` (``getfqdn``) can take seconds,
    so it is done once, not per connection.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def __call__(self, deadline: float | None = None) -> SMTP:
        settings = self.settings
        smtp = open_connection(settings, deadline)
        if settings.local_hostname is None:
            with self._lock:
                self.settings = dataclasses.replace(
                    self.settings, local_hostname=smtp.local_hostname
                )
        logger.debug("opened a connection to %s", settings.address)
        return smtp
