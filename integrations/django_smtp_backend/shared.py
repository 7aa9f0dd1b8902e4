"""One Mailer per configuration in the process, so connections outlive a request.

Keyed by the whole ``MailerConfig`` (credentials included): two configurations never
share a Mailer, and every backend built from the same settings shares one. The
Mailer closes its connections at interpreter exit and after a fork.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

from django.core.mail.utils import DNS_NAME

from smtp_backend.mailer import Mailer

from .config import MailerConfig

_lock = threading.Lock()
_mailers: dict[MailerConfig, Mailer] = {}


def ssl_context(config: MailerConfig) -> ssl.SSLContext:
    """Verifying, like ``ssl.create_default_context()``: system CAs, or ``ssl_cafile``'s
    alone when given; the client certificate when ``ssl_certfile`` is set."""
    context = ssl.create_default_context(cafile=config.ssl_cafile)
    if config.ssl_certfile or config.ssl_keyfile:
        context.load_cert_chain(config.ssl_certfile or "", config.ssl_keyfile)
    return context


def build_mailer(config: MailerConfig) -> Mailer:
    """A new Mailer for ``config``: from its ``url``, or from host, port and security."""
    options: dict[str, Any] = {
        name: value
        for name, value in (
            ("timeout", config.timeout),
            ("pool_size", config.pool_size),
            ("max_messages_per_connection", config.max_messages_per_connection),
            ("idle_timeout", config.idle_timeout),
            ("retries", config.retries),
            ("rate_limit", config.rate_limit),
        )
        if value is not None
    }
    # EHLO with Django's cached host name, as its backend: no name lookup per Mailer.
    options["local_hostname"] = DNS_NAME.get_fqdn()
    if not config.pipelining:
        options["pipelining"] = False
    if not config.capture:  # a capturing Mailer never connects: no certificate files to read
        options["ssl_context"] = ssl_context(config)
    if config.url is not None:
        return Mailer.from_url(config.url, **options)
    # As Django: log in only with a username and a password (or here, a token).
    if config.username and config.oauth_token is not None:
        options.update(username=config.username, oauth_token=config.oauth_token)
    elif config.username and config.password:
        options.update(username=config.username, password=config.password)
    return Mailer(config.host or "localhost", config.port, security=config.security, **options)


def shared_mailer(config: MailerConfig) -> Mailer:
    """The process's Mailer for ``config``, built on first use."""
    with _lock:
        mailer = _mailers.get(config)
        if mailer is None:
            mailer = _mailers[config] = build_mailer(config)
        return mailer


def close_shared_mailers() -> None:
    """Close every shared Mailer's connections and forget them (tests, reconfiguration)."""
    with _lock:
        mailers = list(_mailers.values())
        _mailers.clear()
    for mailer in mailers:
        mailer.close()
