"""BatchEngine fed scripted replies at the edges: a 354 nothing can use, 251, DATA refused
or answered neither 354 nor a refusal, 421 to RSET, garbage and unexpected replies, and
what every kind of result carries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from smtp_backend.errors import (
    SMTPDataError,
    SMTPProtocolError,
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
CLOSING = "the server is closing the connection"


def txn(i: int, *recipients: str, bdat: bool = False) -> PreparedTransaction:
    env = Envelope(
        f"s{i}@example.test",
        recipients or (f"r{i}@example.test",),
        b"Subject: %d\r\n\r\nbody\r\n" % i,
        message_id=f"<{i}@example.test>",
    )
    return prepare_transaction(env, FEATURES, use_bdat=bdat)


@dataclass
class Run:
    writes: list[bytes]
    results: list[SendResult]
    engine: BatchEngine


def run(
    items: list[PreparedTransaction | UnpreparedMessage],
    replies: list[int | Reply],
    *,
    pipelining: bool = True,
    lmtp: bool = False,
    then_lose: bool = False,
) -> Run:
    """Drive the engine as the driver does, answering with ``replies`` in order (all are
    used); ``then_lose``: when they run out the connection is lost."""
    engine = BatchEngine(iter(items), pipelining=pipelining, lmtp=lmtp)
    writes: list[bytes] = []
    results: list[SendResult] = []
    answers = iter(replies)
    while not engine.finished and engine.closing_reply is None:
        out = engine.data_to_send()
        if out:
            writes.append(out)
            continue
        if not engine.awaiting_replies:
            break
        answer = next(answers, None)
        if answer is None:
            assert then_lose, "the engine waits for a reply the script does not have"
            engine.connection_lost(SMTPServerDisconnected("gone"))
            break
        engine.receive_reply(
            answer if isinstance(answer, Reply) else Reply(answer, b"r%d" % answer)
        )
        results.extend(engine.pop_results())
    results.extend(engine.pop_results())
    assert next(answers, None) is None, "a scripted reply was never asked for"
    return Run(writes, results, engine)


def states(r: Run) -> list[MessageState]:
    return [result.state for result in r.results]


# -- what the engine writes -------------------------------------------------------------


def test_a_354_after_a_refused_sender_gets_only_the_dot_though_a_recipient_was_accepted() -> None:
    # a server that refused MAIL has no transaction, whatever it answered to RCPT
    first = txn(0)
    r = run([first], [550, 250, 354, 503])
    assert r.writes == [first.mail + first.rcpts[0] + b"DATA\r\n", b".\r\n"]
    [result] = r.results
    assert result.state is MessageState.REFUSED
    assert isinstance(result.error, SMTPSenderRefused)
    assert (result.error.smtp_code, result.error.smtp_error) == (550, b"r550")
    assert result.error.sender == "s0@example.test"


def test_smtp_expects_one_reply_after_the_data_however_many_recipients() -> None:
    # only LMTP answers the data once per recipient; BatchEngine speaks SMTP unless told
    message = txn(0, "a@example.test", "b@example.test", "c@example.test")
    engine = BatchEngine(iter([message]), pipelining=True)
    engine.data_to_send()
    for code in (250, 250, 250, 250, 354):
        engine.receive_reply(Reply(code, b""))
    assert engine.data_to_send() == message.payload
    engine.receive_reply(Reply(250, b"queued"))
    [result] = engine.pop_results()
    assert engine.finished
    assert result.state is MessageState.SENT
    assert result.accepted == ("a@example.test", "b@example.test", "c@example.test")


def test_pipelined_a_refused_sender_needs_no_rset() -> None:
    first, second = txn(0), txn(1)
    r = run([first, second], [553, 503, 554, 250, 250, 354, 250])
    assert b"RSET" not in b"".join(r.writes)
    assert states(r) == [MessageState.REFUSED, MessageState.SENT]


# -- recipients --------------------------------------------------------------------------


def test_a_251_recipient_is_accepted() -> None:
    # RFC 5321 §3.4: 251 "user not local; will forward" accepts the recipient
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message], [250, 251, 251, 354, 250])
    [result] = r.results
    assert result.state is MessageState.SENT
    assert result.accepted == ("a@example.test", "b@example.test")
    assert result.refused == {}
    assert r.writes[-1] == message.payload


def test_every_recipient_refused_is_reported_by_recipient_with_the_last_refusal() -> None:
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message], [250, 550, Reply(452, b"full"), 554, 250])
    [result] = r.results
    assert result.state is MessageState.REFUSED
    assert result.accepted == ()
    assert {k: v.code for k, v in result.refused.items()} == {
        "a@example.test": 550,
        "b@example.test": 452,
    }
    assert result.reply == Reply(452, b"full")
    assert isinstance(result.error, SMTPRecipientsRefused)


def test_a_refused_data_keeps_the_recipients_refused_before_it() -> None:
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message], [250, 550, 250, 354, Reply(554, b"5.7.1 spam")])
    [result] = r.results
    assert result.state is MessageState.REFUSED
    assert result.accepted == ()
    assert set(result.refused) == {"a@example.test"}
    assert isinstance(result.error, SMTPDataError)
    assert (result.error.smtp_code, result.error.smtp_error) == (554, b"5.7.1 spam")


def test_an_smtp_data_refusal_refuses_the_message_not_each_recipient() -> None:
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message], [250, 250, 250, 354, 554])
    [result] = r.results
    assert result.state is MessageState.REFUSED
    assert result.refused == {}
    assert result.reply is not None and result.reply.code == 554


def test_421_to_the_first_of_two_recipients_refuses_the_message_and_ends_the_batch() -> None:
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message, txn(1)], [250, 421])
    assert states(r) == [MessageState.REFUSED, MessageState.NOT_ATTEMPTED]
    assert r.results[0].refused["a@example.test"].code == 421
    assert isinstance(r.results[1].error, SMTPServerDisconnected)
    assert str(r.results[1].error) == CLOSING


def test_lmtp_421_for_the_only_recipient_refuses_the_message_with_it() -> None:
    r = run([txn(0, "a@example.test"), txn(1)], [250, 250, 354, 421], lmtp=True)
    assert states(r) == [MessageState.REFUSED, MessageState.NOT_ATTEMPTED]
    assert r.results[0].reply is not None and r.results[0].reply.code == 421
    assert isinstance(r.results[0].error, SMTPDataError)


def test_lmtp_421_before_every_recipient_was_answered_leaves_the_rest_unknown() -> None:
    # RFC 2033 4.2: one reply per recipient; the server closed before b's and c's came,
    # so whether it delivered to them is unknown: never reported sent, never resent.
    message = txn(0, "a@example.test", "b@example.test", "c@example.test")
    r = run([message, txn(1)], [250, 250, 250, 250, 354, 250, 421], lmtp=True)
    assert states(r) == [MessageState.UNKNOWN, MessageState.NOT_ATTEMPTED]
    result = r.results[0]
    assert result.accepted == ("a@example.test",)
    assert set(result.refused) == {"b@example.test"}
    assert result.refused["b@example.test"].code == 421
    assert result.reply is not None and result.reply.code == 421  # the last reply heard
    assert isinstance(result.error, SMTPServerDisconnected)
    assert str(result.error) == (
        "the server closed before its reply for 1 recipient(s) after the data:"
        " it may have delivered to them"
    )
    assert "c@example.test" not in result.accepted
    first = run([txn(0, "a@example.test", "b@example.test")], [250, 250, 250, 354, 421], lmtp=True)
    assert states(first) == [MessageState.UNKNOWN]
    assert first.results[0].accepted == ()
    assert set(first.results[0].refused) == {"a@example.test"}


def test_lmtp_421_as_the_last_recipients_reply_keeps_the_others_delivered() -> None:
    message = txn(0, "a@example.test", "b@example.test")
    r = run([message, txn(1)], [250, 250, 250, 354, 250, 421], lmtp=True)
    assert states(r) == [MessageState.SENT, MessageState.NOT_ATTEMPTED]
    assert r.results[0].accepted == ("a@example.test",)
    assert r.results[0].refused["b@example.test"].code == 421


# -- the reply to DATA ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 554])
def test_a_refused_data_command_refuses_the_message_with_its_reply_and_the_batch_goes_on(
    code: int,
) -> None:
    # any 4xx or 5xx to DATA (400 included) refuses this message, not the connection
    first, second = txn(0, "a@example.test", "b@example.test"), txn(1)
    no = Reply(code, b"no data now")
    r = run([first, second], [250, 550, 250, no, 250, 250, 250, 354, 250])
    assert r.writes[1].startswith(b"RSET\r\n" + second.mail)
    assert first.payload not in b"".join(r.writes)
    assert states(r) == [MessageState.REFUSED, MessageState.SENT]
    refused = r.results[0]
    assert refused.accepted == ()
    assert refused.refused == {"a@example.test": Reply(550, b"r550")}
    assert refused.reply == no
    assert isinstance(refused.error, SMTPDataError)
    assert (refused.error.smtp_code, refused.error.smtp_error) == (code, b"no data now")
    assert r.engine.closing_reply is None


def test_a_positive_reply_to_data_other_than_354_refuses_the_message_and_ends_the_batch() -> None:
    # the server may or may not be reading content now: nothing more on this connection
    odd = Reply(250, b"ok?")
    r = run([txn(0), txn(1)], [250, 250, odd])
    assert r.writes[-1].endswith(b"DATA\r\n")  # no content, no dot
    assert states(r) == [MessageState.REFUSED, MessageState.NOT_ATTEMPTED]
    refused, rest = r.results
    assert refused.reply == odd
    assert isinstance(refused.error, SMTPDataError)
    assert (refused.error.smtp_code, refused.error.smtp_error) == (250, b"ok?")
    assert isinstance(rest.error, SMTPProtocolError)
    assert (rest.error.smtp_code, rest.error.smtp_error) == (250, b"unexpected reply to DATA: ok?")
    assert r.engine.closing_reply == odd  # the reply that ended the batch
    assert r.engine.finished and r.engine.data_to_send() == b""


# -- 421 to RSET, garbage, unexpected replies -----------------------------------------------


@pytest.mark.parametrize("pipelining", [False, True])
def test_421_to_rset_ends_the_batch_and_keeps_the_result_before_it(pipelining: bool) -> None:
    # lock-step: RSET follows the refused MAIL; pipelined: it follows the refused DATA
    replies = [553, 421] if not pipelining else [250, 550, 554, 421]
    r = run([txn(0), txn(1), txn(2)], replies, pipelining=pipelining)
    assert b"RSET\r\n" in r.writes[-1]
    assert states(r) == [
        MessageState.REFUSED,
        MessageState.NOT_ATTEMPTED,
        MessageState.NOT_ATTEMPTED,
    ]
    assert all(str(result.error) == CLOSING for result in r.results[1:])
    assert r.engine.closing_reply == Reply(421, b"r421")  # the server's own, kept
    assert r.engine.data_to_send() == b""


@pytest.mark.parametrize("code", [-1, 99])
def test_an_unparsable_reply_ends_the_batch_with_a_protocol_error(code: int) -> None:
    r = run([txn(0), txn(1)], [Reply(code, b"garbage")])
    assert states(r) == [MessageState.NOT_ATTEMPTED] * 2
    for result in r.results:
        assert isinstance(result.error, SMTPProtocolError)
        assert (result.error.smtp_code, result.error.smtp_error) == (
            code,
            b"unparsable reply: garbage",
        )
    assert r.engine.closing_reply is not None  # the driver closes the connection
    assert r.engine.finished and r.engine.data_to_send() == b""


def test_a_reply_code_of_100_is_a_reply_and_refuses_the_sender_as_smtplib_does() -> None:
    r = run([txn(0), txn(1)], [100, 503, 554, 250, 250, 354, 250])
    assert states(r) == [MessageState.REFUSED, MessageState.SENT]
    assert isinstance(r.results[0].error, SMTPSenderRefused)


@pytest.mark.parametrize("code", [100, 250])
def test_a_reply_to_no_command_ends_the_batch_with_a_protocol_error(code: int) -> None:
    # a code of 100 and up is a reply, though an unexpected one; below 100 it is garbage
    first = txn(0)
    engine = BatchEngine(iter([first, txn(1)]), pipelining=False)
    for answer in (250, 250, 354):
        engine.data_to_send()
        engine.receive_reply(Reply(answer, b""))
    assert engine.data_to_send() == first.payload
    engine.receive_reply(Reply(250, b"queued"))
    engine.receive_reply(Reply(code, b"extra"))  # before the next MAIL was even written
    sent, lost = engine.pop_results()
    assert sent.state is MessageState.SENT
    assert lost.state is MessageState.NOT_ATTEMPTED
    assert isinstance(lost.error, SMTPProtocolError)
    assert (lost.error.smtp_code, lost.error.smtp_error) == (code, b"unexpected reply: extra")


# -- what every result carries ---------------------------------------------------------------


def test_every_kind_of_result_names_its_message() -> None:
    error = ValueError("bad input")
    in_flight, never_taken = txn(4), txn(5)
    items: list[PreparedTransaction | UnpreparedMessage] = [
        txn(0),
        txn(1),
        UnpreparedMessage(error, "u@example.test", ("v@example.test",), "<u@example.test>"),
        txn(3),
        in_flight,  # when the connection is lost
        never_taken,  # from the iterator
    ]
    r = run(items, [250, 250, 354, 250, 550, 503, 554, 250, 250, 354], then_lose=True)
    assert states(r) == [
        MessageState.SENT,
        MessageState.REFUSED,
        MessageState.NOT_ATTEMPTED,
        MessageState.UNKNOWN,
        MessageState.NOT_ATTEMPTED,
        MessageState.NOT_ATTEMPTED,
    ]
    assert in_flight.mail in r.writes[-1] and never_taken.mail not in b"".join(r.writes)
    for i in (0, 1, 3, 4, 5):
        result, item = r.results[i], items[i]
        assert isinstance(item, PreparedTransaction)
        assert (result.index, result.sender, result.recipients) == (
            i,
            item.sender,
            item.recipients,
        )
        assert (result.size, result.message_id) == (item.size, item.message_id)
        assert result.size > 0
    unprepared = r.results[2]
    assert (unprepared.index, unprepared.sender, unprepared.recipients) == (
        2,
        "u@example.test",
        ("v@example.test",),
    )
    assert (unprepared.error, unprepared.message_id) == (error, "<u@example.test>")


def test_a_message_without_recipients_is_refused_as_smtplib_refuses_it_unsent() -> None:
    empty = prepare_transaction(Envelope("s@example.test", [], b"x\r\n"), FEATURES, use_bdat=False)
    r = run([txn(0), empty, txn(2)], [250, 250, 354, 250, 250, 250, 354, 250])
    assert states(r) == [MessageState.SENT, MessageState.NOT_ATTEMPTED, MessageState.SENT]
    assert r.results[1].index == 1
    assert isinstance(r.results[1].error, SMTPRecipientsRefused)
    assert r.results[1].error.recipients == {}


def test_after_the_connection_is_lost_the_engine_is_finished_and_writes_nothing() -> None:
    engine = BatchEngine(iter([txn(0), txn(1)]), pipelining=True)
    engine.data_to_send()
    engine.connection_lost(SMTPServerDisconnected("gone"))
    assert engine.finished
    assert engine.closing_reply is not None  # the driver closes its end too
    assert engine.data_to_send() == b""
    assert [r.state for r in engine.pop_results()] == [MessageState.NOT_ATTEMPTED] * 2


def test_a_lost_connection_cancels_the_rset_owed_after_a_failed_bdat() -> None:
    # RFC 3030: a failed BDAT transaction is followed by RSET; not on a connection gone
    failed, nxt = txn(0, bdat=True), txn(1, bdat=True)
    engine = BatchEngine(iter([failed, nxt]), pipelining=True, window=1)
    engine.data_to_send()
    for code in (250, 250, 554):
        engine.receive_reply(Reply(code, b""))
    engine.connection_lost(SMTPServerDisconnected("gone"))
    assert engine.finished
    assert engine.data_to_send() == b""
    assert [r.state for r in engine.pop_results()] == [
        MessageState.REFUSED,
        MessageState.NOT_ATTEMPTED,
    ]
