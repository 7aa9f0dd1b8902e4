"""One Mailer per configuration in the process, so connections outlive a request.

Keyed by the whole ``MailerConfig`` (credentials included): two configurations never
share a Mailer, and every backend built from the same settings shares one. The
Mailer closes its connections at interpreter exit and after a fork. An AsyncMailer's
connections belong to one event loop, so those are shared per configuration per loop.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import weakref
from typing import Any

from django.core.mail.utils import DNS_NAME

from smtp_backend import AsyncMailer, Mailer

from .config import MailerConfig

_lock = threading.Lock()
_mailers: dict[MailerConfig, Mailer] = {}
_async_mailers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[MailerConfig, AsyncMailer]
] = weakref.WeakKeyDictionary()


def ssl_context(config: MailerConfig) -> ssl.SSLContext:
    """Verifying, like ``ssl.create_default_context()``: system CAs, or ``ssl_cafile``'s
    alone when given; the client certificate when ``ssl_certfile`` is set."""
    if not (config.ssl_certfile or config.ssl_keyfile):
        return ssl.create_default_context(cafile=config.ssl_cafile)
    # Built as Django's backend builds it (its tests check how), with the CAs it forgets.
    context = ssl.SSLContext(protocol=ssl.PROTOCOL_TLS_CLIENT)
    if config.ssl_cafile:
        context.load_verify_locations(cafile=config.ssl_cafile)
    else:
        context.load_default_certs()
    context.load_cert_chain(config.ssl_certfile or "", config.ssl_keyfile)
    return context


def _mailer_options(config: MailerConfig) -> tuple[str | None, dict[str, Any]]:
    """``config`` as (url, keyword arguments) for ``Mailer`` or ``AsyncMailer``."""
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
    if config.allow_insecure_auth:
        options["allow_insecure_auth"] = True
    if config.capture:
        pass  # a capturing Mailer never connects: no certificate files to read
    elif config.ssl_certfile or config.ssl_keyfile:
        options["ssl_context"] = ssl_context(config)
    elif config.ssl_cafile:
        options["ca_file"] = config.ssl_cafile  # the Mailer builds its context only for TLS
    if config.url is not None:
        return config.url, options
    # As Django: log in only with a username and a password (or here, a token).
    if config.username and config.oauth_token is not None:
        options.update(username=config.username, oauth_token=config.oauth_token)
    elif config.username and config.password:
        options.update(username=config.username, password=config.password)
    options.update(host=config.host or "localhost", port=config.port, security=config.security)
    return None, options


def build_mailer(config: MailerConfig) -> Mailer:
    """A new Mailer for ``config``: from its ``url``, or from host, port and security."""
    url, options = _mailer_options(config)
    return Mailer(**options) if url is None else Mailer.from_url(url, **options)


def build_async_mailer(config: MailerConfig) -> AsyncMailer:
    """A new AsyncMailer for ``config``, as ``build_mailer``."""
    url, options = _mailer_options(config)
    return AsyncMailer(**options) if url is None else AsyncMailer.from_url(url, **options)


def shared_mailer(config: MailerConfig) -> Mailer:
    """The process's Mailer for ``config``, built on first use."""
    with _lock:
        mailer = _mailers.get(config)
        if mailer is None:
            mailer = _mailers[config] = build_mailer(config)
        return mailer


def shared_async_mailer(config: MailerConfig) -> AsyncMailer:
    """The running event loop's AsyncMailer for ``config``, built on first use."""
    loop = asyncio.get_running_loop()
    with _lock:
        mailers = _async_mailers.setdefault(loop, {})
        mailer = mailers.get(config)
        if mailer is None:
            mailer = mailers[config] = build_async_mailer(config)
        return mailer


def close_shared_mailers() -> None:
    """Close every shared Mailer's connections and forget them (tests, reconfiguration)."""
    with _lock:
        mailers = list(_mailers.values())
        _mailers.clear()
    for mailer in mailers:
        mailer.close()


async def aclose_shared_mailers() -> None:
    """Close and forget the running event loop's AsyncMailers (before the loop ends)."""
    with _lock:
        mailers = list(_async_mailers.pop(asyncio.get_running_loop(), {}).values())
    for mailer in mailers:
        await mailer.aclose()
