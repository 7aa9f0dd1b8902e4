"""One delivery of a batch of payloads: claim each message in the ledger, send, record.

This is the whole decision of the Celery task, without Celery: it runs in any
process with a ``Mailer`` and a ``Ledger``. The batch goes in steps of ``step``
messages; each step is claimed (one Redis round trip), sent in one ``Mailer.send``
call (pipelined), then recorded. So a process that dies mid-batch leaves at most one
step's messages ``inflight``: a redelivery reports those UNKNOWN and sends the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SMTPException
from ..mailer import Mailer
from ..results import MessageState, SendResult
from .ledger import Claim, Ledger, Owner
from .payload import ResultDict, envelope_from_payload, result_to_dict, unknown_result

__all__ = ["BatchOutcome", "BatchSender"]

logger = logging.getLogger("smtp_backend.celery")

DEFAULT_STEP = 10
DEFAULT_LEASE = 60.0  # seconds a step may take before a redelivery stops waiting for it
POLL_INTERVAL = 0.1


@dataclass
class BatchOutcome:
    """One result dict per payload, in order; ``retrying``: some wait for the next attempt."""

    results: list[ResultDict] = field(default_factory=list)
    retrying: bool = False

    def count(self, state: MessageState) -> int:
        return sum(1 for result in self.results if result["state"] == state.value)


def _failed_to_send(index: int, payload: Mapping[str, Any], error: BaseException) -> SendResult:
    return SendResult(
        index,
        str(payload.get("sender", "")),
        tuple(payload.get("recipients", ())),
        MessageState.NOT_ATTEMPTED,
        error=error,
    )


class BatchSender:
    """Sends batches of payloads exactly once per message key (see the module docstring)."""

    def __init__(
        self,
        mailer: Mailer,
        ledger: Ledger,
        *,
        step: int = DEFAULT_STEP,
        lease: float = DEFAULT_LEASE,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if step < 1:
            raise ValueError(f"step must be at least 1, not {step!r}")
        self.mailer = mailer
        self.ledger = ledger
        self.step = step
        self.lease = lease
        self._sleep = sleep

    def send(
        self, payloads: Sequence[Mapping[str, Any]], *, owner: Owner, attempt: int, last: bool
    ) -> BatchOutcome:
        """Deliver the payloads not yet delivered. ``attempt``: Celery's retry count;
        ``last``: no retry follows, so temporary failures are final."""
        outcome = BatchOutcome()
        for start in range(0, len(payloads), self.step):
            step = payloads[start : start + self.step]
            outcome.results.extend(self._send_step(start, step, owner, attempt, last, outcome))
        return outcome

    def _send_step(
        self,
        start: int,
        step: Sequence[Mapping[str, Any]],
        owner: Owner,
        attempt: int,
        last: bool,
        outcome: BatchOutcome,
    ) -> list[ResultDict]:
        claims = self._claim_settled([p["key"] for p in step], owner, attempt)
        results: list[ResultDict | None] = [None] * len(step)
        to_send: list[int] = []
        for offset, (payload, claim) in enumerate(zip(step, claims, strict=True)):
            index = start + offset
            if claim.status == "claimed":
                to_send.append(offset)
            elif claim.status == "inflight":
                results[offset] = unknown_result(
                    index, payload, "another delivery was sending it when it stopped"
                )
            else:  # done, or retry by a later attempt: what that delivery recorded
                assert claim.record is not None
                results[offset] = {**claim.record["result"], "index": index}
                outcome.retrying |= claim.status == "retry"
        sent = self._deliver([(start + o, step[o]) for o in to_send])
        records = []
        for offset, result in zip(to_send, sent, strict=True):
            results[offset] = result
            if result["retryable"] and not last:
                records.append(
                    (result["key"], {"s": "retry", "attempt": attempt + 1, "result": result})
                )
                outcome.retrying = True
            else:
                records.append((result["key"], {"s": "done", "result": result}))
        self.ledger.record(records)
        return [result for result in results if result is not None]

    def _claim_settled(self, keys: list[str], owner: Owner, attempt: int) -> list[Claim]:
        """Claims, after waiting for live deliveries that hold some keys to finish them."""
        claims = self.ledger.claim(keys, owner, attempt)
        deadline = time.monotonic() + self.lease
        while time.monotonic() < deadline:
            waiting = [
                i
                for i, claim in enumerate(claims)
                if claim.status == "inflight"
                and claim.age < self.lease
                and not (claim.holder is not None and claim.holder.is_gone)
            ]
            if not waiting:
                break
            self._sleep(POLL_INTERVAL)
            again = self.ledger.claim([keys[i] for i in waiting], owner, attempt)
            for i, claim in zip(waiting, again, strict=True):
                claims[i] = claim
        return claims

    def _deliver(self, items: list[tuple[int, Mapping[str, Any]]]) -> list[ResultDict]:
        """Send the claimed payloads in one Mailer call; one result dict each, in order."""
        envelopes, failed = [], {}
        for index, payload in items:
            try:
                envelopes.append(envelope_from_payload(payload))
            except (KeyError, TypeError, ValueError) as exc:  # a malformed payload: permanent
                failed[index] = _failed_to_send(index, payload, exc)
        sendable = [(index, payload) for index, payload in items if index not in failed]
        try:
            sent = self.mailer.send(envelopes) if envelopes else []
        except (SMTPException, OSError, ValueError) as exc:  # no connection: nothing was sent
            logger.warning("could not send %d message(s): %r", len(envelopes), exc)
            sent = [_failed_to_send(index, payload, exc) for index, payload in sendable]
        by_index = dict(failed)
        for (index, _), result in zip(sendable, sent, strict=True):
            by_index[index] = result
        return [
            result_to_dict(_reindexed(by_index[index], index), payload["key"])
            for index, payload in items
        ]


def _reindexed(result: SendResult, index: int) -> SendResult:
    return result if result.index == index else dataclasses.replace(result, index=index)
