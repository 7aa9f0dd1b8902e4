"""What Mailer and AsyncMailer share above the I/O: configuration, hooks, signing, capture, logs.

A subclass says how its connections are opened and pooled (``_connections_for``,
``_pool_for``) and performs the actions of :mod:`.planning`'s delivery plan;
everything a caller configures or observes is here, once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from ..results import MessageState, SendResult
from ..timeouts import Timeouts
from ..transport.tls import mailer_context
from .capture import CapturedMessage, capture_item
from .connect import (
    ConnectionSettings,
    TokenSource,
    default_port,
)
from .planning import (
    Acquired,
    MailItem,
    PartActions,
    RetryPolicy,
    as_items,
    deliver_part,
    not_attempted,
    reusable_after,
    split_items,
)
from .pooling import PooledConnection
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .dkim import DKIM

__all__ = ["AfterSend", "BeforeSend", "MailerBase"]

logger = logging.getLogger("smtp_backend.mailer")

BeforeSend = Callable[[MailItem], object]
AfterSend = Callable[[SendResult], object]
M = TypeVar("M", bound="MailerBase[Any, Any]")
F = TypeVar("F", bound="ConnectionSource")
P = TypeVar("P")


@dataclasses.dataclass
class PreparedSend:
    """One call's items as given, those to send (signed, with their index), those decided."""

    originals: list[MailItem]
    items: list[tuple[int, MailItem]] = dataclasses.field(default_factory=list)
    done: dict[int, SendResult] = dataclasses.field(default_factory=dict)


class ConnectionSource(Protocol):
    """Opens connections with ``settings`` (kept, with the first connection's host name)."""

    settings: ConnectionSettings


class MailerBase(Generic[F, P]):
    """Configuration and the I/O-free part of sending; see ``Mailer`` for every option."""

    _kind = "Mailer"

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        oauth_token: TokenSource | None = None,
        timeout: float | None = None,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dangerously_skip_tls_verify: bool = False,
        allow_insecure_auth: bool = False,
        debuglevel: int = 0,
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
        dkim: DKIM | None = None,
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
            allow_insecure_auth=allow_insecure_auth,
            debuglevel=debuglevel,
        )
        if security != "none" or ca_file is not None or dangerously_skip_tls_verify:
            # One context for every connection: loading the CA store per connection is slow.
            context = mailer_context(
                ssl_context, ca_file, dangerously_skip_tls_verify, where=settings.address
            )
            settings = dataclasses.replace(settings, ssl_context=context)
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.retries = retries
        self.retry_policy = RetryPolicy(retry_delay, max_retry_delay)
        #: Signs every message (DKIM-Signature) before it is sent or captured; None: unsigned.
        self.dkim = dkim
        # The pool holds the connection source, not the mailer, so a mailer can be collected.
        self._connections = self._connections_for(settings)
        self._pool = self._pool_for(
            self._connections,
            size=pool_size,
            max_messages=max_messages_per_connection,
            idle_timeout=idle_timeout,
        )
        self._pool_size = pool_size
        # A bucket given is shared (with other mailers, threads or tasks); a number is ours.
        self._rate_limiter = (
            rate_limit
            if rate_limit is None or isinstance(rate_limit, TokenBucket)
            else TokenBucket(rate_limit)
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

    # -- what a subclass provides -------------------------------------------------

    def _connections_for(self, settings: ConnectionSettings) -> F:
        raise NotImplementedError

    def _pool_for(self, connections: F, *, size: int, max_messages: int, idle_timeout: float) -> P:
        raise NotImplementedError

    # -- configuration ------------------------------------------------------------

    @classmethod
    def from_url(cls: type[M], url: str, **options: Any) -> M:
        """A mailer from ``smtp+starttls://user:pass@host:587?pool_size=4`` and the like.

        See :mod:`smtp_backend.mailer.urls` for the schemes and query keys; unknown ones
        raise ``ValueError``. Keyword ``options`` (e.g. ``ssl_context``, hooks) are
        added to those; one given both ways raises ``ValueError``.
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
        return f"<{self._kind} {s.protocol} {s.security} {s.address}{user}>"

    @property
    def settings(self) -> ConnectionSettings:
        """Where and how this mailer connects (the password is left out of its repr)."""
        return self._connections.settings

    @property
    def retry_delay(self) -> float:
        return self.retry_policy.delay

    @property
    def max_retry_delay(self) -> float:
        return self.retry_policy.max_delay

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

    # -- the I/O-free part of a send --------------------------------------------------

    def _deadline(self) -> float | None:
        """When a send (or open) starting now must end: ``Timeouts.total`` from now."""
        total = self.settings.phase_timeouts.total
        return None if total is None else time.monotonic() + total

    def _parts(
        self, prepared: PreparedSend, retries: int | None, deadline: float | None
    ) -> list[PartActions]:
        """The delivery plan of a send: one part per connection its items are split across."""
        return [
            deliver_part(
                run,
                retries=self.retries if retries is None else retries,
                policy=self.retry_policy,
                deadline=deadline,
                clock=time.monotonic,
            )
            for run in split_items(prepared.items, self._pool_size)
        ]

    @staticmethod
    def _settle(
        connection: PooledConnection[Any], sent: list[SendResult], *, still_open: bool
    ) -> bool:
        """Count what a connection carried; True when it may be lent again."""
        connection.messages += len(sent)
        return reusable_after(sent, still_open=still_open)

    def _acquired(self, connection: PooledConnection[Any], remaining: int) -> Acquired[Any]:
        """The answer to ``Acquire``: the connection, the messages to give it at once, and
        the ``remaining`` it may carry before it retires."""
        # Rate-limited, one at a time: a wait inside a pipelined group would hold back
        # the previous message's final dot.
        room = 1 if self._rate_limiter is not None else remaining
        return Acquired(connection, room, remaining)

    def _prepare(self, messages: MailItem | Iterable[MailItem]) -> PreparedSend:
        """Hooks run, then each item signed once (a signing failure fails that item alone)."""
        originals = as_items(messages)
        for item in originals:
            for before in self._before_send:
                before(item)
        prepared = PreparedSend(originals)
        for index, item in enumerate(originals):
            if self.dkim is None:
                prepared.items.append((index, item))
                continue
            try:
                prepared.items.append((index, self.dkim.sign_item(item)))
            except Exception as exc:  # bad input (dkimpy's own errors too): this one fails
                prepared.done[index] = not_attempted(index, item, exc)
        return prepared

    def _capture(self, prepared: PreparedSend) -> list[SendResult] | None:
        """While capturing: each item recorded instead of sent, and its result; else None."""
        outboxes = [*self._outboxes, *MailerBase._every_mailers_outboxes]
        if not outboxes:
            return None
        results = dict(prepared.done)
        for index, item in prepared.items:
            result, record = capture_item(index, item)
            if record is not None:
                record = dataclasses.replace(record, message=prepared.originals[index])
                for outbox in outboxes:
                    outbox.append(record)
            results[index] = result
        return [results[index] for index in range(len(prepared.originals))]

    def _report(self, results: list[SendResult]) -> list[SendResult]:
        """Log each result and run the after_send hooks; returns ``results``."""
        for result in results:
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
        return results

    # -- capture ------------------------------------------------------------------

    #: Outboxes every mailer of the process records into (``capture_every_mailer``).
    _every_mailers_outboxes: ClassVar[list[list[CapturedMessage]]] = []

    @property
    def capturing(self) -> bool:
        """True while this mailer records instead of sending (``capture=True``, a
        ``capture()`` block, or ``capture_every_mailer()``)."""
        return bool(self._outboxes or MailerBase._every_mailers_outboxes)

    @staticmethod
    @contextlib.contextmanager
    def capture_every_mailer(
        outbox: list[CapturedMessage] | None = None,
    ) -> Iterator[list[CapturedMessage]]:
        """Every Mailer and AsyncMailer of the process, existing or new, records into
        ``outbox`` instead of sending while the block runs (the pytest plugin's
        ``smtp_outbox``); yields it. ``open()`` connects nowhere meanwhile."""
        outbox = [] if outbox is None else outbox
        MailerBase._every_mailers_outboxes = [*MailerBase._every_mailers_outboxes, outbox]
        try:
            yield outbox
        finally:
            MailerBase._every_mailers_outboxes = [
                o for o in MailerBase._every_mailers_outboxes if o is not outbox
            ]

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[CapturedMessage]]:
        """Record instead of send, for every thread and task, while the block runs;
        yields the outbox.

        Results are SENT; bad input fails exactly as it would when sending. Nested
        blocks each record every message sent while they are open.
        """
        outbox: list[CapturedMessage] = []
        self._outboxes = [*self._outboxes, outbox]
        try:
            yield outbox
        finally:
            self._outboxes = [o for o in self._outboxes if o is not outbox]
