"""The delivery planner without I/O: scripted answers to its steps decide what is sent again."""

from __future__ import annotations

from typing import Any

import pytest

from smtp_backend import (
    Envelope,
    MessageState,
    Reply,
    SendResult,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPServerDisconnected,
)
from smtp_backend.mailer.planning import (
    RECONNECTS_PER_PART,
    Acquire,
    Acquired,
    OpenAhead,
    PartActions,
    PartOutcome,
    RetryPolicy,
    Transmit,
    Wait,
    advance,
    deliver_part,
    merge_parts,
    reusable_after,
    split_items,
)

SENT, REFUSED = MessageState.SENT, MessageState.REFUSED
NOT_ATTEMPTED, UNKNOWN = MessageState.NOT_ATTEMPTED, MessageState.UNKNOWN


def item(tag: str) -> Envelope:
    return Envelope("a@example.test", ["b@example.test"], tag.encode())


def result(state: MessageState, **fields: Any) -> SendResult:
    return SendResult(0, "a@example.test", ("b@example.test",), state, **fields)


LOST = result(NOT_ATTEMPTED, error=SMTPServerDisconnected("gone"))
TEMPFAIL = result(REFUSED, reply=Reply(451, b"4.3.0 try later"))
PERMFAIL = result(REFUSED, reply=Reply(550, b"5.1.1 no such user"))


class Driver:
    """Answers each step from a script of transmit outcomes; records what was asked."""

    def __init__(
        self, *transmits: list[SendResult], room: int = 100, remaining: int | None = None
    ) -> None:
        self.transmits = list(transmits)
        self.room = room
        self.remaining = room if remaining is None else remaining
        self.actions: list[str] = []  # "acquire", "ahead", "transmit", "wait" in order
        self.sent: list[list[bytes]] = []
        self.waits: list[float] = []
        self.acquires = 0
        self.now = 0.0  # a clock that moves only when the planner waits

    def clock(self) -> float:
        return self.now

    def run(self, steps: PartActions) -> PartOutcome:
        answer: Any = None
        while True:
            step = advance(steps, answer)
            if isinstance(step, PartOutcome):
                return step
            self.actions.append(type(step).__name__)
            if isinstance(step, Acquire):
                self.acquires += 1
                answer = Acquired(f"connection {self.acquires}", self.room, self.remaining)
            elif isinstance(step, OpenAhead):
                answer = None
            elif isinstance(step, Transmit):
                self.sent.append([envelope.data for envelope in step.items])  # type: ignore[union-attr]
                answer = self.transmits.pop(0)
            else:
                assert isinstance(step, Wait)
                self.waits.append(step.seconds)
                self.now += step.seconds
                answer = None


def part(
    tags: str, retries: int = 0, deadline: float | None = None, driver: Driver | None = None
) -> PartActions:
    run = [(i, item(tag)) for i, tag in enumerate(tags)]
    policy = RetryPolicy(delay=1.0, max_delay=3.0)
    clock = driver.clock if driver is not None else lambda: 0.0
    return deliver_part(run, retries=retries, policy=policy, deadline=deadline, clock=clock)


def states(outcome: PartOutcome) -> list[MessageState]:
    return [outcome.results[i].state for i in sorted(outcome.results)]


def test_a_batch_is_split_into_contiguous_parts_of_at_least_ten() -> None:
    items = [(i, item(str(i))) for i in range(25)]
    runs = split_items(items, pool_size=4)
    assert [len(run) for run in runs] == [9, 8, 8]
    assert [i for run in runs for i, _ in run] == list(range(25))
    assert [len(run) for run in split_items(items[:5], pool_size=4)] == [5]
    assert split_items([], pool_size=4) == []


def test_messages_lost_before_their_transaction_go_on_a_new_connection() -> None:
    driver = Driver([result(SENT), LOST, LOST], [result(SENT), result(SENT)])
    outcome = driver.run(part("abc"))
    assert states(outcome) == [SENT, SENT, SENT]
    assert driver.sent == [[b"a", b"b", b"c"], [b"b", b"c"]]
    assert driver.acquires == 2
    assert [outcome.results[i].index for i in range(3)] == [0, 1, 2]


def test_an_unknown_fate_is_never_sent_again() -> None:
    driver = Driver([result(UNKNOWN), LOST], [result(SENT)])
    outcome = driver.run(part("ab", retries=3))
    assert states(outcome) == [UNKNOWN, SENT]
    assert driver.sent == [[b"a", b"b"], [b"b"]]


def test_an_unreadable_reply_is_the_connections_fault_and_the_message_goes_again() -> None:
    garbled = result(NOT_ATTEMPTED, error=SMTPProtocolError(-1, b"unparsable reply"))
    driver = Driver([garbled], [result(SENT)])
    assert states(driver.run(part("a"))) == [SENT]


def test_a_message_without_recipients_is_not_sent_again() -> None:
    no_recipients = result(NOT_ATTEMPTED, error=SMTPRecipientsRefused({}))
    driver = Driver([no_recipients, result(SENT)])
    assert states(driver.run(part("ab", retries=2))) == [NOT_ATTEMPTED, SENT]
    assert driver.acquires == 1 and driver.waits == []


def test_reconnects_are_bounded() -> None:
    driver = Driver(*[[LOST]] * (RECONNECTS_PER_PART + 1))
    outcome = driver.run(part("a"))
    assert states(outcome) == [NOT_ATTEMPTED]
    assert driver.acquires == RECONNECTS_PER_PART + 1


def test_temporary_failures_are_retried_with_doubling_capped_backoff() -> None:
    driver = Driver([TEMPFAIL, PERMFAIL], [TEMPFAIL], [TEMPFAIL], [TEMPFAIL], [result(SENT)])
    outcome = driver.run(part("ab", retries=4))
    assert states(outcome) == [SENT, REFUSED]
    assert driver.waits == [1.0, 2.0, 3.0, 3.0]
    assert driver.sent == [[b"a", b"b"], [b"a"], [b"a"], [b"a"], [b"a"]]


def test_no_retry_waits_past_the_deadline() -> None:
    driver = Driver([TEMPFAIL], [TEMPFAIL])
    outcome = driver.run(part("a", retries=5, deadline=2.5, driver=driver))  # 1 s fits, 1 + 2 not
    assert states(outcome) == [REFUSED]
    assert driver.waits == [1.0]


def test_a_connection_is_given_one_batch_no_larger_than_its_room() -> None:
    driver = Driver([result(SENT)] * 2, [result(SENT)] * 2, [result(SENT)], room=2)
    assert states(driver.run(part("abcde"))) == [SENT] * 5
    assert driver.sent == [[b"a", b"b"], [b"c", b"d"], [b"e"]]


def test_no_connection_means_nothing_attempted_and_the_error_raised() -> None:
    steps = part("ab")
    assert isinstance(next(steps), Acquire)
    refused = ConnectionRefusedError("refused")
    with pytest.raises(StopIteration) as done:
        steps.send(refused)
    outcome: PartOutcome = done.value.value
    assert states(outcome) == [NOT_ATTEMPTED, NOT_ATTEMPTED]
    with pytest.raises(ConnectionRefusedError):
        merge_parts([outcome], {})
    decided = {2: result(SENT)}  # something was decided otherwise: results, not the error
    merged = merge_parts([outcome], decided)
    assert [r.state for r in merged] == [NOT_ATTEMPTED, NOT_ATTEMPTED, SENT]


def test_a_connection_is_kept_only_when_open_and_every_fate_known() -> None:
    assert reusable_after([result(SENT), PERMFAIL, TEMPFAIL], still_open=True)
    assert not reusable_after([result(SENT)], still_open=False)
    assert not reusable_after([result(UNKNOWN)], still_open=True)
    assert not reusable_after([LOST], still_open=True)


def test_retry_delays_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        RetryPolicy(delay=-1)


def test_a_connection_that_retires_mid_send_has_its_successor_opened_meanwhile() -> None:
    sent = [[result(SENT)] * 2, [result(SENT)] * 2, [result(SENT)]]
    driver = Driver(*sent, room=2)
    assert states(driver.run(part("abcde"))) == [SENT] * 5
    assert driver.actions == [
        *("Acquire", "OpenAhead", "Transmit"),
        *("Acquire", "OpenAhead", "Transmit"),
        *("Acquire", "Transmit"),  # nothing left after this share: no successor
    ]


def test_no_successor_for_a_connection_that_carries_on_after_its_share() -> None:
    # Rate-limited: one message at a time, but the connection has room for many more.
    driver = Driver([result(SENT)], [result(SENT)], room=1, remaining=50)
    assert states(driver.run(part("ab"))) == [SENT, SENT]
    assert "OpenAhead" not in driver.actions
    # The last share fills the connection, but nothing is left to send after it.
    driver = Driver([result(SENT)] * 2, room=5, remaining=2)
    driver.run(part("ab"))
    assert "OpenAhead" not in driver.actions
