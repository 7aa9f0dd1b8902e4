"""Mailer against real servers: delivery, pooling, reuse, order, capture."""

from __future__ import annotations

import threading
from email.message import EmailMessage

import pytest

from smtp_backend import Envelope, MessageState, SMTPInvalidInputError
from smtp_backend.mailer import Mailer
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def make_message(subject: str, to: str = "bob@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject}@example.test>"
    message.set_content(f"body of {subject}\n.a line starting with a dot\n")
    return message


def subjects(server: RecordingSMTPServer) -> list[str]:
    found = []
    for received in server.messages:
        for line in received.content.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                found.append(line[len(b"Subject: ") :].decode())
    return found


def plain_mailer(server: RecordingSMTPServer, **options: object) -> Mailer:
    return Mailer(server.host, server.port, security="none", **options)  # type: ignore[arg-type]


def test_one_message_is_delivered(smtp_server: RecordingSMTPServer) -> None:
    with plain_mailer(smtp_server) as mailer:
        results = mailer.send(make_message("one"))
    assert [r.state for r in results] == [MessageState.SENT]
    assert results[0].accepted == ("bob@example.test",)
    assert subjects(smtp_server) == ["one"]


def test_envelope_items_and_mixed_iterables(smtp_server: RecordingSMTPServer) -> None:
    envelope = Envelope("a@example.test", ["x@example.test"], b"Subject: env\r\n\r\nhi\r\n")
    with plain_mailer(smtp_server) as mailer:
        results = mailer.send(iter([envelope, make_message("msg")]))
    assert [r.index for r in results] == [0, 1]
    assert all(r.ok for r in results)
    assert sorted(subjects(smtp_server)) == ["env", "msg"]


def test_big_batch_is_split_across_the_pool_and_results_keep_input_order(
    smtp_server: RecordingSMTPServer,
) -> None:
    messages = [make_message(f"m{i:03d}") for i in range(80)]
    with plain_mailer(smtp_server, pool_size=4) as mailer:
        results = mailer.send(messages)
    assert [r.index for r in results] == list(range(80))
    assert [r.message_id for r in results] == [m["Message-ID"] for m in messages]
    assert all(r.ok for r in results)
    assert sorted(subjects(smtp_server)) == [f"m{i:03d}" for i in range(80)]
    assert smtp_server.connections == 4
    assert len({m.connection for m in smtp_server.messages}) == 4


def test_connections_are_reused_across_calls(smtp_server: RecordingSMTPServer) -> None:
    with plain_mailer(smtp_server, pool_size=4) as mailer:
        for i in range(5):
            assert mailer.send(make_message(f"call{i}"))[0].ok
    assert smtp_server.connections == 1
    assert smtp_server.verbs().count("EHLO") == 1


def test_many_threads_share_one_mailer(smtp_server: RecordingSMTPServer) -> None:
    mailer = plain_mailer(smtp_server, pool_size=4)
    failures: list[object] = []

    def worker(thread: int) -> None:
        for batch in range(5):
            sent = mailer.send([make_message(f"t{thread}-b{batch}-{k}") for k in range(5)])
            failures.extend(r for r in sent if not r.ok)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(25)
    mailer.close()
    assert failures == []
    expected = sorted(f"t{t}-b{b}-{k}" for t in range(8) for b in range(5) for k in range(5))
    assert sorted(subjects(smtp_server)) == expected  # each exactly once
    assert smtp_server.connections <= 4


def test_bad_input_fails_that_message_alone(smtp_server: RecordingSMTPServer) -> None:
    bad = Envelope("a@example.test\r\nRCPT TO:<evil@example.test>", ["x@example.test"], b"x\r\n")
    with plain_mailer(smtp_server) as mailer:
        results = mailer.send([make_message("good1"), bad, make_message("good2")])
    assert [r.state for r in results] == [
        MessageState.SENT,
        MessageState.NOT_ATTEMPTED,
        MessageState.SENT,
    ]
    assert isinstance(results[1].error, SMTPInvalidInputError)
    assert sorted(subjects(smtp_server)) == ["good1", "good2"]


def test_a_message_without_recipients_fails_alone_on_the_same_connection(
    smtp_server: RecordingSMTPServer,
) -> None:
    nobody = Envelope("a@example.test", [], b"Subject: nobody\r\n\r\nx\r\n")
    with plain_mailer(smtp_server, retries=2, retry_delay=0.01) as mailer:
        results = mailer.send([nobody, make_message("somebody")])
    assert [r.state for r in results] == [MessageState.NOT_ATTEMPTED, MessageState.SENT]
    assert smtp_server.connections == 1
    assert subjects(smtp_server) == ["somebody"]


def test_capture_records_instead_of_sending(smtp_server: RecordingSMTPServer) -> None:
    message = make_message("captured")
    with plain_mailer(smtp_server) as mailer:
        with mailer.capture() as outbox:
            results = mailer.send(message)
        assert results[0].state is MessageState.SENT
        assert smtp_server.connections == 0
        mailer.send(make_message("sent"))
    assert [record.message for record in outbox] == [message]
    assert outbox[0].sender == "alice@example.test"
    assert outbox[0].recipients == ("bob@example.test",)
    assert subjects(smtp_server) == ["sent"]
