"""A connection a send retires (max_messages_per_connection) says goodbye off the sending
path: a server slow to answer QUIT (Exim takes ~200 ms) does not hold the next message."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smtp_backend import AsyncMailer, Envelope, Mailer, SendResult

pytestmark = pytest.mark.timeout(30)


class _SlowGoodbye:
    """Answers the first QUIT only once a later connection has sent MAIL (or after 5 s):
    a client that waits for the 221 before opening its next connection makes it wait."""

    def __init__(self) -> None:
        self.next_mail = threading.Event()
        self.mails = 0
        self.quit_waited_for_the_next_message: bool | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mails += 1
        if self.mails > 1:
            self.next_mail.set()
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        if self.quit_waited_for_the_next_message is None:
            seen = await asyncio.get_running_loop().run_in_executor(None, self.next_mail.wait, 5)
            self.quit_waited_for_the_next_message = seen
        return "221 Bye"


def _items() -> list[Envelope]:
    return [
        Envelope("a@example.test", ["b@example.test"], b"Subject: %d\r\n\r\nx\r\n" % i)
        for i in range(2)
    ]


@pytest.fixture
def slow_goodbye() -> Any:
    handler = _SlowGoodbye()
    with socket.socket() as probe:  # a free port (aiosmtpd's controller needs a number)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def test_a_retired_connection_quits_while_the_mailer_sends_on(slow_goodbye: Any) -> None:
    handler, port = slow_goodbye
    options = {"security": "none", "pool_size": 1, "max_messages_per_connection": 1}
    with Mailer("127.0.0.1", port, **options) as mailer:
        results: list[SendResult] = mailer.send(_items())
    assert [r.ok for r in results] == [True, True]
    assert handler.quit_waited_for_the_next_message is True  # the 2nd went before the 221


def test_an_async_retired_connection_quits_while_the_mailer_sends_on(slow_goodbye: Any) -> None:
    handler, port = slow_goodbye

    async def run() -> list[SendResult]:
        options = {"security": "none", "pool_size": 1, "max_messages_per_connection": 1}
        async with AsyncMailer("127.0.0.1", port, **options) as mailer:
            return await mailer.send(_items())

    results = asyncio.run(run())
    assert [r.ok for r in results] == [True, True]
    assert handler.quit_waited_for_the_next_message is True
