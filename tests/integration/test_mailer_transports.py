"""Mailer over other transports: BDAT (CHUNKING), LMTP and SMTP on Unix sockets."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import UnixSocketController
from aiosmtpd.lmtp import LMTP

from smtp_backend import LMTP as LMTPClient
from smtp_backend import (
    AsyncMailer,
    AsyncSMTP,
    Envelope,
    MessageState,
    SendResult,
    SMTPServerDisconnected,
)
from smtp_backend.mailer import Mailer
from tests.servers import RecordingSMTPServer, ScriptedServer
from tests.servers.scripted import LMTP_RECIPIENTS, lmtp_closing_midway

pytestmark = pytest.mark.timeout(30)


def envelope(tag: str, *recipients: str) -> Envelope:
    data = f"Subject: {tag}\r\n\r\n.dot\r\n".encode()
    return Envelope("alice@example.test", recipients or ("bob@example.test",), data)


def test_a_batch_over_chunking_uses_bdat(chunking_server: RecordingSMTPServer) -> None:
    with Mailer(chunking_server.host, chunking_server.port, security="none") as mailer:
        results = mailer.send([envelope(f"m{i}") for i in range(12)])
    assert all(r.ok for r in results)
    assert [m.transfer for m in chunking_server.messages] == ["BDAT"] * 12
    contents = sorted(m.content for m in chunking_server.messages)
    assert contents == sorted(f"Subject: m{i}\r\n\r\n.dot\r\n".encode() for i in range(12))


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, ...]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(tuple(envelope.rcpt_tos))
        if isinstance(server, LMTP):  # aiosmtpd leaves LMTP's reply per recipient to us
            return "\r\n".join(
                f"552 5.2.2 <{r}> mailbox full" if r.startswith("full@") else f"250 2.0.0 <{r}> ok"
                for r in envelope.rcpt_tos
            )
        return "250 2.0.0 delivered"


def _send_with(kind: str, url: str, items: list[Envelope]) -> list[SendResult]:
    """Send through a Mailer or an AsyncMailer built from the same URL."""
    if kind == "sync":
        with Mailer.from_url(url) as mailer:
            return mailer.send(items)

    async def send() -> list[SendResult]:
        async with AsyncMailer.from_url(url) as mailer:
            return await mailer.send(items)

    return asyncio.run(send())


class _UnixLMTPController(UnixSocketController):
    def factory(self) -> LMTP:
        return LMTP(self.handler)


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are limited to about 100 bytes.
    return Path(tmp_path_factory.mktemp("s", numbered=True))


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("scheme", "controller"), [("lmtp", _UnixLMTPController), ("smtp+unix", UnixSocketController)]
)
def test_unix_socket_urls(short_tmp: Path, scheme: str, controller: type[Any], kind: str) -> None:
    path = short_tmp / "mail.sock"
    if len(str(path)) > 100:
        pytest.skip("temporary directory path too long for a Unix socket")
    inbox = _Inbox()
    server = controller(inbox, unix_socket=str(path))
    server.start()
    try:
        results = _send_with(
            kind,
            f"{scheme}://{path}",
            [envelope("one", "a@example.test", "b@example.test"), envelope("two")],
        )
    finally:
        server.stop()
    assert [r.state for r in results] == [MessageState.SENT, MessageState.SENT]
    assert results[0].accepted == ("a@example.test", "b@example.test")
    assert inbox.received == [("a@example.test", "b@example.test"), ("bob@example.test",)]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_lmtp_reports_each_recipients_reply_after_the_data(short_tmp: Path, kind: str) -> None:
    path = short_tmp / "lmtp.sock"
    inbox = _Inbox()
    server = _UnixLMTPController(inbox, unix_socket=str(path))
    server.start()
    try:
        (result,) = _send_with(
            kind, f"lmtp://{path}", [envelope("one", "a@example.test", "full@example.test")]
        )
    finally:
        server.stop()
    assert result.state is MessageState.SENT
    assert result.accepted == ("a@example.test",)
    assert result.refused["full@example.test"].code == 552


def _sent_over(entry: str, server: ScriptedServer, item: Envelope) -> SendResult:
    host, port = server.address
    if entry == "LMTP":
        with contextlib.suppress(SMTPServerDisconnected), LMTPClient(host, port) as client:
            return client.send_many([item])[0]
    if entry == "Mailer":
        with Mailer(host, port, security="none", protocol="lmtp", retries=2) as mailer:
            return mailer.send([item])[0]

    async def run() -> SendResult:
        if entry == "AsyncSMTP":
            client = AsyncSMTP(host, port, lmtp=True, start_tls=False)
            await client.connect()
            try:
                return (await client.send_many([item]))[0]
            finally:
                client.close()
        async with AsyncMailer(host, port, security="none", protocol="lmtp", retries=2) as m:
            return (await m.send([item]))[0]

    return asyncio.run(run())


@pytest.mark.parametrize("entry", ["LMTP", "AsyncSMTP", "Mailer", "AsyncMailer"])
def test_lmtp_recipients_left_unanswered_by_a_closing_server_are_unknown(
    scripted_server: ScriptedServer, entry: str
) -> None:
    scripted_server.play(*lmtp_closing_midway())
    result = _sent_over(entry, scripted_server, envelope("midway", *LMTP_RECIPIENTS))
    assert result.state is MessageState.UNKNOWN  # c may or may not have it: never resent
    assert result.accepted == ("a@example.test",)
    assert result.refused["b@example.test"].code == 421
    assert "c@example.test" not in result.accepted
    scripted_server.join()
    assert scripted_server.connections == 1
