"""The knobs of the recording SMTP server and the fixed test credentials."""

from __future__ import annotations

from dataclasses import dataclass

AUTH_USER = "alice@example.test"
AUTH_PASSWORD = "correct horse battery staple"
OAUTH_TOKEN = "ya29.test-access-token"

TLS_MODES = (None, "starttls", "implicit")


@dataclass(frozen=True)
class SMTPServerOptions:
    """What the server offers. ``auth_required`` defaults to ``auth``."""

    tls: str | None = None  # None, "starttls" (advertised) or "implicit" (TLS from the first byte)
    require_starttls: bool = False  # with tls="starttls": refuse mail commands before STARTTLS
    auth: bool = False  # advertise AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER
    auth_required: bool | None = None
    smtputf8: bool = True
    pipelining: bool = True
    chunking: bool = False
    size_limit: int | None = None  # advertised as SIZE and enforced when set
    hostname: str = "localhost"

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {self.tls!r}")
        if self.require_starttls and self.tls != "starttls":
            raise ValueError("require_starttls needs tls='starttls'")

    @property
    def must_authenticate(self) -> bool:
        return self.auth if self.auth_required is None else self.auth_required
