"""``EmailBackend``: a drop-in for ``django.core.mail.backends.smtp.EmailBackend``.

Same keywords, settings, return values and exceptions as Django's; the messages of
one ``send_messages`` call go to a Mailer shared per configuration in one pipelined
batch, over connections reused across calls, requests and threads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.dispatch import Signal

from smtp_backend import Envelope, Mailer, SendResult

from .config import classic_config, mailers_config
from .envelopes import django_envelope
from .outbox import append_to_outbox
from .shared import shared_async_mailer, shared_mailer
from .signals import CancelSend, post_send, pre_send, pre_send_allows


class EmailBackend(BaseEmailBackend):
    """Django's SMTP backend contract over a pooled, pipelining ``Mailer``.

    Beyond Django's keywords (or ``MAILERS`` OPTIONS): ``ssl_cafile`` (trust this CA
    file instead of the system's), ``pool_size``, ``max_messages_per_connection``,
    ``idle_timeout``, ``pipelining``, ``retries``, ``rate_limit``, ``oauth_token``
    (a token, a callable or a dotted path to one), ``url`` (``Mailer.from_url``),
    ``capture`` (record into ``django.core.mail.outbox`` instead of sending) and
    ``allow_insecure_auth`` (log in over clear text to a host that is not loopback).
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool | None = None,
        fail_silently: bool = False,
        use_ssl: bool | None = None,
        timeout: float | None = None,
        ssl_keyfile: str | None = None,
        ssl_certfile: str | None = None,
        *,
        ssl_cafile: str | None = None,
        pool_size: int | None = None,
        max_messages_per_connection: int | None = None,
        idle_timeout: float | None = None,
        pipelining: bool | None = None,
        retries: int | None = None,
        rate_limit: float | None = None,
        oauth_token: Any = None,
        url: str | None = None,
        capture: bool | None = None,
        allow_insecure_auth: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # Django 6.1: ``alias`` and any unknown option go to the base class, which
        # rejects unknown MAILERS OPTIONS; older Djangos ignore them, as their backend.
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        self.alias: str | None = kwargs.get("alias")
        django_options = {
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": timeout,
            "ssl_keyfile": ssl_keyfile,
            "ssl_certfile": ssl_certfile,
        }
        extra = {
            "ssl_cafile": ssl_cafile,
            "pool_size": pool_size,
            "max_messages_per_connection": max_messages_per_connection,
            "idle_timeout": idle_timeout,
            "pipelining": pipelining,
            "retries": retries,
            "rate_limit": rate_limit,
            "oauth_token": oauth_token,
            "url": url,
            "capture": capture,
            "allow_insecure_auth": allow_insecure_auth,
        }
        if self.alias is None:
            self.config = classic_config(django_options, extra)
        else:
            self.config = mailers_config(django_options, extra, self.alias)
        self._mailer: Mailer | None = None
        self._local = threading.local()

    # Django's attributes, read by code that inspects a backend.
    host = property(lambda self: self.config.host)
    port = property(lambda self: self.config.port)
    username = property(lambda self: self.config.username)
    password = property(lambda self: self.config.password)
    use_tls = property(lambda self: self.config.use_tls)
    use_ssl = property(lambda self: self.config.use_ssl)
    timeout = property(lambda self: self.config.timeout)
    ssl_keyfile = property(lambda self: self.config.ssl_keyfile)
    ssl_certfile = property(lambda self: self.config.ssl_certfile)

    @property
    def mailer(self) -> Mailer:
        """The Mailer this backend sends through, shared by every backend of its config."""
        return self._mailer if self._mailer is not None else shared_mailer(self.config)

    @property
    def last_results(self) -> list[SendResult]:
        """This thread's results of its last ``send_messages`` call, one per message sent
        to the Mailer (messages without recipients or cancelled by ``pre_send`` have none)."""
        return getattr(self._local, "results", [])

    def open(self) -> bool | None:
        """Take hold of the shared Mailer with one connection ready; True when this call
        did, False when already open (Django's meaning).

        As Django's: a connection error (``OSError``: refused, TLS, ``SMTPException``
        for a refused login) is raised, or with ``fail_silently`` ignored (None returned).
        The connection goes back to the Mailer's pool, for this backend's sends.
        """
        if self._mailer is not None:
            return False
        mailer = shared_mailer(self.config)
        try:
            mailer.open()
        except OSError:
            if not self.fail_silently:
                raise
            return None
        self._mailer = mailer
        return True

    def close(self) -> None:
        """Let go of the Mailer; its connections stay pooled for the next caller."""
        self._mailer = None

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        """Send the messages in one batch; return how many the server accepted.

        As Django's backend: a message without recipients is skipped; an invalid address
        raises ``ValueError``; an SMTP or connection error (``OSError``) is raised unless
        ``fail_silently``. Here all messages are attempted before the first message's
        error is raised; ``last_results`` holds every outcome.
        """
        self._local.results = []
        batch = [
            (message, envelope)
            for message in email_messages or ()
            if pre_send_allows(self, message) and (envelope := django_envelope(message)) is not None
        ]
        if not batch:
            return 0
        try:
            results = self._send(batch)
        except OSError:  # no connection could be opened (smtplib.SMTPException included)
            if self.fail_silently:
                return 0
            raise
        for (message, _), result in zip(batch, results, strict=True):
            post_send.send(sender=type(self), message=message, result=result, backend=self)
        return self._count(results)

    async def asend_messages(self, email_messages: Sequence[Any]) -> int:
        """``send_messages`` for async code, on the event loop's shared ``AsyncMailer``:
        no I/O blocks the loop; signal receivers run as ``Signal.asend`` runs them."""
        self._local.results = []
        batch = []
        for message in email_messages or ():
            if await self._apre_send(message):
                envelope = django_envelope(message)
                if envelope is not None:
                    batch.append((message, envelope))
        if not batch:
            return 0
        try:
            if self.config.capture:  # capture never does I/O: the blocking Mailer's is fine
                results = self._send(batch)
            else:
                mailer = shared_async_mailer(self.config)
                results = await mailer.send([envelope for _, envelope in batch])
        except OSError:
            if self.fail_silently:
                return 0
            raise
        self._local.results = results
        for (message, _), result in zip(batch, results, strict=True):
            await _asend(post_send, sender=type(self), message=message, result=result, backend=self)
        return self._count(results)

    async def _apre_send(self, message: Any) -> bool:
        try:
            await _asend(pre_send, sender=type(self), message=message, backend=self)
        except CancelSend:
            return False
        return True

    def _send(self, batch: list[tuple[Any, Envelope]]) -> list[SendResult]:
        envelopes = [envelope for _, envelope in batch]
        if not self.config.capture:
            results = self.mailer.send(envelopes)
        else:
            with self.mailer.capture() as captured:
                results = self.mailer.send(envelopes)
            # Other threads' messages may be in this outbox too: ours are found by identity.
            records = {id(record.message): record for record in captured}
            for (message, envelope), result in zip(batch, results, strict=True):
                if result.ok:
                    append_to_outbox(message, records[id(envelope)], self)
        self._local.results = results
        return results

    def _count(self, results: list[SendResult]) -> int:
        """How many were sent; the first failure raised unless ``fail_silently`` covers it."""
        errors = [error for result in results if (error := result.exception()) is not None]
        if errors and not (self.fail_silently and isinstance(errors[0], OSError)):
            raise errors[0]
        return len(results) - len(errors)


async def _asend(signal: Signal, **named: Any) -> None:
    """``Signal.asend`` (Django 5.0+: sync receivers run in a thread), else ``send``."""
    if hasattr(signal, "asend"):
        await signal.asend(**named)
    else:
        signal.send(**named)
