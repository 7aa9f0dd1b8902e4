"""Opening a session ready for mail, once for both drivers: the security modes, the
well-known ports, and the plan run after the greeting (EHLO, STARTTLS as the mode
says, EHLO again, login).

``SMTP`` (blocking) and ``AsyncSMTP`` follow :func:`set_up` with their own I/O; the
Mailer and AsyncMailer reach it through the drivers' ``set_up`` method.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..errors import SMTPNotSupportedError
from .plans import GREET
from .session import ClientSession
from .steps import Call, Plan

SMTP_PORT = 25
SUBMISSION_PORT = 587  # RFC 6409
SMTP_SSL_PORT = 465  # RFC 8314
LMTP_PORT = 2003  # smtplib's LMTP_PORT

STARTTLS = "starttls"  # STARTTLS, refused when the server does not offer it
TLS = "tls"  # TLS from the first byte
NONE = "none"  # clear text
OPPORTUNISTIC = "starttls-opportunistic"  # STARTTLS when offered, clear text otherwise
SECURITY_MODES = (STARTTLS, TLS, NONE, OPPORTUNISTIC)
PROTOCOLS = ("smtp", "lmtp")

# smtplib's text (Django's tests and users match on it), then why and what to do.
STARTTLS_MISSING = "STARTTLS extension not supported by server."

logger = logging.getLogger("smtp_backend")


def default_port(security: str, protocol: str = "smtp") -> int:
    """465 for implicit TLS, 587 for STARTTLS, 25 for plain SMTP, smtplib's LMTP port."""
    if protocol == "lmtp":
        return LMTP_PORT
    return {TLS: SMTP_SSL_PORT, STARTTLS: SUBMISSION_PORT}.get(security, SMTP_PORT)


def security_mode(*, implicit_tls: bool, starttls: bool | None) -> str:
    """The mode of aiosmtplib-style flags: ``starttls`` None is opportunistic."""
    if implicit_tls:
        return TLS
    if starttls is None:
        return OPPORTUNISTIC
    return STARTTLS if starttls else NONE


@dataclass(frozen=True)
class Login:
    """Credentials for :func:`set_up`: a password, or an OAuth 2 access token."""

    username: str
    secret: str = field(repr=False)
    oauth: bool = False


def wants_starttls(session: ClientSession, security: str, where: str) -> bool:
    """Whether to STARTTLS now; raises when required and not offered (no silent downgrade)."""
    if security not in (STARTTLS, OPPORTUNISTIC):
        return False
    if session.has_extn("starttls"):
        return True
    if security == OPPORTUNISTIC:
        logger.info("%s does not offer STARTTLS; sending in clear text", where)
        return False
    raise SMTPNotSupportedError(
        f"{STARTTLS_MISSING} The server at {where} does not offer STARTTLS and "
        "security='starttls': refusing to send credentials or mail in clear text "
        f"(use security='{OPPORTUNISTIC}' or 'none' only if you accept that)"
    )


def set_up(
    session: ClientSession,
    security: str,
    where: str,
    login: Login | None = None,
    tls_context: Any = None,
) -> Plan[None]:
    """After the greeting: EHLO (HELO), STARTTLS as ``security`` says, EHLO again, login."""
    if security not in SECURITY_MODES:
        raise ValueError(f"security must be one of {SECURITY_MODES}, not {security!r}")
    yield GREET
    if wants_starttls(session, security, where):
        yield Call("starttls", (), {"context": tls_context})
        yield GREET
    if login is not None:
        if login.oauth:
            yield Call("login_oauth2", (login.username, login.secret))
        else:
            yield Call("login", (login.username, login.secret))
