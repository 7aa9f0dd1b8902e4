"""``asend_messages`` from async code: delivered on the loop's AsyncMailer, the loop never held."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import pytest
from django.core.mail import EmailMessage

from django_smtp_backend import EmailBackend, aclose_shared_mailers, post_send
from smtp_backend import SendResult
from tests.servers import REFUSED_DOMAIN, RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def hello(subject: str, to: str = "bob@example.test") -> EmailMessage:
    return EmailMessage(subject, "body", "alice@example.test", [to])


def run(coroutine: Any) -> Any:
    """Run on a fresh loop, closing that loop's shared AsyncMailers before it ends."""

    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await aclose_shared_mailers()

    return asyncio.run(main())


def test_asend_messages_delivers_and_reuses_the_connection(
    smtp_server: RecordingSMTPServer,
) -> None:
    async def twice() -> tuple[int, int]:
        first = await EmailBackend(host=smtp_server.host, port=smtp_server.port).asend_messages(
            [hello("a1"), hello("a2")]
        )
        second = await EmailBackend(host=smtp_server.host, port=smtp_server.port).asend_messages(
            [hello("a3")]
        )
        return first, second

    assert run(twice()) == (2, 1)
    assert len(smtp_server.messages) == 3
    assert smtp_server.connections == 1


def test_the_event_loop_runs_while_a_batch_is_in_flight(
    smtp_server: RecordingSMTPServer,
) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)
    events: list[str] = []

    async def send() -> int:
        sent = await backend.asend_messages([hello(f"m{i}") for i in range(20)])
        events.append("sent")
        return sent

    async def tick_until_sent() -> None:
        while "sent" not in events:
            events.append("tick")
            await asyncio.sleep(0)

    async def main() -> int:
        sent, _ = await asyncio.gather(send(), tick_until_sent())
        return int(sent)

    assert run(main()) == 20
    # A blocking send would finish before the first tick could run.
    assert events.index("tick") < events.index("sent")
    assert events.count("tick") > 1


def test_async_failures_raise_and_post_send_carries_results(
    smtp_server: RecordingSMTPServer,
) -> None:
    seen: list[SendResult] = []

    def record(sender: Any, result: SendResult, **kwargs: Any) -> None:
        seen.append(result)

    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)
    quiet = EmailBackend(host=smtp_server.host, port=smtp_server.port, fail_silently=True)
    refused = hello("nope", f"x@{REFUSED_DOMAIN}")
    post_send.connect(record)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            run(backend.asend_messages([hello("ok"), refused]))
        assert run(quiet.asend_messages([refused])) == 0
    finally:
        post_send.disconnect(record)

    assert [result.ok for result in seen] == [True, False, False]
    assert len(smtp_server.messages) == 1


def test_async_capture_fills_the_outbox(mailoutbox: list[Any]) -> None:
    backend = EmailBackend(host="localhost", capture=True)

    assert run(backend.asend_messages([hello("captured")])) == 1
    assert [message.subject for message in mailoutbox] == ["captured"]
