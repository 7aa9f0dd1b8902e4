"""Mailer against servers that fail: lost connections, UNKNOWN fates, 4xx, restarts."""

from __future__ import annotations

import socket
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from smtp_backend import Envelope, MessageState, SMTPDataError, SMTPRecipientsRefused
from smtp_backend.mailer import Mailer
from tests.servers import (
    GREETING,
    TEMPFAIL_DOMAIN,
    Close,
    Expect,
    ReadData,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    ehlo_reply,
)

pytestmark = pytest.mark.timeout(30)

EHLO = Expect(rb"(?i)EHLO \S+", ehlo_reply("8BITMIME"))


def envelope(tag: str, to: str = "bob@example.test") -> Envelope:
    return Envelope("alice@example.test", [to], b"Subject: " + tag.encode() + b"\r\n\r\nhi\r\n")


def transaction(reply: bytes = b"250 2.0.0 queued\r\n") -> tuple[Expect | ReadData, ...]:
    return (
        Expect(rb"(?i)MAIL FROM:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)RCPT TO:<bob@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)DATA", b"354 go ahead\r\n"),
        ReadData(reply),
    )


def scripted_mailer(server: ScriptedServer, **options: object) -> Mailer:
    return Mailer(server.host, server.port, security="none", **options)  # type: ignore[arg-type]


def test_unknown_fate_is_reported_and_never_resent(scripted_server: ScriptedServer) -> None:
    # Connection 1 dies after the first message's dot, before its reply.
    scripted_server.play(GREETING, EHLO, *transaction(reply=b""), Close())
    # The second message never started there: it is sent on connection 2.
    scripted_server.play(
        GREETING, EHLO, *transaction(), Expect(rb"(?i)QUIT", b"221 bye\r\n"), Close()
    )
    with scripted_mailer(scripted_server) as mailer:
        results = mailer.send([envelope("first"), envelope("second")])
    scripted_server.join()
    assert [r.state for r in results] == [MessageState.UNKNOWN, MessageState.SENT]
    assert results[0].unknown and not results[0].ok
    assert scripted_server.connections == 2
    assert scripted_server.errors == []
    first = [m for m in scripted_server.messages if b"Subject: first" in m]
    assert len(first) == 1  # carried once, by connection 1 only


def test_a_connection_the_server_dropped_while_idle_is_replaced(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(GREETING, EHLO, *transaction(), Send(b"421 idle too long\r\n"), Close())
    scripted_server.play(
        GREETING, EHLO, *transaction(), Expect(rb"(?i)QUIT", b"221 bye\r\n"), Close()
    )
    with scripted_mailer(scripted_server) as mailer:
        assert mailer.send(envelope("before"))[0].ok
        time.sleep(0.2)  # the server says goodbye and closes
        results = mailer.send(envelope("after"))
    scripted_server.join()
    assert [r.state for r in results] == [MessageState.SENT]
    assert scripted_server.connections == 2
    assert scripted_server.errors == []


def test_a_connection_lost_before_the_transaction_is_retried_on_a_new_one(
    scripted_server: ScriptedServer,
) -> None:
    # Connection 1 is fine for one message, then dies at the next MAIL without a reply.
    scripted_server.play(
        GREETING,
        EHLO,
        *transaction(),
        Expect(rb"(?i)MAIL FROM:<alice@example\.test>"),
        Close(),
    )
    scripted_server.play(
        GREETING, EHLO, *transaction(), Expect(rb"(?i)QUIT", b"221 bye\r\n"), Close()
    )
    with scripted_mailer(scripted_server) as mailer:
        assert mailer.send(envelope("one"))[0].ok
        results = mailer.send(envelope("two"))
    scripted_server.join()
    assert [r.state for r in results] == [MessageState.SENT]
    assert scripted_server.connections == 2
    assert scripted_server.errors == []


def test_an_idle_connection_is_checked_with_noop_before_reuse(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        mailer.send(envelope("one"))
        time.sleep(1.2)  # past the idle check threshold
        assert mailer.send(envelope("two"))[0].ok
    assert smtp_server.connections == 1
    verbs = smtp_server.verbs()
    assert "NOOP" in verbs[verbs.index("DATA") :]


def test_temporary_failures_are_retried_when_asked(smtp_server: RecordingSMTPServer) -> None:
    tempfail = f"carol@{TEMPFAIL_DOMAIN}"
    with Mailer(smtp_server.host, smtp_server.port, security="none", retry_delay=0.01) as mailer:
        once = mailer.send(envelope("a", to=tempfail))
        thrice = mailer.send(envelope("b", to=tempfail), retries=2)
    assert once[0].state is MessageState.REFUSED and once[0].reply is not None
    assert once[0].reply.code == 451
    assert thrice[0].state is MessageState.REFUSED
    assert isinstance(thrice[0].error, SMTPRecipientsRefused)
    rcpts = [c.argument for c in smtp_server.commands if c.verb == "RCPT"]
    assert len(rcpts) == 1 + 3


def test_permanent_failures_are_never_retried(smtp_server: RecordingSMTPServer) -> None:
    failing = Envelope(
        "alice@example.test", ["bob@example.test"], b"X-Fail-Data: 554\r\n\r\nno\r\n"
    )
    with Mailer(smtp_server.host, smtp_server.port, security="none", retries=3) as mailer:
        results = mailer.send([failing, envelope("ok", to="dave@refused.test")])
    assert isinstance(results[0].error, SMTPDataError)
    assert [r.state for r in results] == [MessageState.REFUSED, MessageState.REFUSED]
    assert smtp_server.verbs().count("MAIL") == 2


def test_a_temporary_failure_that_clears_is_sent_on_retry(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(
        GREETING,
        EHLO,
        Expect(rb"(?i)MAIL FROM:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)RCPT TO:<bob@example\.test>", b"450 4.2.0 mailbox busy\r\n"),
        Expect(rb"(?i)RSET", b"250 ok\r\n"),
        *transaction(),
        Expect(rb"(?i)QUIT", b"221 bye\r\n"),
        Close(),
    )
    with scripted_mailer(scripted_server, retries=1, retry_delay=0.05) as mailer:
        results = mailer.send(envelope("busy"))
    scripted_server.join()
    assert scripted_server.errors == []
    assert [r.state for r in results] == [MessageState.SENT]


def test_max_messages_per_connection_opens_a_new_connection(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(
        smtp_server.host,
        smtp_server.port,
        security="none",
        pool_size=1,
        max_messages_per_connection=3,
    ) as mailer:
        results = mailer.send([envelope(f"m{i}") for i in range(7)])
        results += mailer.send(envelope("m7"))
    assert all(r.ok for r in results)
    assert smtp_server.connections == 3  # 3 + 3 + 2
    per_connection = [m.connection for m in smtp_server.messages]
    assert per_connection == [1, 1, 1, 2, 2, 2, 3, 3]
    assert smtp_server.verbs().count("QUIT") == 3


def test_a_connection_idle_past_idle_timeout_is_closed_and_replaced(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none", idle_timeout=0.2) as mailer:
        mailer.send(envelope("one"))
        time.sleep(0.4)
        assert mailer.send(envelope("two"))[0].ok
    assert smtp_server.connections == 2
    quits = [c.connection for c in smtp_server.commands if c.verb == "QUIT"]
    assert quits == [1, 2]


class _Inbox:
    def __init__(self) -> None:
        self.subjects: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.original_content  # type: ignore[attr-defined]
        self.subjects.append(content.split(b"\r\n", 1)[0])
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_next_send_reconnects_after_a_server_restart() -> None:
    port = _free_port()
    first, second = _Inbox(), _Inbox()
    server = Controller(first, hostname="127.0.0.1", port=port)
    server.start()
    mailer = Mailer("127.0.0.1", port, security="none")
    try:
        assert mailer.send(envelope("before"))[0].ok
        server.stop()
        server = Controller(second, hostname="127.0.0.1", port=port)
        server.start()
        results = mailer.send([envelope("after1"), envelope("after2")])
    finally:
        mailer.close()
        server.stop()
    assert [r.state for r in results] == [MessageState.SENT, MessageState.SENT]
    assert first.subjects == [b"Subject: before"]
    assert second.subjects == [b"Subject: after1", b"Subject: after2"]


def test_nothing_is_sent_to_an_unreachable_server_and_the_error_is_raised() -> None:
    port = _free_port()
    with Mailer("127.0.0.1", port, security="none") as mailer, pytest.raises(OSError):
        mailer.send(EmailMessage())
