"""How a Mailer opens one connection ready for mail: connect, TLS as configured, log in."""

from __future__ import annotations

import dataclasses
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import LMTP, LMTP_PORT, SMTP, SMTP_PORT, SMTP_SSL, SMTP_SSL_PORT
from .errors import SMTPConnectError, SMTPNotSupportedError
from .timeouts import DEFAULT_TIMEOUTS, Timeouts

OPPORTUNISTIC = "starttls-opportunistic"  # STARTTLS when offered, clear text otherwise
SECURITY_MODES = ("starttls", "tls", "none", OPPORTUNISTIC)
PROTOCOLS = ("smtp", "lmtp")
SUBMISSION_PORT = 587
DEFAULT_TIMEOUT = 30.0

TokenSource = str | Callable[[], str]

logger = logging.getLogger("smtp_backend.mailer")


def default_port(security: str, protocol: str) -> int:
    """465 for implicit TLS, 587 for STARTTLS, 25 for plain SMTP, smtplib's LMTP port."""
    if protocol == "lmtp":
        return LMTP_PORT
    return {"tls": SMTP_SSL_PORT, "starttls": SUBMISSION_PORT}.get(security, SMTP_PORT)


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
    timeout: float | None = DEFAULT_TIMEOUT
    local_hostname: str | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    pipelining: bool = True
    timeouts: Timeouts | None = None  # per phase; None: ``timeout`` for every phase
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

    @property
    def phase_timeouts(self) -> Timeouts:
        """``timeouts``, else ``timeout`` for every phase with the default whole-send total."""
        if self.timeouts is not None:
            return self.timeouts
        total = DEFAULT_TIMEOUTS.total if self.timeout is not None else None
        return Timeouts.every(self.timeout, total=total)

    @property
    def unix_socket(self) -> bool:
        return self.host.startswith("/")

    @property
    def address(self) -> str:
        """For messages and logs: ``host:port`` or the socket path; never a credential."""
        return self.host if self.unix_socket else f"{self.host}:{self.port}"


class UnixSMTP(SMTP):
    """SMTP over a Unix domain socket; ``host`` is the socket's path, the port is ignored."""

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            sock.connect(host)
        except BaseException:
            sock.close()
            raise
        return sock


def tls_context(
    ssl_context: ssl.SSLContext | None,
    ca_file: str | None,
    dangerously_skip_tls_verify: bool,
    *,
    where: str,
) -> ssl.SSLContext:
    """The one context a Mailer's connections share: verifying unless told otherwise, loudly."""
    if ssl_context is not None:
        if ca_file is not None or dangerously_skip_tls_verify:
            raise ValueError("give ssl_context, or ca_file / dangerously_skip_tls_verify, not both")
        return ssl_context
    context = ssl.create_default_context(cafile=ca_file)
    if dangerously_skip_tls_verify:
        logger.warning(
            "TLS certificate and host name verification is DISABLED for %s: anyone on the "
            "path can read the mail and the credentials (dangerously_skip_tls_verify=True)",
            where,
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _client(settings: ConnectionSettings) -> SMTP:
    """An unconnected client for ``settings`` (connected by ``open_connection``)."""
    name, timeout, timeouts = settings.local_hostname, settings.timeout, settings.phase_timeouts
    if settings.protocol == "lmtp":
        return LMTP(local_hostname=name, timeout=timeout, timeouts=timeouts)
    if settings.security == "tls":
        return SMTP_SSL(
            local_hostname=name, timeout=timeout, context=settings.ssl_context, timeouts=timeouts
        )
    if settings.unix_socket:
        return UnixSMTP(local_hostname=name, timeout=timeout, timeouts=timeouts)
    return SMTP(local_hostname=name, timeout=timeout, timeouts=timeouts)


def _require_starttls(smtp: SMTP, settings: ConnectionSettings) -> bool:
    """Whether to STARTTLS; raises when required and not offered (no silent downgrade)."""
    if settings.security not in ("starttls", OPPORTUNISTIC):
        return False
    if smtp.has_extn("starttls"):
        return True
    if settings.security == OPPORTUNISTIC:
        logger.info("%s does not offer STARTTLS; sending in clear text", settings.address)
        return False
    raise SMTPNotSupportedError(
        f"security='starttls' but the server at {settings.address} does not offer "
        "STARTTLS; refusing to send credentials or mail in clear text "
        f"(use security='{OPPORTUNISTIC}' or 'none' only if you accept that)"
    )


def open_connection(settings: ConnectionSettings, deadline: float | None = None) -> SMTP:
    """A connected, greeted (EHLO), secured and logged-in client, or an exception.

    With ``security="starttls"`` a server that does not offer STARTTLS raises
    ``SMTPNotSupportedError`` before any credential or mail is sent: no downgrade.
    A failed handshake raises (``ssl.SSLError``...) in every mode. Every wait is
    bounded by the settings' timeouts, the whole opening by their ``total`` and by
    ``deadline`` (a ``time.monotonic()`` instant).
    """
    smtp = _client(settings)
    smtp.allow_insecure_auth = settings.allow_insecure_auth
    smtp.set_debuglevel(settings.debuglevel)
    total = settings.phase_timeouts.total
    limits = [] if deadline is None else [deadline]
    if total is not None:
        limits.append(time.monotonic() + total)
    smtp.deadline = min(limits, default=None)
    try:
        code, message = smtp.connect(settings.host, settings.port)
        if code != 220:
            raise SMTPConnectError(code, message)
        smtp.pipelining = settings.pipelining
        smtp.ehlo_or_helo_if_needed()
        if _require_starttls(smtp, settings):
            smtp.starttls(context=settings.ssl_context)
            smtp.ehlo_or_helo_if_needed()
        if settings.username:
            if settings.oauth_token is not None:
                token = settings.oauth_token
                smtp.login_oauth2(settings.username, token() if callable(token) else token)
            else:
                smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    smtp.deadline = None
    return smtp


class ConnectionFactory:
    """Opens connections with ``settings``; the first one's local host name is kept.

    The name lookup behind a default ``local_hostname`` (``getfqdn``) can take seconds,
    so it is done once, not per connection.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._deadlines = threading.local()  # the calling thread's send deadline, if any

    def set_deadline(self, deadline: float | None) -> None:
        """Bound connections this thread opens from now on (``time.monotonic()``; None: none)."""
        self._deadlines.value = deadline

    def __call__(self) -> SMTP:
        settings = self.settings
        smtp = open_connection(settings, getattr(self._deadlines, "value", None))
        if settings.local_hostname is None:
            with self._lock:
                self.settings = dataclasses.replace(
                    self.settings, local_hostname=smtp.local_hostname
                )
        logger.debug("opened a connection to %s", settings.address)
        return smtp
