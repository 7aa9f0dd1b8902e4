"""AsyncSMTP against real servers: same results as the blocking client, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from smtp_backend import SMTP, Envelope, MessageState, SendResult
from smtp_backend.aio import AsyncSMTP, SMTPTimeoutError
from smtp_backend.errors import SMTPAuthenticationError, SMTPRecipientsRefused
from tests.servers import (
    AUTH_PASSWORD,
    AUTH_USER,
    OAUTH_TOKEN,
    REFUSED_DOMAIN,
    REJECTED_SENDER,
    TEMPFAIL_DOMAIN,
    Expect,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    Stall,
    ehlo_reply,
)

pytestmark = pytest.mark.timeout(30)


def _batch() -> list[Envelope | EmailMessage]:
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = "bob@example.test, carol@refused.test"
    message["Subject"] = "hello"
    message.set_content("body\n.dot line\n")
    return [
        Envelope("alice@example.test", ["bob@example.test"], b"Subject: 1\r\n\r\none\r\n"),
        Envelope(REJECTED_SENDER, ["bob@example.test"], b"Subject: 2\r\n\r\ntwo\r\n"),
        Envelope("alice@example.test", [f"x@{REFUSED_DOMAIN}"], b"Subject: 3\r\n\r\nthree\r\n"),
        Envelope("alice@example.test", [f"y@{TEMPFAIL_DOMAIN}", "z@example.test"], b"S: 4\r\n\r\n"),
        Envelope("alice@example.test", ["bob@example.test"], b"X-Fail-Data: 554\r\n\r\nno\r\n"),
        message,
        Envelope("alice@example.test", ["bad address@example.test"], b"Subject: 7\r\n\r\n"),
    ]


def _comparable(results: list[SendResult]) -> list[tuple[Any, ...]]:
    return [
        (
            r.index,
            r.state,
            r.accepted,
            {k: v.code for k, v in r.refused.items()},
            r.reply.code if r.reply else None,
            type(r.error).__name__,
        )
        for r in results
    ]


@pytest.mark.parametrize(
    "options", [{}, {"chunking": True}, {"pipelining": False}], ids=["pipelining", "bdat", "plain"]
)
def test_send_many_gives_the_blocking_clients_results(
    smtp_server_factory: Callable[..., RecordingSMTPServer], options: dict[str, Any]
) -> None:
    server = smtp_server_factory(**options)
    with SMTP(server.host, server.port, local_hostname="client.test") as blocking:
        expected = blocking.send_many(_batch())
    blocking_messages = [(m.mail_from, m.rcpt_tos, m.content) for m in server.messages]
    server.reset()

    async def run() -> list[SendResult]:
        async with AsyncSMTP(server.host, server.port, local_hostname="client.test") as client:
            return await client.send_many(_batch())

    results = asyncio.run(run())
    assert _comparable(results) == _comparable(expected)
    assert [r.state for r in results].count(MessageState.SENT) == 3
    assert [(m.mail_from, m.rcpt_tos, m.content) for m in server.messages] == blocking_messages


def test_commands_and_sendmail_behave_as_the_blocking_client(
    smtp_server: RecordingSMTPServer,
) -> None:
    async def run() -> None:
        async with AsyncSMTP(smtp_server.host, smtp_server.port) as client:
            assert (await client.noop())[0] == 250
            assert client.has_extn("pipelining")
            refused = await client.sendmail(
                "alice@example.test", ["bob@example.test", f"c@{REFUSED_DOMAIN}"], "Hi\n.\n"
            )
            assert (
                list(refused) == [f"c@{REFUSED_DOMAIN}"]
                and refused[f"c@{REFUSED_DOMAIN}"][0] == 550
            )
            with pytest.raises(SMTPRecipientsRefused):
                await client.sendmail("alice@example.test", [f"c@{REFUSED_DOMAIN}"], "Hi\n")
            assert (await client.rset())[0] == 250

    asyncio.run(run())
    assert [m.content for m in smtp_server.messages] == [b"Hi\r\n.\r\n"]


def test_starttls_with_the_test_ca(
    starttls_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    async def run() -> bool:
        client = AsyncSMTP(
            starttls_server.host,
            starttls_server.port,
            start_tls=True,
            tls_context=client_ssl_context,
        )
        async with client:
            await client.sendmail("alice@example.test", "bob@example.test", b"Subject: s\r\n\r\n")
            return client.is_encrypted

    assert asyncio.run(run())
    assert starttls_server.verbs()[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert [m.tls for m in starttls_server.messages] == [True]


def test_starttls_refuses_an_unknown_certificate(starttls_server: RecordingSMTPServer) -> None:
    async def run() -> None:
        await AsyncSMTP(starttls_server.host, starttls_server.port, start_tls=True).connect()

    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(run())
    assert not starttls_server.messages


@pytest.mark.parametrize("oauth", [False, True], ids=["login", "oauth2"])
def test_auth(auth_server: RecordingSMTPServer, oauth: bool) -> None:
    async def run() -> tuple[int, bytes]:
        async with AsyncSMTP(auth_server.host, auth_server.port) as client:
            if oauth:
                reply = await client.login_oauth2(AUTH_USER, OAUTH_TOKEN)
            else:
                reply = await client.login(AUTH_USER, AUTH_PASSWORD)
            await client.sendmail("alice@example.test", "bob@example.test", b"S: a\r\n\r\n")
            return reply

    assert asyncio.run(run())[0] == 235
    assert [m.login for m in auth_server.messages] == [AUTH_USER.encode()]


def test_wrong_password_is_refused(auth_server: RecordingSMTPServer) -> None:
    async def run() -> None:
        async with AsyncSMTP(auth_server.host, auth_server.port) as client:
            await client.login(AUTH_USER, "wrong")

    with pytest.raises(SMTPAuthenticationError):
        asyncio.run(run())


def test_a_stalling_server_times_out_and_the_connection_is_closed(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(
        Send(b"220 fake ESMTP\r\n"),
        Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING")),
        Expect(rb"(?i)noop"),
        Stall(),
    )

    async def run() -> AsyncSMTP:
        client = AsyncSMTP(scripted_server.host, scripted_server.port, timeout=0.3, start_tls=False)
        await client.connect()
        await client.ehlo()
        with pytest.raises(SMTPTimeoutError):
            await client.noop()
        return client

    client = asyncio.run(run())
    assert not client.is_connected


def test_a_cancelled_send_closes_the_connection(scripted_server: ScriptedServer) -> None:
    scripted_server.play(
        Send(b"220 fake ESMTP\r\n"),
        Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING")),
        Expect(rb"(?i)mail from:<a@example\.test>.*"),  # read, never answered
        Stall(),
    )

    async def run() -> AsyncSMTP:
        client = AsyncSMTP(scripted_server.host, scripted_server.port, start_tls=False)
        await client.connect()
        await client.ehlo()
        task = asyncio.create_task(
            client.send_many([Envelope("a@example.test", ["b@example.test"], b"x\r\n")])
        )
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return client

    client = asyncio.run(run())
    assert not client.is_connected
    assert b"MAIL FROM" in bytes(scripted_server.received[0]).upper()
