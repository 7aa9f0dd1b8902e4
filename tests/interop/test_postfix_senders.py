"""Mailer (pooled, STARTTLS + AUTH) and AsyncSMTP against Postfix."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from smtp_backend import AsyncSMTP, Envelope, Mailer, MessageState
from tests.interop.conftest import Arrived, as_stored, text_message
from tests.mta.fixture import AddressFactory
from tests.mta.postfix import HOSTNAME, SASL_PASSWORD, SASL_USER, PostfixInstance

pytestmark = pytest.mark.timeout(60)

SENDER = "sender@sender.test"
AUTHENTICATED = f"(Authenticated sender: {SASL_USER}@{HOSTNAME})".encode()


def numbered_envelopes(address: AddressFactory, count: int) -> list[Envelope]:
    envelopes = []
    for number in range(count):
        rcpt = address(f"n{number}")
        body = f"message {number}\r\n.dot line\r\n".encode() * (number + 1)
        envelopes.append(Envelope(SENDER, [rcpt], text_message(SENDER, rcpt, "pooled", body)))
    return envelopes


def assert_each_arrived_authenticated(envelopes: list[Envelope], arrived: Arrived) -> None:
    for item in envelopes:
        delivered = arrived(item.recipients[0])
        assert delivered.message == as_stored(item.data)
        assert AUTHENTICATED in delivered.added_headers[b"received"]
        assert b"using TLS" in delivered.added_headers[b"received"]


def test_mailer_pool_with_starttls_and_auth(
    postfix: PostfixInstance,
    client_ssl_context: ssl.SSLContext,
    address: AddressFactory,
    arrived: Arrived,
) -> None:
    envelopes = numbered_envelopes(address, 16)
    with Mailer(
        "127.0.0.1",
        postfix.port,
        security="starttls",
        username=SASL_USER,
        password=SASL_PASSWORD,
        ssl_context=client_ssl_context,
        pool_size=3,
        timeout=10,
    ) as mailer:
        first = mailer.send(envelopes[:8])
        second = mailer.send(envelopes[8:])  # over the pooled connections

    assert [r.state for r in first + second] == [MessageState.SENT] * len(envelopes)
    assert [r.index for r in second] == list(range(8))
    assert_each_arrived_authenticated(envelopes, arrived)


def test_mailer_refuses_postfix_without_the_ca(postfix: PostfixInstance) -> None:
    with Mailer("127.0.0.1", postfix.port, timeout=10) as mailer, pytest.raises(ssl.SSLError):
        mailer.send(Envelope(SENDER, ["nobody@example.test"], b"Subject: x\r\n\r\nx\r\n"))


def test_async_client_with_starttls_and_auth(
    postfix: PostfixInstance,
    client_ssl_context: ssl.SSLContext,
    address: AddressFactory,
    arrived: Arrived,
) -> None:
    envelopes = numbered_envelopes(address, 6)

    async def send() -> list[MessageState]:
        async with AsyncSMTP(
            "127.0.0.1",
            postfix.port,
            start_tls=True,
            tls_context=client_ssl_context,
            username=SASL_USER,
            password=SASL_PASSWORD,
            timeout=10,
        ) as smtp:
            assert smtp.is_encrypted
            return [result.state for result in await smtp.send_many(envelopes)]

    assert asyncio.run(send()) == [MessageState.SENT] * len(envelopes)
    assert_each_arrived_authenticated(envelopes, arrived)
