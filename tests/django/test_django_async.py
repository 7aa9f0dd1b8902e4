"""``asend_messages`` from async code: delivered, and the event loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django_smtp_backend import EmailBackend, pre_send

from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def hello(subject: str) -> EmailMessage:
    return EmailMessage(subject, "body", "alice@example.test", ["bob@example.test"])


def test_asend_messages_delivers(smtp_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)

    sent = asyncio.run(backend.asend_messages([hello("a1"), hello("a2")]))

    assert sent == 2
    assert len(smtp_server.messages) == 2


def test_asend_messages_does_not_block_the_event_loop(smtp_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)
    loop_ran = threading.Event()

    def wait_for_the_loop(sender: Any, **kwargs: Any) -> None:
        # Only a coroutine on the event loop sets this: a blocked loop never would.
        if not loop_ran.wait(timeout=5):
            raise AssertionError("the event loop did not run while sending")

    async def main() -> int:
        sending = asyncio.ensure_future(backend.asend_messages([hello("async")]))
        await asyncio.sleep(0.01)
        loop_ran.set()
        return await sending

    pre_send.connect(wait_for_the_loop)
    try:
        assert asyncio.run(main()) == 1
    finally:
        pre_send.disconnect(wait_for_the_loop)
    assert len(smtp_server.messages) == 1
