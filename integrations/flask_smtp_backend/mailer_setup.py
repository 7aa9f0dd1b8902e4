"""An app's ``MAIL_*`` settings -> its ``Mailer`` (sending, or capturing when suppressed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smtp_backend.mailer import Mailer

if TYPE_CHECKING:
    from .state import MailState


def capturing_mailer() -> Mailer:
    """A Mailer that records instead of sending (``MAIL_SUPPRESS_SEND``)."""
    return Mailer(capture=True)


def sending_mailer(state: MailState) -> Mailer:
    """The app's pooled Mailer, from ``MAIL_URL`` or from Flask-Mail's keys."""
    settings = state.settings
    options: dict[str, Any] = {
        # MAIL_DEBUG: smtplib's transcript on stderr for each connection, as in Flask-Mail
        "debuglevel": int(state.debug) or None,
        "allow_insecure_auth": settings.allow_insecure_auth or None,
        "timeout": settings.timeout,
        "pool_size": settings.pool_size,
        "max_messages_per_connection": state.max_emails,
        "rate_limit": settings.rate_limit,
        "retries": settings.retries,
    }
    if settings.ca_file or not settings.verify_tls:
        options["ssl_context"] = settings.ssl_context()
    options = {name: value for name, value in options.items() if value is not None}
    if settings.url:
        return Mailer.from_url(settings.url, **options)
    return Mailer(
        state.server,
        state.port,
        security="tls" if state.use_ssl else "starttls" if state.use_tls else "none",
        **_credentials(state),
        **options,
    )


def _credentials(state: MailState) -> dict[str, Any]:
    """Flask-Mail logs in only with both a user name and a password; a token also counts."""
    token = state.settings.oauth_token
    if not state.username:
        return {}
    if token:
        return {"username": state.username, "oauth_token": token}
    if state.password:
        return {"username": state.username, "password": state.password}
    return {}
