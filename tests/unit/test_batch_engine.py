"""BatchEngine driven by hand: which bytes go in which write, and how each message ends.

``WireModel`` is a sans-I/O stand-in for a server: it parses the octets the engine
wrote and answers each command in order, with the recording server's conventions
(reject@sender.test -> 553, @refused.test -> 550, @tempfail.test -> 451,
``X-Fail-Data: NNN`` -> NNN after the data).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_backend.errors import (
    SMTPDataError,
    SMTPMessageTooLarge,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from smtp_backend.protocol import (
    BatchEngine,
    PreparedTransaction,
    ServerFeatures,
    UnpreparedMessage,
    prepare_transaction,
)
from smtp_backend.results import Envelope, MessageState, Reply, SendResult

FEATURES = ServerFeatures(esmtp=True, pipelining=True, chunking=True)
_FAIL_DATA = re.compile(rb"^X-Fail-Data: (\d{3})\r$", re.MULTILINE)

Override = Callable[[str, bytes], int | None]


def envelope(i: int, *recipients: str, sender: str = "", body: bytes = b"") -> Envelope:
    data = b"Subject: message %d\r\n\r\n%sbody %d\r\n" % (i, body, i)
    return Envelope(sender or f"s{i}@example.test", recipients or ("rcpt@example.test",), data)


def prepare(env: Envelope, *, bdat: bool = False) -> PreparedTransaction:
    return prepare_transaction(env, FEATURES, use_bdat=bdat)


@dataclass
class WireModel:
    """Parses what the engine wrote; answers one command per ``next_reply()``."""

    lmtp: bool = False
    override: Override | None = None  # (verb, line) -> a code to answer instead
    buffer: bytes = b""
    in_data: bool = False
    sender: bytes | None = None
    accepted: list[bytes] = field(default_factory=list)
    delivered: list[tuple[bytes, tuple[bytes, ...], bytes]] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    queued: list[Reply] = field(default_factory=list)

    def receive(self, data: bytes) -> None:
        self.buffer += data

    def next_reply(self) -> Reply | None:
        if self.queued:
            return self.queued.pop(0)
        if self.in_data:
            end = self.buffer.find(b"\r\n.\r\n")
            if self.buffer.startswith(b".\r\n"):
                content, self.buffer = b"", self.buffer[3:]
            elif end >= 0:
                content, self.buffer = self.buffer[: end + 2], self.buffer[end + 5 :]
            else:
                return None
            self.in_data = False
            return self._finish(content.replace(b"\r\n..", b"\r\n."))
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        self.commands.append(line)
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode()
        if verb == "BDAT":
            size = int(line.split()[1])
            if len(self.buffer) < size:
                raise AssertionError("BDAT chunk shorter than announced in the same write")
            chunk, self.buffer = self.buffer[:size], self.buffer[size:]
            code = self._code(verb, line)
            if code is not None and code != 250:
                self.sender, self.accepted = None, []
                return Reply(code, b"overridden")
            return self._finish(chunk)
        code = self._code(verb, line)
        if code is None:
            code = self._default(verb, line)
        if verb == "MAIL" and code == 250:
            self.sender, self.accepted = line, []
        elif verb == "RCPT" and code in (250, 251):
            self.accepted.append(line)
        elif verb == "DATA" and code == 354:
            self.in_data = True
        elif verb == "RSET":
            self.sender, self.accepted = None, []
        return Reply(code, b"%d reply to %s" % (code, line[:20]))

    def _code(self, verb: str, line: bytes) -> int | None:
        code = self.override(verb, line) if self.override else None
        if verb != "MAIL" and self.sender is None and code is not None and code < 400:
            return None  # no server accepts RCPT or data without a transaction
        return code

    def _default(self, verb: str, line: bytes) -> int:
        if verb == "MAIL":
            return 553 if b"reject@sender.test" in line else 250
        if verb == "RCPT":
            if self.sender is None:
                return 503
            return 550 if b"@refused.test" in line else 451 if b"@tempfail.test" in line else 250
        if verb == "DATA":
            return 354 if self.sender is not None and self.accepted else 554
        return 250

    def _finish(self, content: bytes) -> Reply:
        failure = _FAIL_DATA.search(content)
        code = int(failure[1]) if failure else 250
        if not self.accepted:
            code = 554
        if code == 250:
            assert self.sender is not None
            self.delivered.append((self.sender, tuple(self.accepted), content))
        replies = [Reply(code, b"final %d" % code)] * (len(self.accepted) if self.lmtp else 1)
        self.sender, self.accepted = None, []
        self.queued.extend(replies[1:])
        return replies[0] if replies else Reply(code, b"final")


@dataclass
class Run:
    writes: list[bytes]
    results: list[SendResult]
    engine: BatchEngine


def drive(
    engine: BatchEngine,
    server: WireModel,
    *,
    lose_after_replies: int | None = None,
    take_ahead: bool = False,
) -> Run:
    """The driver loop of batch.py's docstring; optionally the connection dies, and
    optionally the next item is taken after each write (as exchanges.batch does)."""
    writes: list[bytes] = []
    results: list[SendResult] = []
    replies = 0
    while not engine.finished:
        out = engine.data_to_send()
        if out:
            writes.append(out)
            server.receive(out)
            if take_ahead:
                engine.take_ahead()
            continue
        if not engine.awaiting_replies or engine.closing_reply is not None:
            break
        if replies == lose_after_replies:
            engine.connection_lost(SMTPServerDisconnected("gone"))
            break
        reply = server.next_reply()
        assert reply is not None, f"engine waits for a reply to nothing; wrote {writes!r}"
        replies += 1
        engine.receive_reply(reply)
        results.extend(engine.pop_results())
    results.extend(engine.pop_results())
    return Run(writes, results, engine)


def batch(
    items: Iterable[PreparedTransaction | UnpreparedMessage],
    *,
    pipelining: bool = True,
    window: int = 32,
    lmtp: bool = False,
    override: Override | None = None,
    lose_after_replies: int | None = None,
    take_ahead: bool = False,
) -> tuple[Run, WireModel]:
    engine = BatchEngine(iter(items), pipelining=pipelining, window=window, lmtp=lmtp)
    server = WireModel(lmtp=lmtp, override=override)
    run = drive(engine, server, lose_after_replies=lose_after_replies, take_ahead=take_ahead)
    return run, server


def states(run: Run) -> list[MessageState]:
    return [r.state for r in run.results]


# -- writes ---------------------------------------------------------------------


def test_pipelined_data_mode_groups_commands_and_content_with_next_commands() -> None:
    first = prepare(envelope(0, "a@example.test", "b@example.test"))
    second = prepare(envelope(1))
    run, _ = batch([first, second])
    assert run.writes == [
        first.mail + first.rcpts[0] + first.rcpts[1] + b"DATA\r\n",
        first.payload + second.mail + second.rcpts[0] + b"DATA\r\n",
        second.payload,
    ]
    assert states(run) == [MessageState.SENT, MessageState.SENT]


def test_pipelined_bdat_puts_a_window_of_whole_transactions_in_one_write() -> None:
    txns = [prepare(envelope(i), bdat=True) for i in range(3)]
    run, server = batch(txns, window=2)
    assert run.writes[0] == txns[0].mail + txns[0].rcpts[0] + txns[0].payload + (
        b"RSET\r\n" + txns[1].mail + txns[1].rcpts[0] + txns[1].payload
    )
    assert len(run.writes) == 2
    assert b"BDAT" in run.writes[1] and txns[2].mail in run.writes[1]
    assert states(run) == [MessageState.SENT] * 3
    assert len(server.delivered) == 3


@pytest.mark.parametrize("bdat", [False, True])
def test_awaiting_final_only_while_the_reply_after_the_content_is_next(bdat: bool) -> None:
    # the driver gives that reply the longer data_final limit (a server may scan the content)
    engine = BatchEngine(iter([prepare(envelope(0), bdat=bdat)]), pipelining=True)
    server = WireModel()
    seen: list[bool] = []
    while not engine.finished:
        out = engine.data_to_send()
        if out:
            server.receive(out)
            continue
        seen.append(engine.awaiting_final)
        reply = server.next_reply()
        assert reply is not None
        engine.receive_reply(reply)
    assert not engine.awaiting_final
    # MAIL, RCPT, then the final reply (DATA mode: its 354 comes before the content)
    assert seen == ([False, False, True] if bdat else [False, False, False, True])


def test_without_pipelining_one_command_per_write() -> None:
    first = prepare(envelope(0, "a@example.test", "b@example.test"))
    second = prepare(envelope(1))
    run, _ = batch([first, second], pipelining=False)
    assert run.writes == [
        first.mail,
        first.rcpts[0],
        first.rcpts[1],
        b"DATA\r\n",
        first.payload,
        second.mail,
        second.rcpts[0],
        b"DATA\r\n",
        second.payload,
    ]
    assert states(run) == [MessageState.SENT, MessageState.SENT]


def test_without_pipelining_refused_sender_stops_before_rcpt_and_resets() -> None:
    txn = prepare(envelope(0, sender="reject@sender.test"))
    run, _ = batch([txn, prepare(envelope(1))], pipelining=False)
    assert run.writes[:2] == [txn.mail, b"RSET\r\n"]
    assert states(run) == [MessageState.REFUSED, MessageState.SENT]
    assert isinstance(run.results[0].error, SMTPSenderRefused)
    assert run.results[0].reply is not None and run.results[0].reply.code == 553


# -- per-message outcomes ---------------------------------------------------------


def test_refused_recipient_mid_group_is_reported_and_the_rest_delivered() -> None:
    txn = prepare(envelope(0, "a@example.test", "x@refused.test", "c@example.test"))
    run, server = batch([txn, prepare(envelope(1))])
    [first, second] = run.results
    assert first.state is MessageState.SENT
    assert first.accepted == ("a@example.test", "c@example.test")
    assert set(first.refused) == {"x@refused.test"}
    assert first.refused["x@refused.test"].code == 550
    assert second.state is MessageState.SENT
    assert [d[1] for d in server.delivered] == [
        (b"rcpt to:<a@example.test>", b"rcpt to:<c@example.test>"),
        (b"rcpt to:<rcpt@example.test>",),
    ]


def test_all_recipients_refused_then_354_sends_only_the_dot() -> None:
    txn = prepare(envelope(0, "x@refused.test", "y@tempfail.test"))
    run, server = batch([txn], override=lambda verb, _: 354 if verb == "DATA" else None)
    assert run.writes[1] == b".\r\n"
    [result] = run.results
    assert result.state is MessageState.REFUSED
    assert isinstance(result.error, SMTPRecipientsRefused)
    assert {r: c for r, (c, _) in result.error.recipients.items()} == {
        "x@refused.test": 550,
        "y@tempfail.test": 451,
    }
    assert server.delivered == []


def test_all_recipients_refused_and_data_refused_sends_no_content() -> None:
    txn = prepare(envelope(0, "x@refused.test"))
    run, _ = batch([txn, prepare(envelope(1))])
    assert all(txn.payload not in w for w in run.writes)
    assert states(run) == [MessageState.REFUSED, MessageState.SENT]


@pytest.mark.parametrize("code", [421 + 1, 451, 452, 550, 553])
def test_refused_mail_is_recorded_with_its_code(code: int) -> None:
    txn = prepare(envelope(0))
    override: Override = lambda verb, line: code if line == txn.mail[:-2] else None  # noqa: E731
    run, server = batch([txn, prepare(envelope(1))], override=override)
    [first, second] = run.results
    assert first.state is MessageState.REFUSED
    assert isinstance(first.error, SMTPSenderRefused)
    assert first.error.smtp_code == code
    assert second.state is MessageState.SENT
    assert len(server.delivered) == 1
    assert txn.payload not in b"".join(run.writes)


def test_data_command_refused_with_5xx() -> None:
    txn = prepare(envelope(0))
    run, server = batch([txn, prepare(envelope(1))], override=_nth("DATA", 1, 554))
    [first, second] = run.results
    assert first.state is MessageState.REFUSED
    assert isinstance(first.error, SMTPDataError) and first.error.smtp_code == 554
    assert txn.payload not in b"".join(run.writes)
    assert second.state is MessageState.SENT
    assert len(server.delivered) == 1


@pytest.mark.parametrize("bdat", [False, True], ids=["data", "bdat"])
@pytest.mark.parametrize("code", [452, 554])
def test_final_reply_refusal(bdat: bool, code: int) -> None:
    bad = prepare(envelope(0, body=b"X-Fail-Data: %d\r\n" % code), bdat=bdat)
    run, server = batch([bad, prepare(envelope(1), bdat=bdat)])
    [first, second] = run.results
    assert first.state is MessageState.REFUSED
    assert isinstance(first.error, SMTPDataError) and first.error.smtp_code == code
    assert first.reply is not None and first.reply.code == code
    assert second.state is MessageState.SENT
    assert len(server.delivered) == 1


def test_bdat_failure_is_followed_by_rset_before_the_next_transaction() -> None:
    txns = [
        prepare(envelope(i, body=b"X-Fail-Data: 554\r\n" if i == 0 else b""), bdat=True)
        for i in range(2)
    ]
    run, _ = batch(txns, window=1)
    assert run.writes[1].startswith(b"RSET\r\n" + txns[1].mail)
    assert states(run) == [MessageState.REFUSED, MessageState.SENT]


def test_421_in_the_middle_ends_the_batch() -> None:
    txns = [prepare(envelope(i)) for i in range(4)]
    run, server = batch(txns, override=_nth("MAIL", 2, 421))
    assert states(run) == [
        MessageState.SENT,
        MessageState.REFUSED,
        MessageState.NOT_ATTEMPTED,
        MessageState.NOT_ATTEMPTED,
    ]
    assert run.results[1].reply is not None and run.results[1].reply.code == 421
    assert run.engine.closing_reply is not None and run.engine.closing_reply.code == 421
    assert run.engine.data_to_send() == b""
    assert len(server.delivered) == 1


def test_421_to_a_recipient_refuses_the_message() -> None:
    txns = [prepare(envelope(i, "a@example.test", "b@example.test")) for i in range(2)]
    run, _ = batch(txns, override=_nth("RCPT", 2, 421))
    assert states(run) == [MessageState.REFUSED, MessageState.NOT_ATTEMPTED]
    assert b"".join(run.writes).count(txns[0].payload) == 0


def _nth(verb: str, n: int, code: int) -> Override:
    """Answer ``code`` to the n-th (1-based) command with this verb."""
    seen = 0

    def override(seen_verb: str, _line: bytes) -> int | None:
        nonlocal seen
        if seen_verb != verb:
            return None
        seen += 1
        return code if seen == n else None

    return override


# -- lost connections -------------------------------------------------------------


def test_connection_lost_before_the_dot_is_not_attempted() -> None:
    txns = [prepare(envelope(i)) for i in range(3)]
    run, _ = batch(txns, lose_after_replies=2)  # MAIL and RCPT answered, not DATA
    assert states(run) == [MessageState.NOT_ATTEMPTED] * 3
    assert all(isinstance(r.error, SMTPServerDisconnected) for r in run.results)


def test_connection_lost_after_the_dot_is_unknown() -> None:
    txns = [prepare(envelope(i)) for i in range(3)]
    run, _ = batch(txns, lose_after_replies=3)  # 354 came, the content was written
    assert txns[0].payload in run.writes[1]
    assert states(run) == [
        MessageState.UNKNOWN,
        MessageState.NOT_ATTEMPTED,
        MessageState.NOT_ATTEMPTED,
    ]
    assert run.results[0].unknown and not run.results[0].ok


def test_connection_lost_after_bdat_written_is_unknown() -> None:
    txns = [prepare(envelope(i), bdat=True) for i in range(4)]
    run, _ = batch(txns, window=2, lose_after_replies=3)
    # the first got its final reply, then the third joined the second in flight
    assert txns[2].payload in run.writes[-1]
    assert states(run) == [
        MessageState.SENT,
        MessageState.UNKNOWN,
        MessageState.UNKNOWN,
        MessageState.NOT_ATTEMPTED,
    ]


def test_connection_lost_keeps_results_already_concluded() -> None:
    txns = [prepare(envelope(i)) for i in range(3)]
    run, _ = batch(txns, lose_after_replies=4)
    assert states(run) == [
        MessageState.SENT,
        MessageState.NOT_ATTEMPTED,
        MessageState.NOT_ATTEMPTED,
    ]


# -- order, laziness, preparation errors ---------------------------------------------


def test_results_are_in_input_order_with_their_envelopes() -> None:
    envs = [envelope(i, f"r{i}@example.test") for i in range(10)]
    run, _ = batch(prepare(e) for e in envs)
    assert [r.index for r in run.results] == list(range(10))
    assert [r.sender for r in run.results] == [e.sender for e in envs]
    assert [r.recipients for r in run.results] == [tuple(e.recipients) for e in envs]


def test_unprepared_message_becomes_its_own_result_in_place() -> None:
    error = SMTPMessageTooLarge(10, 5)
    items = [
        prepare(envelope(0)),
        UnpreparedMessage(error, "s@x.test", ("r@x.test",)),
        prepare(envelope(2)),
    ]
    run, server = batch(items)
    assert states(run) == [MessageState.SENT, MessageState.NOT_ATTEMPTED, MessageState.SENT]
    assert run.results[1].error is error
    assert run.results[1].recipients == ("r@x.test",)
    assert len(server.delivered) == 2


def test_message_without_recipients_is_not_attempted() -> None:
    empty = prepare_transaction(Envelope("s@example.test", [], b"x\r\n"), FEATURES, use_bdat=False)
    run, _ = batch([empty, prepare(envelope(1))])
    assert states(run) == [MessageState.NOT_ATTEMPTED, MessageState.SENT]
    assert empty.mail not in b"".join(run.writes)


class CountingItems:
    def __init__(self, items: list[PreparedTransaction]) -> None:
        self.items = items
        self.pulled = 0

    def __iter__(self) -> Iterator[PreparedTransaction]:
        for item in self.items:
            self.pulled += 1
            yield item


@pytest.mark.parametrize("window", [1, 3, 8])
def test_items_are_pulled_lazily_within_the_window(window: int) -> None:
    source = CountingItems([prepare(envelope(i), bdat=True) for i in range(20)])
    engine = BatchEngine(iter(source), pipelining=True, window=window)
    assert source.pulled == 0
    server = WireModel()
    server.receive(engine.data_to_send())
    assert source.pulled == window
    assert engine.data_to_send() == b""
    assert source.pulled == window  # nothing more until replies come
    concluded = 0
    while not engine.finished:
        out = engine.data_to_send()
        if out:
            server.receive(out)
        elif engine.awaiting_replies:
            reply = server.next_reply()
            assert reply is not None
            engine.receive_reply(reply)
            concluded += len(engine.pop_results())
        assert source.pulled <= concluded + window
    assert concluded == 20 and source.pulled == 20


def test_data_mode_pulls_one_item_until_its_354() -> None:
    source = CountingItems([prepare(envelope(i)) for i in range(5)])
    engine = BatchEngine(iter(source), pipelining=True, window=4)
    engine.data_to_send()
    assert source.pulled == 1


def test_take_ahead_takes_one_item_early_and_changes_no_write() -> None:
    source = CountingItems([prepare(envelope(i)) for i in range(5)])
    engine = BatchEngine(iter(source), pipelining=True, window=4)
    first_write = engine.data_to_send()
    engine.take_ahead()
    engine.take_ahead()  # one item at most is held
    assert source.pulled == 2
    server = WireModel()
    server.receive(first_write)
    run = drive(engine, server, take_ahead=True)
    plain, _ = batch([prepare(envelope(i)) for i in range(5)])
    assert [first_write, *run.writes] == plain.writes
    assert states(run) == states(plain)


def test_an_item_taken_ahead_is_not_attempted_when_the_connection_is_lost() -> None:
    txns = [prepare(envelope(i)) for i in range(3)]
    run, _ = batch(txns, lose_after_replies=2, take_ahead=True)
    assert states(run) == [MessageState.NOT_ATTEMPTED] * 3


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window must be at least 1"):
        BatchEngine(iter([]), pipelining=True, window=0)


# -- LMTP -----------------------------------------------------------------------------


def test_lmtp_one_final_reply_per_accepted_recipient() -> None:
    txn = prepare(envelope(0, "a@example.test", "x@refused.test", "c@example.test"))
    run, server = batch([txn, prepare(envelope(1))], lmtp=True)
    assert states(run) == [MessageState.SENT, MessageState.SENT]
    assert run.results[0].accepted == ("a@example.test", "c@example.test")
    assert server.queued == []  # every per-recipient reply was consumed


def test_lmtp_per_recipient_refusal_after_the_data() -> None:
    txn = prepare(envelope(0, "a@example.test", "b@example.test"))
    engine = BatchEngine(iter([txn]), pipelining=True, lmtp=True)
    assert engine.data_to_send() == txn.mail + txn.rcpts[0] + txn.rcpts[1] + b"DATA\r\n"
    for code in (250, 250, 250, 354):
        engine.receive_reply(Reply(code, b""))
    assert engine.data_to_send() == txn.payload
    engine.receive_reply(Reply(250, b"a delivered"))
    assert engine.pop_results() == []  # one more reply is due
    engine.receive_reply(Reply(452, b"4.2.2 b over quota"))
    [result] = engine.pop_results()
    assert engine.finished
    assert result.state is MessageState.SENT
    assert result.accepted == ("a@example.test",)
    assert result.refused["b@example.test"].code == 452


def test_lmtp_every_recipient_refused_after_the_data() -> None:
    txn = prepare(envelope(0, "a@example.test", "b@example.test"))
    engine = BatchEngine(iter([txn]), pipelining=True, lmtp=True)
    engine.data_to_send()
    for code in (250, 250, 250, 354):
        engine.receive_reply(Reply(code, b""))
    engine.data_to_send()
    engine.receive_reply(Reply(550, b"a no"))
    engine.receive_reply(Reply(452, b"b full"))
    [result] = engine.pop_results()
    assert result.state is MessageState.REFUSED
    assert isinstance(result.error, SMTPDataError)


# -- invariants under arbitrary server behaviour ---------------------------------------

_codes = st.sampled_from([250, 250, 250, 421, 451, 452, 503, 550, 553, 554])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 6),
    bdat=st.booleans(),
    pipelining=st.booleans(),
    window=st.integers(1, 4),
    answers=st.dictionaries(st.integers(0, 40), _codes, max_size=8),
    lose_after=st.none() | st.integers(0, 40),
    take_ahead=st.booleans(),
)
def test_every_message_ends_in_exactly_one_state_and_sent_means_delivered(
    n: int,
    bdat: bool,
    pipelining: bool,
    window: int,
    answers: dict[int, int],
    lose_after: int | None,
    take_ahead: bool,
) -> None:
    counter = iter(range(10_000))

    def override(verb: str, _line: bytes) -> int | None:
        number = next(counter)
        code = answers.get(number)
        return None if code is None or (verb == "DATA" and code == 250) else code

    txns = [prepare(envelope(i, f"r{i}@example.test"), bdat=bdat and pipelining) for i in range(n)]
    run, server = batch(
        txns,
        pipelining=pipelining,
        window=window,
        override=override,
        lose_after_replies=lose_after,
        take_ahead=take_ahead,
    )
    assert [r.index for r in run.results] == list(range(n))
    delivered = {content for _, _, content in server.delivered}
    for result in run.results:
        if result.state is MessageState.SENT:
            assert result.reply is not None and result.reply.code == 250
            assert b"message %d\r\n" % result.index in b"".join(delivered)
    sent = sum(r.state is MessageState.SENT for r in run.results)
    assert sent <= len(server.delivered)
