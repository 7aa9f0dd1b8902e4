"""The delivery plan: how a mailer delivers the items of one send, as decisions without I/O.

The items are split into parts, one per connection, sent side by side. Each part is a
generator of actions (:class:`Acquire` a pooled connection, :class:`OpenAhead` its
successor, :class:`Transmit` items over it, :class:`Wait` before a retry) that a mailer
performs and answers: ``Mailer`` with
threads and ``time.sleep``, ``AsyncMailer`` with tasks and ``asyncio.sleep``. So which
results are sent again, when, on which connection, and which connections are kept, is
decided here once.

- A connection that will reach ``max_messages_per_connection`` with its share while
  items remain has its successor opened while it carries that share (``OpenAhead``),
  so the next share does not wait for a connect, EHLO, STARTTLS and login.
- A message never started because its connection was lost (``NOT_ATTEMPTED`` and
  ``SendResult.retryable``) is sent again at once on a new connection, at most
  ``RECONNECTS_PER_PART`` times.
- A temporary failure (``SendResult.retryable``: a 4xx) is sent again after a backoff,
  ``retries`` times, never past the call's deadline.
- A message whose fate is unknown is never sent again (RFC 1047).
"""

from __future__ import annotations

import dataclasses
import email.message
import logging
import math
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import SMTPProtocolError
from ..protocol.message import envelope_addresses
from ..results import Envelope, MessageState, SendResult

__all__ = [
    "MIN_MESSAGES_PER_CONNECTION",
    "RECONNECTS_PER_PART",
    "Acquire",
    "Acquired",
    "MailItem",
    "OpenAhead",
    "PartOutcome",
    "RetryPolicy",
    "Transmit",
    "Wait",
    "advance",
    "as_items",
    "deliver_part",
    "lost_before_start",
    "merge_parts",
    "not_attempted",
    "reusable_after",
    "split_items",
]

logger = logging.getLogger("smtp_backend.mailer")

MailItem = Envelope | email.message.Message
IndexedItem = tuple[int, MailItem]
C = TypeVar("C")

MIN_MESSAGES_PER_CONNECTION = 10  # a send is split only into parts at least this large
RECONNECTS_PER_PART = 3  # fresh connections tried for messages lost before their transaction


def as_items(messages: MailItem | Iterable[MailItem]) -> list[MailItem]:
    """One item or an iterable of them, as a list; a bare string is refused."""
    if isinstance(messages, Envelope | email.message.Message):
        return [messages]
    if isinstance(messages, str | bytes | bytearray):
        raise TypeError("send() takes email.message.Message or Envelope objects, not a string")
    return list(messages)


def split_items(items: Sequence[IndexedItem], pool_size: int) -> list[list[IndexedItem]]:
    """Contiguous runs of nearly equal length, one per connection to use (none when empty)."""
    parts = min(pool_size, math.ceil(len(items) / MIN_MESSAGES_PER_CONNECTION))
    size, extra = divmod(len(items), max(parts, 1))
    runs, start = [], 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        runs.append(list(items[start:end]))
        start = end
    return runs


def lost_before_start(result: SendResult) -> bool:
    """Never started because its connection failed: safe to send at once on a new one."""
    # Wider than ``retryable``: an unreadable reply is the connection's fault, not the message's.
    return result.state is MessageState.NOT_ATTEMPTED and (
        result.retryable or isinstance(result.error, SMTPProtocolError)
    )


def reusable_after(results: Iterable[SendResult], still_open: bool) -> bool:
    """Whether a connection may go back to the pool after carrying ``results``."""
    return still_open and not any(r.unknown or lost_before_start(r) for r in results)


def not_attempted(index: int, item: MailItem, error: BaseException) -> SendResult:
    """The result of an item that was never sent (no connection could be opened for it)."""
    if isinstance(item, Envelope):
        sender, recipients = item.sender, tuple(item.recipients)
    else:
        try:
            sender, recipient_list = envelope_addresses(item)
            recipients = tuple(recipient_list)
        except (ValueError, TypeError):
            sender, recipients = "", ()
    return SendResult(index, sender, recipients, MessageState.NOT_ATTEMPTED, error=error)


@dataclass(frozen=True)
class RetryPolicy:
    """Temporary failures are sent again after ``delay`` seconds, doubling up to ``max_delay``."""

    delay: float = 1.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        if not (self.delay >= 0 and self.max_delay >= 0):
            raise ValueError("retry_delay and max_retry_delay must not be negative")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first)."""
        return float(min(self.delay * 2 ** (attempt - 1), self.max_delay))


# -- the actions a part asks its driver to perform -------------------------------------------


@dataclass(frozen=True)
class Acquire:
    """Lend me a ready connection: answer :class:`Acquired`, or the exception opening raised."""


@dataclass(frozen=True)
class Acquired(Generic[C]):
    """A lent connection, how many messages it may carry now (``room``, at least 1) and
    before it retires (``remaining``)."""

    connection: C
    room: int
    remaining: int


@dataclass(frozen=True)
class OpenAhead:
    """Start opening a connection for this part's next :class:`Acquire` while the lent one
    carries its last share; answer None (a failure shows at that ``Acquire``)."""


@dataclass(frozen=True)
class Transmit(Generic[C]):
    """Send ``items`` over ``connection`` and give it back: answer one result per item."""

    connection: C
    items: list[MailItem]


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds`` (before a retry); answer None."""

    seconds: float


Action = Acquire | OpenAhead | Transmit[Any] | Wait
PartActions = Generator[Action, Any, "PartOutcome"]


@dataclass
class PartOutcome:
    """What one part of a send ended with."""

    results: dict[int, SendResult] = field(default_factory=dict)
    setup_error: BaseException | None = None  # a connection could not be opened


def deliver_part(
    run: list[IndexedItem],
    *,
    retries: int,
    policy: RetryPolicy,
    deadline: float | None,
    clock: Callable[[], float],
) -> PartActions:
    """The actions that send one part, retrying temporary failures; returns its outcome."""
    outcome = PartOutcome()
    pending = run
    for attempt in range(retries + 1):
        if attempt:
            delay = policy.backoff(attempt)
            if deadline is not None and clock() + delay >= deadline:
                break  # no time left: the temporary failures stand
            logger.info("retrying %d temporarily refused message(s) in %.3gs", len(pending), delay)
            yield Wait(delay)
        yield from _transmit(pending, outcome)
        if outcome.setup_error is not None:
            break
        pending = [(i, item) for i, item in pending if outcome.results[i].retryable]
        if not pending:
            break
    return outcome


def _transmit(pending: list[IndexedItem], outcome: PartOutcome) -> Generator[Action, Any, None]:
    """Send ``pending`` over lent connections, replacing ones lost before a transaction."""
    queue = list(pending)
    reconnects = 0
    while queue:
        acquired = yield Acquire()
        if isinstance(acquired, BaseException):
            outcome.setup_error = acquired
            for index, item in queue:
                outcome.results[index] = not_attempted(index, item, acquired)
            return
        room = max(1, acquired.room)
        share, queue = queue[:room], queue[room:]
        if queue and len(share) >= acquired.remaining:  # it retires after this share
            yield OpenAhead()
        sent: list[SendResult] = yield Transmit(acquired.connection, [item for _, item in share])
        lost = []
        for (index, item), result in zip(share, sent, strict=True):
            if lost_before_start(result) and reconnects < RECONNECTS_PER_PART:
                lost.append((index, item))
            else:
                outcome.results[index] = dataclasses.replace(result, index=index)
        if lost:
            reconnects += 1
            logger.info("connection lost; sending %d message(s) on a new one", len(lost))
            queue = lost + queue


def advance(part: PartActions, answer: Any) -> Action | PartOutcome:
    """Give the part its answer to the last action: its next action, or its outcome when done."""
    try:
        return part.send(answer)
    except StopIteration as done:
        outcome: PartOutcome = done.value
        return outcome


def merge_parts(outcomes: Iterable[PartOutcome], done: dict[int, SendResult]) -> list[SendResult]:
    """Every part's results and ``done`` (already decided), in input order.

    When no message was attempted because no connection could be opened, that error is
    raised: nothing was sent.
    """
    merged = dict(done)
    setup_errors = []
    for outcome in outcomes:
        merged.update(outcome.results)
        if outcome.setup_error is not None:
            setup_errors.append(outcome.setup_error)
    results = [merged[index] for index in range(len(merged))]
    if setup_errors and all(r.state is MessageState.NOT_ATTEMPTED for r in results):
        raise setup_errors[0]
    return results
