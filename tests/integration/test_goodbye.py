"""Saying goodbye (``goodbye()``, how a pool ends a connection): when the 221 does not come
at once, the client ends its side of a plain stream, so a server that waits for the client
to close first (Exim holds its 221 up to 200 ms) answers straight away; a pool says
goodbye on all its connections at once. ``quit()`` stays smtplib's."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import ssl
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smtp_backend import SMTP, AsyncMailer, AsyncSMTP, Envelope, Mailer, SMTPResponseException
from tests.servers import (
    Expect,
    ScriptedServer,
    StartTLS,
    ehlo_reply,
)
from tests.servers.scripted import GREETING, AllTogether, Linger, Serve

pytestmark = pytest.mark.timeout(30)

EHLO = Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING"))
QUIT = Expect(rb"(?i)quit")  # no reply: the next step gives it


def _lingering(server: ScriptedServer, seconds: float = 5.0) -> None:
    server.play(GREETING, EHLO, QUIT, Linger(seconds=seconds))


def test_goodbye_ends_our_side_so_a_lingering_server_answers_at_once(
    scripted_server: ScriptedServer,
) -> None:
    _lingering(scripted_server)
    smtp = SMTP(*scripted_server.address)
    smtp.ehlo()
    smtp.goodbye()
    assert smtp.sock is None
    scripted_server.join()
    assert scripted_server.ends_seen == [True]


def test_async_goodbye_ends_our_side_so_a_lingering_server_answers_at_once(
    scripted_server: ScriptedServer,
) -> None:
    _lingering(scripted_server)

    async def run() -> bool:
        smtp = AsyncSMTP(*scripted_server.address, start_tls=False)
        await smtp.connect()
        await smtp.ehlo()
        await smtp.goodbye()
        return smtp.is_connected

    assert asyncio.run(run()) is False
    scripted_server.join()
    assert scripted_server.ends_seen == [True]


def test_a_with_block_ends_our_side_when_the_221_is_slow(
    scripted_server: ScriptedServer,
) -> None:
    _lingering(scripted_server)
    with SMTP(*scripted_server.address) as smtp:
        smtp.ehlo()
    assert smtp.sock is None
    scripted_server.join()
    assert scripted_server.ends_seen == [True]


def test_an_async_with_block_ends_our_side_when_the_221_is_slow(
    scripted_server: ScriptedServer,
) -> None:
    _lingering(scripted_server)

    async def run() -> None:
        async with AsyncSMTP(*scripted_server.address, start_tls=False) as smtp:
            await smtp.ehlo()

    asyncio.run(run())
    scripted_server.join()
    assert scripted_server.ends_seen == [True]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_with_block_still_raises_a_refused_quit(
    scripted_server: ScriptedServer, driver: str
) -> None:
    scripted_server.play(GREETING, EHLO, Expect(rb"(?i)quit", b"421 not now\r\n"))
    with pytest.raises(SMTPResponseException) as raised:
        if driver == "sync":
            with SMTP(*scripted_server.address) as smtp:
                smtp.ehlo()
        else:

            async def run() -> None:
                async with AsyncSMTP(*scripted_server.address, start_tls=False) as client:
                    await client.ehlo()

            asyncio.run(run())
    assert raised.value.smtp_code == 421


def test_quit_stays_smtplibs_and_ends_nothing_before_the_reply(
    scripted_server: ScriptedServer,
) -> None:
    # smtplib's quit() returns the 221: a FIN with the QUIT could cost it (aiosmtpd drops
    # the command in progress when it sees the client's end).
    _lingering(scripted_server, seconds=0.3)
    smtp = SMTP(*scripted_server.address)
    smtp.ehlo()
    assert smtp.quit() == (221, b"bye")
    scripted_server.join()
    assert scripted_server.ends_seen == [False]


class _QuitHook:
    """aiosmtpd with a QUIT hook that takes a few milliseconds (a log write, say): aiosmtpd
    cancels a hook still running when it reads the client's end of stream."""

    def __init__(self) -> None:
        self.quits_answered = 0

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.002)
        self.quits_answered += 1
        return "221 Bye"


def test_goodbye_lets_a_prompt_server_finish_its_quit_before_ending_our_side() -> None:
    hook = _QuitHook()
    with socket.socket() as probe:  # a free port (aiosmtpd's controller needs a number)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(hook, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SMTP("127.0.0.1", port)
        smtp.ehlo()
        smtp.goodbye()

        async def run() -> None:
            client = AsyncSMTP("127.0.0.1", port, start_tls=False)
            await client.connect()
            await client.ehlo()
            await client.goodbye()

        asyncio.run(run())
    finally:
        controller.stop()
    assert hook.quits_answered == 2


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_over_tls_goodbye_leaves_the_stream_whole_and_reads_the_221(
    scripted_server: ScriptedServer, client_ssl_context: ssl.SSLContext, driver: str
) -> None:
    # A FIN under TLS would skip its close_notify: the server sees no end, answers anyway.
    scripted_server.play(
        GREETING,
        Expect(rb"(?i)ehlo \S+", ehlo_reply("STARTTLS")),
        Expect(rb"(?i)starttls", b"220 go ahead\r\n"),
        StartTLS(),
        EHLO,
        QUIT,
        Linger(seconds=0.5),
    )
    _host, port = scripted_server.address
    if driver == "sync":
        smtp = SMTP("localhost", port)
        smtp.starttls(context=client_ssl_context)
        smtp.ehlo()
        smtp.set_debuglevel(1)
        with contextlib.redirect_stderr(io.StringIO()) as trace:
            smtp.goodbye()
        conversation = trace.getvalue()
    else:

        async def run() -> str:
            client = AsyncSMTP("localhost", port, start_tls=False)
            await client.connect()
            await client.starttls(client_ssl_context)
            await client.ehlo()
            client.set_debuglevel(1)
            with contextlib.redirect_stderr(io.StringIO()) as trace:
                await client.goodbye()
            return trace.getvalue()

        conversation = asyncio.run(run())
    assert "221" in conversation
    scripted_server.join()
    assert scripted_server.ends_seen == [False]


def _three_connections(server: ScriptedServer, goodbye: AllTogether | Linger) -> list[Envelope]:
    for _ in range(3):
        server.play(GREETING, EHLO, Serve(ehlo_reply("PIPELINING"), quit=None), goodbye)
    return [
        Envelope("a@example.test", ["b@example.test"], b"Subject: %d\r\n\r\nx\r\n" % i)
        for i in range(30)  # three parts of ten: three connections, side by side
    ]


def test_closing_a_mailer_says_goodbye_on_every_connection_at_once(
    scripted_server: ScriptedServer,
) -> None:
    # Each 221 waits until all three QUITs have arrived: one goodbye after another would
    # leave the first waiting for QUITs that never come.
    items = _three_connections(scripted_server, AllTogether(3))
    mailer = Mailer(*scripted_server.address, security="none", pool_size=3)
    assert all(result.ok for result in mailer.send(items))
    assert mailer._pool.open_connections == 3
    mailer.close()
    scripted_server.join()
    assert scripted_server.together == [True, True, True]
    assert scripted_server.errors == []


def test_closing_an_async_mailer_says_goodbye_on_every_connection_at_once(
    scripted_server: ScriptedServer,
) -> None:
    items = _three_connections(scripted_server, AllTogether(3))

    async def run() -> None:
        mailer = AsyncMailer(*scripted_server.address, security="none", pool_size=3)
        assert all(result.ok for result in await mailer.send(items))
        await mailer.aclose()

    asyncio.run(run())
    scripted_server.join()
    assert scripted_server.together == [True, True, True]
    assert scripted_server.errors == []


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_mailer_ends_its_side_after_each_quit(scripted_server: ScriptedServer, face: str) -> None:
    items = _three_connections(scripted_server, Linger())
    if face == "sync":
        with Mailer(*scripted_server.address, security="none", pool_size=3) as mailer:
            mailer.send(items)
    else:

        async def run() -> None:
            async with AsyncMailer(*scripted_server.address, security="none", pool_size=3) as m:
                await m.send(items)

        asyncio.run(run())
    scripted_server.join()
    assert scripted_server.ends_seen == [True, True, True]
