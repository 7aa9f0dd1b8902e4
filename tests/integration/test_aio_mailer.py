"""AsyncMailer against a real server: concurrency, exactly-once delivery, bounded pool."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from smtp_backend import Envelope, MessageState, SendResult, TokenBucket
from smtp_backend.mailer.aio import AsyncConnectionFactory, AsyncConnectionPool, AsyncMailer
from smtp_backend.mailer.connect import ConnectionSettings
from tests.servers import (
    Close,
    Expect,
    ReadData,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    ehlo_reply,
)

pytestmark = pytest.mark.timeout(60)


def _envelopes(count: int) -> list[Envelope]:
    return [
        Envelope("alice@example.test", [f"r{i}@example.test"], b"Subject: %d\r\n\r\nbody\r\n" % i)
        for i in range(count)
    ]


def test_many_tasks_send_every_message_exactly_once_within_the_pool(
    starttls_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    envelopes = _envelopes(120)

    async def run() -> list[MessageState]:
        mailer = AsyncMailer(
            starttls_server.host,
            starttls_server.port,
            ssl_context=client_ssl_context,
            pool_size=3,
            max_messages_per_connection=25,
        )
        async with mailer:
            parts = await asyncio.gather(*(mailer.send(envelopes[i::8]) for i in range(8)))
            assert mailer.open_connections <= 3
        return [r.state for part in parts for r in part]

    states = asyncio.run(run())
    assert states == [MessageState.SENT] * 120
    received = sorted(m.rcpt_tos[0] for m in starttls_server.messages)
    assert received == sorted(e.recipients[0] for e in envelopes)
    assert all(m.tls for m in starttls_server.messages)
    per_connection: dict[int, int] = {}
    for message in starttls_server.messages:
        per_connection[message.connection] = per_connection.get(message.connection, 0) + 1
    assert max(per_connection.values()) <= 25


def test_connections_are_reused_across_calls(smtp_server: RecordingSMTPServer) -> None:
    async def run() -> None:
        async with AsyncMailer(smtp_server.host, smtp_server.port, security="none") as mailer:
            for envelope in _envelopes(3):
                assert [r.state for r in await mailer.send(envelope)] == [MessageState.SENT]

    asyncio.run(run())
    assert smtp_server.connections == 1
    assert smtp_server.verbs()[-1] == "QUIT"


def test_a_cancelled_send_leaves_no_connection_in_the_pool(
    smtp_server: RecordingSMTPServer,
) -> None:
    async def run() -> int:
        mailer = AsyncMailer(
            smtp_server.host,
            smtp_server.port,
            security="none",
            pool_size=1,
            max_messages_per_connection=10_000,
        )
        task = asyncio.create_task(mailer.send(_envelopes(5000)))
        while not smtp_server.messages:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert mailer.open_connections == 0
        results = await mailer.send(_envelopes(1))  # a fresh connection, in a known state
        assert [r.state for r in results] == [MessageState.SENT]
        await mailer.aclose()
        return smtp_server.connections

    assert asyncio.run(run()) == 2
    assert len(smtp_server.messages) < 5001  # the cancelled batch stopped part-way


def test_capture_sends_nothing(smtp_server: RecordingSMTPServer) -> None:
    async def run() -> AsyncMailer:
        mailer = AsyncMailer(smtp_server.host, smtp_server.port, security="none", capture=True)
        assert [r.state for r in await mailer.send(_envelopes(2))] == [MessageState.SENT] * 2
        return mailer

    mailer = asyncio.run(run())
    assert mailer.outbox is not None and len(mailer.outbox) == 2
    assert smtp_server.connections == 0


def test_open_connects_now_raises_when_refused_and_hooks_run(
    smtp_server: RecordingSMTPServer,
) -> None:
    seen: list[SendResult] = []

    async def run() -> None:
        mailer = AsyncMailer(
            smtp_server.host, smtp_server.port, security="none", after_send=seen.append
        )
        async with mailer:
            await mailer.open()
            assert smtp_server.connections == 1
            assert [r.state for r in await mailer.send(_envelopes(2))] == [MessageState.SENT] * 2
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            await AsyncMailer("127.0.0.1", port, security="none").open()

    asyncio.run(run())
    assert smtp_server.connections == 1
    assert [r.index for r in seen] == [0, 1]


def test_a_message_lost_before_its_transaction_goes_on_a_new_connection(
    scripted_server: ScriptedServer,
) -> None:
    greeting, ehlo = Send(b"220 fake.test ESMTP\r\n"), Expect(rb"(?i)EHLO \S+", ehlo_reply())
    scripted_server.play(greeting, ehlo, Expect(rb"(?i)MAIL FROM:<alice@example\.test>"), Close())
    scripted_server.play(
        greeting,
        ehlo,
        Expect(rb"(?i)MAIL FROM:<alice@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)RCPT TO:<r0@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)DATA", b"354 go ahead\r\n"),
        ReadData(b"250 2.0.0 queued\r\n"),
        Expect(rb"(?i)QUIT", b"221 bye\r\n"),
        Close(),
    )

    async def run() -> list[MessageState]:
        async with AsyncMailer(scripted_server.host, scripted_server.port, security="none") as m:
            return [r.state for r in await m.send(_envelopes(1))]

    assert asyncio.run(run()) == [MessageState.SENT]
    scripted_server.join()
    assert scripted_server.errors == [] and scripted_server.connections == 2


class _CountingBucket(TokenBucket):
    """A bucket on a stopped clock: each token is due 1/rate later than the one before."""

    def __init__(self) -> None:
        super().__init__(1000, 1, clock=lambda: 0.0)
        self.waits: list[float] = []

    def reserve(self) -> float:
        wait = super().reserve()
        self.waits.append(wait)
        return wait


def test_a_token_bucket_is_shared_by_every_task_of_two_async_mailers(
    smtp_server: RecordingSMTPServer,
) -> None:
    bucket = _CountingBucket()

    async def run() -> list[SendResult]:
        first = AsyncMailer(smtp_server.host, smtp_server.port, security="none", rate_limit=bucket)
        second = AsyncMailer(smtp_server.host, smtp_server.port, security="none", rate_limit=bucket)
        async with first, second:
            sent = await asyncio.gather(first.send(_envelopes(3)), second.send(_envelopes(3)))
        return [result for results in sent for result in results]

    results = asyncio.run(run())
    assert all(result.ok for result in results)
    # One bucket paced all six messages: each waited one token longer than the one before.
    assert sorted(bucket.waits) == pytest.approx([i / 1000 for i in range(6)])


def test_the_async_pool_quits_a_connection_idle_past_its_timeout(
    smtp_server: RecordingSMTPServer,
) -> None:
    now = [0.0]
    settings = ConnectionSettings(smtp_server.host, smtp_server.port, security="none")

    async def run() -> None:
        pool = AsyncConnectionPool(
            AsyncConnectionFactory(settings),
            size=1,
            max_messages=10,
            idle_timeout=5.0,
            clock=lambda: now[0],
        )
        first = await pool.acquire()
        await pool.release(first, reusable=True)
        now[0] = 10.0  # idle past idle_timeout: stale
        second = await pool.acquire()
        assert second is not first
        await pool.release(second, reusable=False)

    asyncio.run(run())
    assert smtp_server.connections == 2
    assert smtp_server.verbs().count("QUIT") == 1  # the stale one said goodbye; the other not


def test_a_lent_async_connection_takes_no_place_and_goes_back_when_there_is_room(
    smtp_server: RecordingSMTPServer,
) -> None:
    async def run() -> None:
        mailer = AsyncMailer(smtp_server.host, smtp_server.port, security="none", pool_size=1)
        async with mailer.lend() as first, mailer.lend() as second:  # one task: no deadlock
            assert first is not second
            [result] = await mailer.send(_envelopes(1))
            assert result.ok
            assert (await first.noop())[0] == 250 and (await second.noop())[0] == 250
            assert smtp_server.connections == 3
        assert smtp_server.verbs().count("QUIT") == 2  # no room in the pool for the lent ones
        async with mailer.lend() as again:  # the pool's idle connection, lent and kept
            assert (await again.noop())[0] == 250
        assert smtp_server.connections == 3
        with pytest.raises(RuntimeError):
            async with mailer.lend():
                raise RuntimeError("the block failed: its connection is closed, not kept")
        await mailer.aclose()

    asyncio.run(run())
    assert smtp_server.verbs().count("QUIT") == 2  # the failed block's connection: no QUIT
