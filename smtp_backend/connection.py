"""How a Mailer opens one connection ready for mail: connect, TLS as configured, log in."""

from __future__ import annotations

import dataclasses
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import LMTP, LMTP_PORT, SMTP, SMTP_PORT, SMTP_SSL, SMTP_SSL_PORT
from .errors import SMTPNotSupportedError

SECURITY_MODES = ("starttls", "tls", "none")
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


def _connect(settings: ConnectionSettings) -> SMTP:
    host, port, name = settings.host, settings.port, settings.local_hostname
    timeout = settings.timeout
    if settings.protocol == "lmtp":
        return LMTP(host, port, local_hostname=name, timeout=timeout)
    if settings.security == "tls":
        return SMTP_SSL(
            host, port, local_hostname=name, timeout=timeout, context=settings.ssl_context
        )
    if settings.unix_socket:
        return UnixSMTP(host, 0, local_hostname=name, timeout=timeout)
    return SMTP(host, port, local_hostname=name, timeout=timeout)


def open_connection(settings: ConnectionSettings) -> SMTP:
    """A connected, greeted (EHLO), secured and logged-in client, or an exception.

    With ``security="starttls"`` a server that does not offer STARTTLS raises
    ``SMTPNotSupportedError`` before any credential or mail is sent: no downgrade.
    """
    smtp = _connect(settings)
    try:
        smtp.pipelining = settings.pipelining
        smtp.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise SMTPNotSupportedError(
                    f"security='starttls' but the server at {settings.address} does not offer "
                    "STARTTLS; refusing to send credentials or mail in clear text "
                    "(use security='none' only if you accept that)"
                )
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
    return smtp


class ConnectionFactory:
    """Opens connections with ``settings``; the first one's local host name is kept.

    The name lookup behind a default ``local_hostname`` (``getfqdn``) can take seconds,
    so it is done once, not per connection.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def __call__(self) -> SMTP:
        settings = self.settings
        smtp = open_connection(settings)
        if settings.local_hostname is None:
            with self._lock:
                self.settings = dataclasses.replace(
                    self.settings, local_hostname=smtp.local_hostname
                )
        logger.debug("opened a connection to %s", settings.address)
        return smtp
