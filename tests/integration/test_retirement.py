"""A connection a send retires (max_messages_per_connection) says goodbye off the sending
path: a server slow to answer QUIT (Exim takes up to 200 ms) does not hold the next message."""

from __future__ import annotations

import asyncio

import pytest

from smtp_backend import AsyncMailer, Envelope, Mailer, SendResult
from tests.servers import GREETING, Expect, ScriptedServer, ehlo_reply
from tests.servers.scripted import AllTogether, Serve

pytestmark = pytest.mark.timeout(30)

OPTIONS = {"security": "none", "pool_size": 1, "max_messages_per_connection": 1}


def _items(server: ScriptedServer) -> list[Envelope]:
    # The first connection answers its QUIT only once the second has sent its MAIL (or
    # after 5 s): a mailer that waits for that 221 before opening the next connection
    # leaves both waiting, and neither arrives "together".
    ehlo = Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING"))
    server.play(GREETING, ehlo, Serve(ehlo_reply("PIPELINING"), quit=None), AllTogether(2))
    server.play(
        GREETING,
        ehlo,
        Expect(rb"(?i)mail from:.*", b"250 ok\r\n"),
        AllTogether(2, reply=b""),
        Serve(ehlo_reply("PIPELINING")),
    )
    return [
        Envelope("a@example.test", ["b@example.test"], b"Subject: %d\r\n\r\nx\r\n" % i)
        for i in range(2)
    ]


def test_a_retired_connection_quits_while_the_mailer_sends_on(
    scripted_server: ScriptedServer,
) -> None:
    items = _items(scripted_server)
    with Mailer(*scripted_server.address, **OPTIONS) as mailer:
        results: list[SendResult] = mailer.send(items)
    assert [r.ok for r in results] == [True, True]
    scripted_server.join()
    assert scripted_server.together == [True, True]  # the 2nd went before the 221


def test_an_async_retired_connection_quits_while_the_mailer_sends_on(
    scripted_server: ScriptedServer,
) -> None:
    items = _items(scripted_server)

    async def run() -> list[SendResult]:
        async with AsyncMailer(*scripted_server.address, **OPTIONS) as mailer:
            return await mailer.send(items)

    results = asyncio.run(run())
    assert [r.ok for r in results] == [True, True]
    scripted_server.join()
    assert scripted_server.together == [True, True]


def _overlap(server: ScriptedServer) -> list[Envelope]:
    # The first connection's MAIL is answered only once a second connection has come:
    # a mailer that opens the next connection only after the first retires leaves that
    # MAIL waiting (5 s), and the two never arrive "together".
    ehlo = Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING"))
    server.play(
        GREETING,
        ehlo,
        Expect(rb"(?i)mail from:.*"),
        AllTogether(2, reply=b"250 ok\r\n"),
        Serve(ehlo_reply("PIPELINING")),
    )
    server.play(
        AllTogether(2, reply=b"220 fake.test ESMTP\r\n"),
        ehlo,
        Serve(ehlo_reply("PIPELINING")),
    )
    return [
        Envelope("a@example.test", ["b@example.test"], b"Subject: %d\r\n\r\nx\r\n" % i)
        for i in range(3)
    ]


AHEAD = {"security": "none", "pool_size": 1, "max_messages_per_connection": 2}


def test_the_next_connection_opens_while_the_retiring_one_sends(
    scripted_server: ScriptedServer,
) -> None:
    items = _overlap(scripted_server)
    with Mailer(*scripted_server.address, **AHEAD) as mailer:
        results = mailer.send(items)
    assert [r.ok for r in results] == [True, True, True]
    scripted_server.join()
    assert scripted_server.together == [True, True]
    assert scripted_server.connections == 2  # the one opened ahead carried the third


def test_the_next_async_connection_opens_while_the_retiring_one_sends(
    scripted_server: ScriptedServer,
) -> None:
    items = _overlap(scripted_server)

    async def run() -> list[SendResult]:
        async with AsyncMailer(*scripted_server.address, **AHEAD) as mailer:
            return await mailer.send(items)

    assert [r.ok for r in asyncio.run(run())] == [True, True, True]
    scripted_server.join()
    assert scripted_server.together == [True, True]
    assert scripted_server.connections == 2
