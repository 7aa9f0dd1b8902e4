"""send_many against real servers: pipelined DATA, CHUNKING/BDAT, failures, lost connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from smtp_backend import (
    SMTP,
    Envelope,
    MessageState,
    SendResult,
    SMTPDataError,
    SMTPMessageTooLarge,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
)
from smtp_backend.protocol import encode_data
from tests.conftest import SMTPServerFactory
from tests.servers import (
    Close,
    Expect,
    ReadData,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    Stall,
    ehlo_reply,
)

SENT, REFUSED = MessageState.SENT, MessageState.REFUSED
NOT_ATTEMPTED, UNKNOWN = MessageState.NOT_ATTEMPTED, MessageState.UNKNOWN


def body(i: int, extra: bytes = b"") -> bytes:
    return b"Subject: message %d\r\nMessage-ID: <%d@example.test>\r\n%s\r\n.line %d\r\n" % (
        i,
        i,
        extra,
        i,
    )


def envelope(
    i: int, *recipients: str, sender: str = "alice@example.test", extra: bytes = b""
) -> Envelope:
    return Envelope(sender, recipients or (f"r{i}@example.test",), body(i, extra))


@pytest.fixture(params=["data", "bdat"])
def server(
    request: pytest.FixtureRequest, smtp_server_factory: SMTPServerFactory
) -> RecordingSMTPServer:
    return smtp_server_factory(chunking=request.param == "bdat")


def transfer(server: RecordingSMTPServer) -> str:
    return "BDAT" if server.options.chunking else "DATA"


def send_many(server: RecordingSMTPServer, items: object, **kwargs: object) -> list[SendResult]:
    with SMTP(server.host, server.port, local_hostname="client.test", timeout=20) as client:
        return client.send_many(items, **kwargs)  # type: ignore[arg-type]


def test_200_messages_arrive_exactly_once_with_exact_bytes(server: RecordingSMTPServer) -> None:
    envelopes = [envelope(i) for i in range(200)]
    results = send_many(server, envelopes)
    assert [r.state for r in results] == [SENT] * 200
    assert [r.index for r in results] == list(range(200))
    assert all(r.reply is not None and r.reply.code == 250 for r in results)
    received = server.messages
    assert sorted(m.content for m in received) == sorted(e.data for e in envelopes)
    assert Counter(m.rcpt_tos for m in received) == Counter(tuple(e.recipients) for e in envelopes)
    assert {m.transfer for m in received} == {transfer(server)}
    assert server.connections == 1


def test_failures_are_recorded_per_message_and_the_batch_goes_on(
    server: RecordingSMTPServer,
) -> None:
    items = []
    for i in range(40):
        kind = i % 5
        if kind == 1:
            items.append(envelope(i, f"a{i}@example.test", f"x{i}@refused.test"))
        elif kind == 2:
            items.append(envelope(i, f"t{i}@tempfail.test"))
        elif kind == 3:
            items.append(envelope(i, sender="reject@sender.test"))
        elif kind == 4 and i % 10 == 4:
            items.append(envelope(i, extra=b"X-Fail-Data: 554\r\n"))
        else:
            items.append(envelope(i))
    results = send_many(server, items)
    assert [r.index for r in results] == list(range(40))
    delivered: list[bytes] = []
    for i, result in enumerate(results):
        kind = i % 5
        if kind == 1:
            assert result.state is SENT
            assert result.accepted == (f"a{i}@example.test",)
            assert result.refused[f"x{i}@refused.test"].code == 550
            delivered.append(items[i].data)
        elif kind == 2:
            assert result.state is REFUSED
            assert isinstance(result.error, SMTPRecipientsRefused)
            assert result.refused[f"t{i}@tempfail.test"].code == 451
        elif kind == 3:
            assert result.state is REFUSED
            assert isinstance(result.error, SMTPSenderRefused)
            assert result.error.smtp_code == 553
        elif kind == 4 and i % 10 == 4:
            assert result.state is REFUSED
            assert isinstance(result.error, SMTPDataError)
            assert result.error.smtp_code == 554
        else:
            assert result.state is SENT, result
            delivered.append(items[i].data)
    received = [m.content for m in server.messages]
    assert sorted(received) == sorted(delivered)  # every other message, exactly once
    for message in server.messages:
        assert not any(r.endswith(("@refused.test", "@tempfail.test")) for r in message.rcpt_tos)
        assert message.mail_from == "alice@example.test"


def test_each_message_keeps_its_own_envelope(server: RecordingSMTPServer) -> None:
    # after a refused transaction the next one must not inherit its sender or recipients
    items = [
        envelope(0, "a@example.test", extra=b"X-Fail-Data: 554\r\n"),
        envelope(1, "b@example.test"),
        envelope(2, "x@refused.test", sender="reject@sender.test"),
        envelope(3, "c@example.test", sender="bob@example.test"),
    ]
    results = send_many(server, items)
    assert [r.state for r in results] == [REFUSED, SENT, REFUSED, SENT]
    assert [(m.mail_from, m.rcpt_tos) for m in server.messages] == [
        ("alice@example.test", ("b@example.test",)),
        ("bob@example.test", ("c@example.test",)),
    ]


def test_message_over_size_fails_alone(smtp_server_factory: SMTPServerFactory) -> None:
    server = smtp_server_factory(size_limit=2000, chunking=True)
    items = [envelope(0), envelope(1, extra=b"X-Big: " + b"x" * 3000 + b"\r\n"), envelope(2)]
    results = send_many(server, items)
    assert [r.state for r in results] == [SENT, NOT_ATTEMPTED, SENT]
    assert isinstance(results[1].error, SMTPMessageTooLarge)
    assert results[1].recipients == ("r1@example.test",)
    assert [m.content for m in server.messages] == [items[0].data, items[2].data]
    assert server.verbs().count("MAIL") == 2


def test_envelopes_and_email_messages_mixed(server: RecordingSMTPServer) -> None:
    message = EmailMessage()
    message["From"] = "carol@example.test"
    message["To"] = "dave@example.test"
    message["Bcc"] = "hidden@example.test"
    message["Subject"] = "an EmailMessage"
    message["Message-ID"] = "<mixed@example.test>"
    message.set_content("hello\n")
    results = send_many(server, [envelope(0), message, envelope(2)])
    assert [r.state for r in results] == [SENT] * 3
    assert results[1].message_id == "<mixed@example.test>"
    assert results[1].recipients == ("dave@example.test", "hidden@example.test")
    [received] = [m for m in server.messages if m.mail_from == "carol@example.test"]
    assert received.rcpt_tos == ("dave@example.test", "hidden@example.test")
    assert b"hidden@example.test" not in received.content
    assert b"Subject: an EmailMessage" in received.content


def test_bad_item_type_fails_alone(server: RecordingSMTPServer) -> None:
    results = send_many(server, [envelope(0), "not a message", envelope(2)])
    assert [r.state for r in results] == [SENT, NOT_ATTEMPTED, SENT]
    assert isinstance(results[1].error, TypeError)


def test_generator_of_2000_is_streamed_lazily(server: RecordingSMTPServer) -> None:
    window = 16

    def messages() -> Iterator[Envelope]:
        for i in range(2000):
            # item i is pulled only once all but a window's worth before it are done
            assert len(server.messages) >= i - window - 1, (i, len(server.messages))
            yield envelope(i)

    results = send_many(server, messages(), window=window)
    assert len(results) == 2000
    assert all(r.state is SENT for r in results)
    assert len(server.messages) == 2000
    assert len({m.content for m in server.messages}) == 2000


def test_lock_step_gives_the_same_results(server: RecordingSMTPServer) -> None:
    items = [
        envelope(0),
        envelope(1, "a@example.test", "x@refused.test"),
        envelope(2, sender="reject@sender.test"),
        envelope(3, extra=b"X-Fail-Data: 554\r\n"),
        envelope(4),
    ]
    with SMTP(server.host, server.port, local_hostname="client.test") as client:
        client.pipelining = False
        lock_step = client.send_many(items)
    with SMTP(server.host, server.port, local_hostname="client.test") as client:
        pipelined = client.send_many(items)

    def summary(results: list[SendResult]) -> list[object]:
        return [(r.state, r.accepted, sorted(r.refused), type(r.error)) for r in results]

    assert summary(lock_step) == summary(pipelined)
    assert summary(lock_step)[0][0] is SENT
    by_connection = Counter(m.connection for m in server.messages)
    assert by_connection == {1: 3, 2: 3}
    # lock-step never uses BDAT: it needs pipelining to frame whole transactions
    assert {m.transfer for m in server.messages if m.connection == 1} == {"DATA"}


def test_bdat_message_without_final_newline(chunking_server: RecordingSMTPServer) -> None:
    items = [
        Envelope("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\nno newline"),
        envelope(1),
    ]
    results = send_many(chunking_server, items)
    assert [r.state for r in results] == [SENT, SENT]
    assert [m.content for m in chunking_server.messages] == [
        b"Subject: x\r\n\r\nno newline\r\n",
        items[1].data,
    ]


# -- lost connections, scripted --------------------------------------------------------------

GREETING = Send(b"220 fake ESMTP\r\n")
EHLO = Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING", "8BITMIME"))


def scripted_send_many(server: ScriptedServer, count: int) -> tuple[SMTP, list[SendResult]]:
    client = SMTP(server.host, server.port, local_hostname="client.test", timeout=10)
    results = client.send_many([envelope(i) for i in range(count)])
    return client, results


def test_connection_closed_after_mail_and_rcpt_is_not_attempted(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)mail from:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)rcpt to:<r0@example\.test>", b"250 ok\r\n"),
        Close(),
    )
    client, results = scripted_send_many(scripted_server, 3)
    assert [r.state for r in results] == [NOT_ATTEMPTED] * 3
    assert client.sock is None  # a connection in an unknown state is never reused
    assert not any(r.ok for r in results)


def test_connection_closed_after_the_dot_is_unknown(scripted_server: ScriptedServer) -> None:
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)mail from:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)rcpt to:<r0@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)data", b"354 go ahead\r\n"),
        ReadData(reply=b""),  # the message is read, its reply never comes
        Close(),
    )
    client, results = scripted_send_many(scripted_server, 3)
    assert [r.state for r in results] == [UNKNOWN, NOT_ATTEMPTED, NOT_ATTEMPTED]
    assert results[0].unknown and not results[0].ok
    assert client.sock is None
    scripted_server.join()
    assert scripted_server.messages == [encode_data(body(0))]


def test_connection_closed_after_first_message_keeps_it_sent(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)mail from:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)rcpt to:<r0@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)data", b"354 go ahead\r\n"),
        ReadData(reply=b"250 queued as 1\r\n"),
        Expect(rb"(?i)mail from:<alice@example\.test>", b"250 ok\r\n"),
        Close(),
    )
    _client, results = scripted_send_many(scripted_server, 3)
    assert [r.state for r in results] == [SENT, NOT_ATTEMPTED, NOT_ATTEMPTED]
    assert results[0].reply is not None and results[0].reply.message == b"queued as 1"


def test_421_mid_batch_ends_it(scripted_server: ScriptedServer) -> None:
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)mail from:.*", b"421 4.3.2 shutting down\r\n"),
        Close(),
    )
    client, results = scripted_send_many(scripted_server, 2)
    assert results[0].state is REFUSED and results[0].reply is not None
    assert results[0].reply.code == 421
    assert results[1].state is NOT_ATTEMPTED
    assert client.sock is None


def test_slow_pipelining_server_is_answered_correctly(scripted_server: ScriptedServer) -> None:
    def transaction(i: int) -> list[object]:
        return [
            Expect(rb"(?i)mail from:<alice@example\.test>"),
            Expect(rb"(?i)rcpt to:<r%d@example\.test>" % i),
            Expect(rb"(?i)data"),
            Stall(0.2),
            Send(b"250 ok\r\n"),
            Stall(0.1),
            Send(b"250 ok\r\n"),
            Stall(0.1),
            Send(b"354 go ahead\r\n"),
            ReadData(reply=b""),
            Stall(0.2),
            Send(b"250 queued %d\r\n" % i),
        ]

    scripted_server.play(
        GREETING,
        EHLO,
        *transaction(0),  # type: ignore[arg-type]
        *transaction(1),  # type: ignore[arg-type]
        Expect(rb"(?i)quit", b"221 bye\r\n"),
        Close(),
    )
    with SMTP(scripted_server.host, scripted_server.port, local_hostname="client.test") as client:
        results = client.send_many([envelope(0), envelope(1)])
    assert [r.state for r in results] == [SENT, SENT]
    assert [r.reply.message if r.reply else None for r in results] == [b"queued 0", b"queued 1"]
    scripted_server.join()
    assert scripted_server.errors == []
    assert scripted_server.messages == [encode_data(body(0)), encode_data(body(1))]


def test_all_recipients_refused_but_data_accepted_sends_only_the_dot(
    scripted_server: ScriptedServer,
) -> None:
    # RFC 2920 §3.1: after a 354 with no recipient accepted, the client sends the dot alone
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)mail from:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)rcpt to:<x@refused\.test>", b"550 5.1.1 no such user\r\n"),
        Expect(rb"(?i)data", b"354 go ahead\r\n"),
        ReadData(reply=b"554 5.5.1 no valid recipients\r\n"),
        Expect(rb"(?i)quit", b"221 bye\r\n"),
        Close(),
    )
    with SMTP(
        scripted_server.host, scripted_server.port, local_hostname="client.test", timeout=3
    ) as client:
        [result] = client.send_many([envelope(0, "x@refused.test")])
    assert result.state is REFUSED
    assert isinstance(result.error, SMTPRecipientsRefused)
    scripted_server.join()
    assert scripted_server.messages == [b".\r\n"]
    assert scripted_server.errors == []
