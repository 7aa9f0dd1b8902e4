"""Mailer: a pooled, thread-safe sender over the blocking client.

``Mailer.send(messages)`` returns one ``SendResult`` per message, in input order. A
large batch is split across up to ``pool_size`` connections sent in parallel
(threads); connections are kept open and reused across calls; a connection lost
before a transaction began is replaced and the transaction sent again; a message
whose fate is unknown (connection lost after its data, before the reply) is reported
UNKNOWN and never resent (RFC 1047); temporary failures are retried with bounded
exponential backoff when asked (``retries=``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.message
import logging
import math
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .capture import CapturedMessage, capture_item
from .connection import (
    DEFAULT_TIMEOUT,
    ConnectionFactory,
    ConnectionSettings,
    TokenSource,
    default_port,
    tls_context,
)
from .errors import (
    SMTPException,
    SMTPInvalidInputError,
    SMTPMessageTooLarge,
    SMTPNotSupportedError,
    SMTPServerDisconnected,
)
from .message import envelope_addresses
from .pool import ConnectionPool
from .ratelimit import TokenBucket
from .results import Envelope, MessageState, SendResult
from .timeouts import Timeouts

__all__ = ["CapturedMessage", "MailItem", "Mailer"]

logger = logging.getLogger("smtp_backend.mailer")

MailItem = Envelope | email.message.Message
BeforeSend = Callable[[MailItem], object]
AfterSend = Callable[[SendResult], object]

MIN_MESSAGES_PER_CONNECTION = 10  # a batch is split only into parts at least this large
RECONNECTS_PER_PART = 3  # fresh connections tried for messages lost before their transaction
_CONNECTION_ERRORS = (SMTPServerDisconnected, OSError)
_NEVER_RETRIED = (SMTPInvalidInputError, SMTPMessageTooLarge, SMTPNotSupportedError)


def _as_items(messages: MailItem | Iterable[MailItem]) -> list[MailItem]:
    if isinstance(messages, Envelope | email.message.Message):
        return [messages]
    if isinstance(messages, str | bytes | bytearray):
        raise TypeError("send() takes email.message.Message or Envelope objects, not a string")
    return list(messages)


def _split(items: list[tuple[int, MailItem]], parts: int) -> list[list[tuple[int, MailItem]]]:
    """``parts`` contiguous runs of nearly equal length."""
    size, extra = divmod(len(items), parts)
    runs, start = [], 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs


def _lost_before_start(result: SendResult) -> bool:
    """Never started because the connection was lost: safe to send on a new one."""
    return (
        result.state is MessageState.NOT_ATTEMPTED
        and isinstance(result.error, _CONNECTION_ERRORS)
        and not isinstance(result.error, _NEVER_RETRIED)
    )


def _temporary_failure(result: SendResult) -> bool:
    """Refused with a 4xx reply (sender, every recipient or the data): worth a later retry."""
    return (
        result.state is MessageState.REFUSED
        and result.reply is not None
        and result.reply.is_temporary
        and not isinstance(result.error, _NEVER_RETRIED)
    )


def _not_attempted(index: int, item: MailItem, error: BaseException) -> SendResult:
    """The result of an item no connection could be opened for."""
    if isinstance(item, Envelope):
        sender, recipients = item.sender, tuple(item.recipients)
    else:
        try:
            sender, recipient_list = envelope_addresses(item)
            recipients = tuple(recipient_list)
        except (ValueError, TypeError):
            sender, recipients = "", ()
    return SendResult(index, sender, recipients, MessageState.NOT_ATTEMPTED, error=error)


@dataclasses.dataclass
class _PartOutcome:
    results: dict[int, SendResult] = dataclasses.field(default_factory=dict)
    setup_error: BaseException | None = None  # a connection could not be opened
    crash: BaseException | None = None  # an unexpected exception, re-raised by send()


class Mailer:
    """Sends mail through a pool of reused connections; safe to share between threads.

    ``security``: ``"starttls"`` (default; fails if the server does not offer it,
    nothing sent), ``"tls"`` (TLS from the first byte, port 465),
    ``"starttls-opportunistic"`` (STARTTLS when offered, clear text otherwise) or
    ``"none"``. Certificates and host names are verified, against the system's CAs or
    ``ca_file``, unless ``ssl_context`` says otherwise or
    ``dangerously_skip_tls_verify=True`` (logged as a warning).

    ``timeout`` bounds every wait; ``timeouts`` (:class:`Timeouts`) sets one limit per
    phase instead. Either way ``Timeouts.total`` (default 300 s) bounds a whole
    ``send`` call: a stalled server never holds the caller longer. ``username`` with ``password``
    logs in with ``login()``; with ``oauth_token`` (a string, or a callable called for
    each new connection) with ``login_oauth2()``. ``protocol="lmtp"`` speaks LMTP;
    a ``host`` starting with ``/`` is a Unix socket path.

    ``rate_limit`` (messages a second, or a shared :class:`TokenBucket`) paces every
    thread's sends together. ``capture=True`` records every message in ``outbox`` instead of sending it (see
    :meth:`capture`). Use as a context manager, or call :meth:`close`; pooled
    connections are also closed at interpreter exit, and a forked child forgets the
    parent's (it opens its own).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        oauth_token: TokenSource | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dangerously_skip_tls_verify: bool = False,
        timeouts: Timeouts | None = None,
        pool_size: int = 4,
        max_messages_per_connection: int = 100,
        idle_timeout: float = 30.0,
        pipelining: bool = True,
        protocol: str = "smtp",
        rate_limit: float | TokenBucket | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        capture: bool = False,
        before_send: BeforeSend | None = None,
        after_send: AfterSend | None = None,
    ) -> None:
        settings = ConnectionSettings(
            host=host,
            port=default_port(security, protocol) if port is None else port,
            security=security,
            protocol=protocol,
            username=username,
            password=password,
            oauth_token=oauth_token,
            timeout=timeout,
            local_hostname=local_hostname,
            ssl_context=ssl_context,
            pipelining=pipelining,
            timeouts=timeouts,
        )
        if security != "none" or ca_file is not None or dangerously_skip_tls_verify:
            # One context for every connection: loading the CA store per connection is slow.
            context = tls_context(
                ssl_context, ca_file, dangerously_skip_tls_verify, where=settings.address
            )
            settings = dataclasses.replace(settings, ssl_context=context)
        # The pool holds the factory, not the Mailer, so a Mailer can be garbage collected.
        self._connection_factory = ConnectionFactory(settings)
        if retries < 0 or retry_delay < 0 or max_retry_delay < 0:
            raise ValueError("retries, retry_delay and max_retry_delay must not be negative")
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._pool = ConnectionPool(
            self._connection_factory,
            size=pool_size,
            max_messages=max_messages_per_connection,
            idle_timeout=idle_timeout,
        )
        # Garbage collected: close the sockets quietly (interpreter exit QUITs instead).
        weakref.finalize(self, self._pool.drop_idle).atexit = False
        self._rate_limiter = (
            TokenBucket(rate_limit) if isinstance(rate_limit, int | float) else rate_limit
        )
        self._before_send: list[BeforeSend] = []
        self._after_send: list[AfterSend] = []
        self.add_hook(before_send=before_send, after_send=after_send)
        #: Every message captured while ``capture=True`` (None otherwise).
        self.outbox: list[CapturedMessage] | None = None
        self._outboxes: list[list[CapturedMessage]] = []
        if capture:
            self.outbox = []
            self._outboxes.append(self.outbox)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Mailer:
        """A Mailer from ``smtp+starttls://user:pass@host:587?pool_size=4`` and the like.

        Schemes: ``smtp`` (no TLS), ``smtp+starttls``, ``smtps`` (implicit TLS),
        ``lmtp``, ``smtp+unix:///path`` and ``lmtp:///path`` (Unix sockets). User and
        password are percent-decoded; query keys are Mailer keyword arguments
        (``pool_size``, ``timeout``...); unknown ones raise ``ValueError``.
        Keyword ``options`` (e.g. ``ssl_context``, hooks) are added to those.
        """
        from .urls import parse_mailer_url

        parsed = parse_mailer_url(url)
        clash = sorted(set(parsed) & set(options))
        if clash:
            raise ValueError(f"{', '.join(clash)} given both in the URL and as arguments")
        return cls(**parsed, **options)

    def __repr__(self) -> str:
        s = self.settings
        user = f" user={s.username!r}" if s.username else ""
        return f"<Mailer {s.protocol} {s.security} {s.address}{user}>"

    # -- configuration -----------------------------------------------------------

    def add_hook(
        self, *, before_send: BeforeSend | None = None, after_send: AfterSend | None = None
    ) -> None:
        """``before_send(item)`` runs for each message before a call sends anything (an
        exception there aborts the call, nothing sent); ``after_send(result)`` runs for
        each result after the call (an exception there is logged, not raised)."""
        if before_send is not None:
            self._before_send.append(before_send)
        if after_send is not None:
            self._after_send.append(after_send)

    @property
    def settings(self) -> ConnectionSettings:
        """Where and how this Mailer connects (the password is left out of its repr)."""
        return self._connection_factory.settings

    # -- sending -----------------------------------------------------------------

    def send(
        self, messages: MailItem | Iterable[MailItem], *, retries: int | None = None
    ) -> list[SendResult]:
        """Send one message or many; one result per message, in input order.

        Items are ``email.message.Message`` objects (envelope from their headers, as
        smtplib's ``send_message``) or :class:`Envelope` objects. Per-message failures
        are in the results (``state``, ``error``), never raised. When no connection
        could be opened and so nothing was sent, the connection's error is raised
        (``OSError``, ``SMTPConnectError``, ``SMTPAuthenticationError``,
        ``SMTPNotSupportedError`` for a missing STARTTLS, ``ssl.SSLError``...).
        ``retries`` (default: the Mailer's) re-sends temporary (4xx) failures after
        ``retry_delay`` seconds, doubling each time up to ``max_retry_delay``.
        """
        items = _as_items(messages)
        for item in items:
            for before in self._before_send:
                before(item)
        outboxes = list(self._outboxes)
        if outboxes:
            results = self._capture(items, outboxes)
        else:
            total = self.settings.phase_timeouts.total
            deadline = None if total is None else time.monotonic() + total
            results = self._deliver(items, self.retries if retries is None else retries, deadline)
        for result in results:
            self._report(result)
        return results

    def _capture(
        self, items: list[MailItem], outboxes: list[list[CapturedMessage]]
    ) -> list[SendResult]:
        results = []
        for index, item in enumerate(items):
            result, record = capture_item(index, item)
            if record is not None:
                for outbox in outboxes:
                    outbox.append(record)
            results.append(result)
        return results

    def _deliver(
        self, items: list[MailItem], retries: int, deadline: float | None = None
    ) -> list[SendResult]:
        if not items:
            return []
        indexed = list(enumerate(items))
        parts = min(self._pool.size, math.ceil(len(items) / MIN_MESSAGES_PER_CONNECTION))
        runs = _split(indexed, parts)
        outcomes = [_PartOutcome() for _ in runs]
        threads = [
            threading.Thread(
                target=self._send_part,
                args=(run, retries, outcome, deadline),
                name=f"smtp-mailer-{index}",
                daemon=True,
            )
            for index, (run, outcome) in enumerate(zip(runs, outcomes, strict=True))
            if index
        ]
        for thread in threads:
            thread.start()
        self._send_part(runs[0], retries, outcomes[0], deadline)
        for thread in threads:
            thread.join()
        for outcome in outcomes:
            if outcome.crash is not None:
                raise outcome.crash
        merged: dict[int, SendResult] = {}
        for outcome in outcomes:
            merged.update(outcome.results)
        results = [merged[index] for index in range(len(items))]
        setup_errors = [o.setup_error for o in outcomes if o.setup_error is not None]
        if setup_errors and all(r.state is MessageState.NOT_ATTEMPTED for r in results):
            raise setup_errors[0]
        return results

    def _send_part(
        self,
        run: list[tuple[int, MailItem]],
        retries: int,
        outcome: _PartOutcome,
        deadline: float | None = None,
    ) -> None:
        """Send one part of a batch, retrying temporary failures; never raises."""
        try:
            pending = run
            for attempt in range(retries + 1):
                if attempt:
                    delay = min(self.retry_delay * 2 ** (attempt - 1), self.max_retry_delay)
                    if deadline is not None and time.monotonic() + delay >= deadline:
                        return  # no time left: the temporary refusals stand
                    logger.info(
                        "retrying %d temporarily refused message(s) in %.3gs", len(pending), delay
                    )
                    time.sleep(delay)
                self._transmit(pending, outcome, deadline)
                if outcome.setup_error is not None:
                    return
                pending = [
                    (i, item) for i, item in pending if _temporary_failure(outcome.results[i])
                ]
                if not pending:
                    return
        except BaseException as exc:  # handed to the calling thread
            outcome.crash = exc

    def _transmit(
        self, pending: list[tuple[int, MailItem]], outcome: _PartOutcome, deadline: float | None
    ) -> None:
        """Send ``pending`` over pooled connections, replacing ones lost before a transaction."""
        queue = list(pending)
        reconnects = 0
        while queue:
            try:
                self._connection_factory.set_deadline(deadline)
                try:
                    connection = self._pool.acquire()
                finally:
                    self._connection_factory.set_deadline(None)
            except (SMTPException, OSError, ValueError) as exc:
                logger.warning("could not connect to %s: %s", self.settings.address, exc)
                outcome.setup_error = exc
                for index, item in queue:
                    outcome.results[index] = _not_attempted(index, item, exc)
                return
            # Rate-limited, one message a call: a wait inside a pipelined batch would hold
            # back the previous message's final dot.
            size = 1 if self._rate_limiter is not None else self._pool.remaining(connection)
            batch, queue = queue[:size], queue[size:]
            try:
                if self._rate_limiter is not None:
                    self._rate_limiter.acquire()
                connection.smtp.deadline = deadline
                try:
                    sent = connection.smtp.send_many(item for _, item in batch)
                finally:
                    connection.smtp.deadline = None
            except BaseException:
                self._pool.release(connection, reusable=False)  # unknown state: never reused
                raise
            connection.messages += len(batch)
            healthy = connection.smtp.sock is not None and not any(
                r.state is MessageState.UNKNOWN or _lost_before_start(r) for r in sent
            )
            self._pool.release(connection, reusable=healthy)
            lost = []
            for (index, item), result in zip(batch, sent, strict=True):
                if _lost_before_start(result) and reconnects < RECONNECTS_PER_PART:
                    lost.append((index, item))
                else:
                    outcome.results[index] = dataclasses.replace(result, index=index)
            if lost:
                reconnects += 1
                logger.info("connection lost; sending %d message(s) on a new one", len(lost))
                queue = lost + queue

    def _report(self, result: SendResult) -> None:
        level = logging.INFO if result.state is MessageState.SENT else logging.WARNING
        if logger.isEnabledFor(level):
            reply = result.reply.code if result.reply is not None else "-"
            logger.log(
                level,
                "message %d %s: from=<%s> recipients=%d accepted=%d reply=%s message_id=%s%s",
                result.index,
                result.state.value,
                result.sender,
                len(result.recipients),
                len(result.accepted),
                reply,
                result.message_id or "-",
                f" error={result.error!r}" if result.error is not None else "",
            )
        for after in self._after_send:
            try:
                after(result)
            except Exception:
                logger.exception("after_send hook %r failed", after)

    # -- capture -------------------------------------------------------------------

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[CapturedMessage]]:
        """Record instead of send, for every thread, while the block runs; yields the outbox.

        Results are SENT; bad input fails exactly as it would when sending. Nested
        blocks each record every message sent while they are open.
        """
        outbox: list[CapturedMessage] = []
        self._outboxes = [*self._outboxes, outbox]
        try:
            yield outbox
        finally:
            self._outboxes = [o for o in self._outboxes if o is not outbox]

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """QUIT every pooled connection. The Mailer stays usable: it reconnects when needed."""
        self._pool.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
