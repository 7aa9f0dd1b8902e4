"""``EmailBackend``: a drop-in for ``django.core.mail.backends.smtp.EmailBackend``.

Same keywords, settings, attributes, return values and exceptions as Django's; the
messages of one ``send_messages`` call go to a Mailer shared per configuration in one
pipelined batch, over connections reused across calls, requests and threads.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.dispatch import Signal
from django.utils.functional import cached_property

from smtp_backend import SMTP, Envelope, Mailer, SendResult

from .config import classic_config, mailers_config
from .envelopes import django_envelope, prep_address
from .outbox import append_to_outbox
from .outcomes import failure, sendmail_result
from .shared import shared_async_mailer, shared_mailer, ssl_context
from .signals import CancelSend, post_send, pre_send, pre_send_allows

try:  # Django 6.1+: building a backend outside mail.mailers is deprecated
    from django.utils.deprecation import RemovedInDjango2028Warning, warn_about_external_use
except ImportError:  # older Djangos have nothing to warn about
    RemovedInDjango2028Warning = None

Batch = list[tuple[Any, Envelope]]


class EmailBackend(BaseEmailBackend):
    """Django's SMTP backend contract over a pooled, pipelining ``Mailer``.

    Beyond Django's keywords (or ``MAILERS`` OPTIONS, or classic ``SMTP_BACKEND_OPTIONS``):
    ``ssl_cafile`` (trust this CA file instead of the system's), ``pool_size``,
    ``max_messages_per_connection``, ``idle_timeout``, ``pipelining``, ``retries``,
    ``rate_limit``, ``oauth_token`` (a token, a callable or a dotted path to one),
    ``url`` (``Mailer.from_url``), ``capture`` (record into ``django.core.mail.outbox``
    instead of sending), ``allow_insecure_auth`` (log in over clear text to a host that is
    not loopback) and ``smtputf8`` (send non-ASCII local parts with SMTPUTF8; Django
    refuses them).

    ``connection`` is, while the backend is open, the pooled connection lent to it (an
    smtplib-compatible ``smtp_backend.SMTP``); ``close()`` gives it back to the pool.
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
        smtputf8: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if "alias" not in kwargs and RemovedInDjango2028Warning is not None:
            warn_about_external_use(
                "Directly creating EmailBackend instances is deprecated. Use mail.mailers instead.",
                RemovedInDjango2028Warning,
            )
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
            "smtputf8": smtputf8,
        }
        if self.alias is None:
            self.config = classic_config(django_options, extra)
        else:
            self.config = mailers_config(django_options, extra, self.alias)
        #: The open connection (Django's attribute): lent by the Mailer's pool, or one
        #: a caller put here instead, which is then used as Django's backend uses it.
        self.connection: Any = None
        # Django keeps a connection whose set-up failed here; a Mailer closes it at once.
        self._partial_connection = None
        self._lease: tuple[contextlib.ExitStack, SMTP] | None = None
        self._lock = threading.RLock()
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

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context equal to the one this backend's connections use (Django's name)."""
        return ssl_context(self.config)

    @property
    def mailer(self) -> Mailer:
        """The Mailer this backend sends through, shared by every backend of its config."""
        return shared_mailer(self.config)

    @property
    def last_results(self) -> list[SendResult]:
        """This thread's results of its last ``send_messages`` call, one per message sent
        to the Mailer (messages without recipients or cancelled by ``pre_send`` have none)."""
        return getattr(self._local, "results", [])

    def prep_address(self, address: Any, force_ascii: bool = True) -> str:
        """Django 6.1's: the addr-spec of ``address`` for the envelope; ``ValueError`` when
        invalid. ``force_ascii``: IDNA-encode a non-ASCII domain, refuse a non-ASCII local part."""
        return prep_address(address, force_ascii)

    def open(self) -> bool | None:
        """Borrow a ready connection from the shared Mailer's pool into ``connection``:
        True when this call did, False when already open (Django's meaning).

        As Django's: a connection error (``OSError``: refused, TLS, ``SMTPException``
        for a refused login) is raised, or with ``fail_silently`` ignored (None returned).
        While capturing nothing is opened (True).
        """
        if self.connection:
            return False
        if self._capturing():
            return True
        lease = contextlib.ExitStack()
        try:
            connection = lease.enter_context(self.mailer.lend())
        except OSError:
            if not self.fail_silently:
                raise
            return None
        self._lease = (lease, connection)
        self.connection = connection
        return True

    def close(self) -> None:
        """Give the connection back to the pool: kept open there when it has room.

        A connection put in ``connection`` by a caller is closed as Django closes it.
        """
        connection, self.connection = self.connection, None
        lease, self._lease = self._lease, None
        if lease is not None:
            lease[0].close()
        if connection is not None and (lease is None or connection is not lease[1]):
            self._quit_as_django_does(connection)

    def _quit_as_django_does(self, connection: Any) -> None:
        try:
            connection.quit()
        except (ssl.SSLError, smtplib.SMTPServerDisconnected):
            connection.close()
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        """Send the messages in one batch; return how many the server accepted.

        As Django's backend: a message without recipients is skipped; an invalid address
        raises ``ValueError`` (here before anything is sent); an SMTP or connection error
        (``OSError``) is raised unless ``fail_silently``. A backend that is not open sends
        through the shared Mailer's pool without holding a connection (as if ``open()``
        and ``close()`` ran around the call); an open one stays open. All are attempted
        before the first failed message's exception is raised, with ``results`` (one
        ``SendResult`` per message handed to the server) and ``messages`` (those
        messages) on it; ``last_results`` and the ``post_send`` signal have them too.
        """
        self._local.results = []
        if not email_messages:
            return 0
        with self._lock:
            batch = [
                (message, envelope)
                for message in email_messages
                if pre_send_allows(self, message)
                and (envelope := self._envelope(message)) is not None
            ]
            if not batch:
                return 0
            if self.connection is None:  # not open: straight to the pool, nothing held
                return self._finish(batch, self._send(batch))
            if self.open() is None:  # Django's check, for an open() that fails silently
                return 0
            return self._finish(batch, self._send_open(batch))

    def _envelope(self, message: Any) -> Envelope | None:
        return django_envelope(message, self.prep_address, smtputf8=self.config.smtputf8)

    def _send_open(self, batch: Batch) -> list[SendResult]:
        """Send while open: through the Mailer (the lent connection back in the pool
        meanwhile, so the batch may use all of it), or over a connection a caller put in
        place, or whose ``sendmail`` a caller replaced, as Django's backend would."""
        lease, connection = self._lease, self.connection
        if lease is None or connection is not lease[1] or "sendmail" in vars(connection):
            return self._send_over(connection, batch)
        self.close()
        try:
            return self._send(batch)
        finally:
            with contextlib.suppress(OSError):  # sent already: the next call will say
                self.open()

    def _send_over(self, connection: Any, batch: Batch) -> list[SendResult]:
        """Django's way: ``connection.sendmail()`` per message; the first error raised."""
        results = []
        for index, (_, envelope) in enumerate(batch):
            try:
                refused = connection.sendmail(
                    envelope.sender, list(envelope.recipients), envelope.data
                )
            except smtplib.SMTPException as error:
                if not self.fail_silently:
                    raise
                results.append(sendmail_result(index, envelope, error=error))
            else:
                results.append(sendmail_result(index, envelope, refused or {}))
        self._local.results = results
        return results

    async def asend_messages(self, email_messages: Sequence[Any]) -> int:
        """``send_messages`` for async code, on the event loop's shared ``AsyncMailer``:
        no I/O blocks the loop; signal receivers run as ``Signal.asend`` runs them.
        Call ``aclose_shared_mailers()`` before the event loop ends."""
        self._local.results = []
        batch = []
        for message in email_messages or ():
            if await self._apre_send(message):
                envelope = self._envelope(message)
                if envelope is not None:
                    batch.append((message, envelope))
        if not batch:
            return 0
        try:
            if self._capturing():  # capture never does I/O: the blocking Mailer's is fine
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
        return self._count(batch, results)

    async def _apre_send(self, message: Any) -> bool:
        try:
            await _asend(pre_send, sender=type(self), message=message, backend=self)
        except CancelSend:
            return False
        return True

    def _send(self, batch: Batch) -> list[SendResult]:
        """Through the shared Mailer; a connection error is raised unless ``fail_silently``."""
        envelopes = [envelope for _, envelope in batch]
        try:
            if not self._capturing():
                results = self.mailer.send(envelopes)
            else:
                results = self._capture(batch, envelopes)
        except OSError:  # no connection could be opened (smtplib.SMTPException included)
            if not self.fail_silently:
                raise
            results = []
        self._local.results = results
        return results

    def _capturing(self) -> bool:
        """``capture=True``, or every Mailer is capturing (the pytest plugin's smtp_outbox):
        either way the messages go to ``mail.outbox`` too."""
        return self.config.capture or self.mailer.capturing

    def _capture(self, batch: Batch, envelopes: list[Envelope]) -> list[SendResult]:
        with self.mailer.capture() as captured:
            results = self.mailer.send(envelopes)
        # Other threads' messages may be in this outbox too: ours are found by identity.
        records = {id(record.message): record for record in captured}
        for (message, envelope), result in zip(batch, results, strict=True):
            if result.ok:
                append_to_outbox(message, records[id(envelope)], self)
        return results

    def _finish(self, batch: Batch, results: list[SendResult]) -> int:
        for (message, _), result in zip(batch, results, strict=False):
            post_send.send(sender=type(self), message=message, result=result, backend=self)
        return self._count(batch, results)

    def _count(self, batch: Batch, results: list[SendResult]) -> int:
        """How many were sent; the first failure raised unless ``fail_silently`` covers it."""
        error = failure(results, [message for message, _ in batch[: len(results)]])
        if error is not None and not (self.fail_silently and isinstance(error, OSError)):
            raise error
        return sum(result.ok for result in results)


async def _asend(signal: Signal, **named: Any) -> None:
    """``Signal.asend`` (Django 5.0+: sync receivers run in a thread), else ``send``."""
    if hasattr(signal, "asend"):
        await signal.asend(**named)
    else:
        signal.send(**named)
