"""A batch sent through a Mailer in chunks, counted as it goes: what ``send`` reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from ..mailer import Mailer, MailItem
from ..results import MessageState, SendResult

#: Messages handed to one ``Mailer.send`` call: the progress bar moves once per chunk.
CHUNK_SIZE = 100


@dataclass
class BatchOutcome:
    """Counts and the messages that were not (fully) delivered, each with its label."""

    sent: int = 0
    refused: int = 0
    failed: int = 0  # never attempted, or fate unknown
    recipients_refused: int = 0
    problems: list[tuple[str, SendResult]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: BaseException | None = None  # no connection could be made: the rest was not sent

    @property
    def total(self) -> int:
        return self.sent + self.refused + self.failed

    @property
    def seconds(self) -> float:
        end = time.monotonic() if self.finished is None else self.finished
        return end - self.started

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    @property
    def all_delivered(self) -> bool:
        return self.error is None and self.total == self.sent and not self.recipients_refused

    def add(self, label: str, result: SendResult) -> None:
        if result.state is MessageState.SENT:
            self.sent += 1
        elif result.state is MessageState.REFUSED:
            self.refused += 1
        else:
            self.failed += 1
        self.recipients_refused += len(result.refused)
        if result.state is not MessageState.SENT or result.refused:
            self.problems.append((label, result))


def deliver(
    mailer: Mailer,
    items: Iterable[tuple[str, MailItem]],
    on_chunk: Callable[[int], object] = lambda count: None,
) -> BatchOutcome:
    """Send every labelled item; a connection error ends the batch and is kept in ``error``."""
    outcome = BatchOutcome()
    for chunk in _chunks(iter(items)):
        labels = [label for label, _ in chunk]
        try:
            results = mailer.send([item for _, item in chunk])
        except (OSError, ValueError) as exc:  # SMTPException is an OSError, as in smtplib
            outcome.error = exc
            break
        for label, result in zip(labels, results, strict=True):
            outcome.add(label, result)
        on_chunk(len(chunk))
    outcome.finished = time.monotonic()
    return outcome


def _chunks(items: Iterator[tuple[str, MailItem]]) -> Iterator[list[tuple[str, MailItem]]]:
    while chunk := list(islice(items, CHUNK_SIZE)):
        yield chunk


def reason(result: SendResult) -> str:
    """Why a message was not (fully) delivered, in the server's words where it said any."""
    parts = [f"{address}: {reply.code} {reply.text}" for address, reply in result.refused.items()]
    # every recipient refused: the message's reply is the last of those, already shown
    repeated = result.reply is not None and result.reply in result.refused.values()
    if result.reply is not None and result.state is not MessageState.SENT and not repeated:
        parts.append(f"{result.reply.code} {result.reply.text}")
    elif result.error is not None and not parts:
        parts.append(str(result.error) or type(result.error).__name__)
    if result.state is MessageState.UNKNOWN:
        parts.append("connection lost after the data: it may have been delivered")
    return "; ".join(parts) or result.state.value
