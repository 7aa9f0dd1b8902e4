"""TLS policy: no STARTTLS stripping, verification by default, loud opt-outs, refused certificates.

Each refusal is checked on the wire: after it, the server saw no AUTH, MAIL or message.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from smtp_backend import Envelope, MessageState
from smtp_backend.errors import SMTPNotSupportedError, SMTPResponseException
from smtp_backend.mailer import Mailer
from smtp_backend.mailer.aio import AsyncMailer
from smtp_backend.timeouts import Timeouts
from tests.servers.scripted import (
    Close,
    Expect,
    ScriptedServer,
    Send,
    Serve,
    StartTLS,
    ehlo_reply,
)

pytestmark = pytest.mark.timeout(30)

FAST = Timeouts.every(2.0, total=10.0)
GREETING = Send(b"220 fake.test ESMTP\r\n")
EHLO_TLS = Expect(rb"(?i)EHLO \S+", ehlo_reply("STARTTLS", "AUTH PLAIN"))
EHLO_PLAIN = Expect(rb"(?i)EHLO \S+", ehlo_reply("AUTH PLAIN"))
STARTTLS_OK = Expect(rb"(?i)STARTTLS", b"220 2.0.0 ready\r\n")
LEAKS = (b"AUTH", b"MAIL", b"RCPT", b"DATA", b"secret")


def envelope() -> Envelope:
    return Envelope("alice@example.test", ["bob@example.test"], b"Subject: s\r\n\r\nsecret\r\n")


def leaked(server: ScriptedServer) -> list[bytes]:
    sent = b"".join(server.received).upper()
    return [word for word in LEAKS if word.upper() in sent]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_with(cert: trustme.LeafCert) -> Iterator[ScriptedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    with ScriptedServer(ssl_context=context, io_timeout=5.0) as server:
        yield server


@pytest.fixture
def good_server(ca: trustme.CA) -> Iterator[ScriptedServer]:
    yield from server_with(ca.issue_cert("127.0.0.1"))


PAST = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
BAD_CERTIFICATES = {
    "wrong host name": lambda ca: ca.issue_cert("mail.other.test"),
    "expired": lambda ca: ca.issue_cert(
        "127.0.0.1", not_before=PAST, not_after=PAST + datetime.timedelta(days=30)
    ),
    "unknown CA": lambda ca: trustme.CA().issue_cert("127.0.0.1"),
}


@pytest.mark.parametrize("security", ["starttls", "starttls-opportunistic"])
@pytest.mark.parametrize("problem", list(BAD_CERTIFICATES))
def test_a_bad_certificate_is_refused_before_anything_is_sent(
    ca: trustme.CA, ca_file: str, problem: str, security: str
) -> None:
    for server in server_with(BAD_CERTIFICATES[problem](ca)):
        server.play(GREETING, EHLO_TLS, STARTTLS_OK, StartTLS(), Serve())
        mailer = Mailer(
            server.host,
            server.port,
            security=security,
            ca_file=ca_file,
            username="user",
            password="secret",
            timeouts=FAST,
        )
        with mailer, pytest.raises(ssl.SSLCertVerificationError):
            mailer.send(envelope())
        assert leaked(server) == []


@pytest.mark.parametrize("problem", list(BAD_CERTIFICATES))
def test_implicit_tls_refuses_a_bad_certificate(ca: trustme.CA, ca_file: str, problem: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    BAD_CERTIFICATES[problem](ca).configure_cert(context)
    with ScriptedServer(io_timeout=5.0) as server:
        server.play(StartTLS(), GREETING, Serve())
        server._ssl_context = context  # StartTLS at once: an implicit-TLS (465) server
        mailer = Mailer(server.host, server.port, security="tls", ca_file=ca_file, timeouts=FAST)
        with mailer, pytest.raises(ssl.SSLCertVerificationError):
            mailer.send(envelope())
        assert leaked(server) == []


def test_a_good_certificate_from_ca_file_is_accepted(
    good_server: ScriptedServer, ca_file: str
) -> None:
    good_server.play(GREETING, EHLO_TLS, STARTTLS_OK, StartTLS(), Serve())
    with Mailer(good_server.host, good_server.port, ca_file=ca_file, timeouts=FAST) as mailer:
        assert mailer.send(envelope())[0].state is MessageState.SENT
    assert len(good_server.messages) == 1


def test_starttls_not_offered_fails_without_sending(good_server: ScriptedServer) -> None:
    good_server.play(GREETING, EHLO_PLAIN, Serve())
    mailer = Mailer(
        good_server.host, good_server.port, username="user", password="secret", timeouts=FAST
    )
    with mailer, pytest.raises(SMTPNotSupportedError, match="STARTTLS"):
        mailer.send(envelope())
    assert leaked(good_server) == []


def test_async_mailer_starttls_not_offered_fails_without_sending(
    good_server: ScriptedServer,
) -> None:
    import asyncio

    good_server.play(GREETING, EHLO_PLAIN, Serve())

    async def send() -> None:
        async with AsyncMailer(good_server.host, good_server.port, timeouts=FAST) as mailer:
            await mailer.send(envelope())

    with pytest.raises(SMTPNotSupportedError):
        asyncio.run(send())
    assert leaked(good_server) == []


@pytest.mark.parametrize(
    ("after_220", "error"),
    [
        ((Send(b"this is not TLS\r\n"), Close()), ssl.SSLError),
        ((Close(),), OSError),
    ],
    ids=["garbage instead of a handshake", "closed instead of a handshake"],
)
def test_starttls_accepted_then_refused_fails_without_sending(
    good_server: ScriptedServer, ca_file: str, after_220: tuple, error: type
) -> None:
    good_server.play(GREETING, EHLO_TLS, STARTTLS_OK, *after_220)
    mailer = Mailer(
        good_server.host,
        good_server.port,
        ca_file=ca_file,
        username="user",
        password="secret",
        timeouts=FAST,
    )
    with mailer, pytest.raises(error):
        mailer.send(envelope())
    assert leaked(good_server) == []


def test_starttls_refused_with_454_fails_without_sending(good_server: ScriptedServer) -> None:
    good_server.play(
        GREETING, EHLO_TLS, Expect(rb"(?i)STARTTLS", b"454 4.7.0 TLS not available\r\n")
    )
    mailer = Mailer(good_server.host, good_server.port, timeouts=FAST)
    with mailer, pytest.raises(SMTPResponseException) as raised:
        mailer.send(envelope())
    assert raised.value.smtp_code == 454
    assert leaked(good_server) == []


def test_opportunistic_mode_sends_in_clear_only_when_starttls_is_not_offered(
    good_server: ScriptedServer, ca_file: str
) -> None:
    good_server.play(GREETING, EHLO_PLAIN, Serve())
    good_server.play(GREETING, EHLO_TLS, STARTTLS_OK, StartTLS(), Serve())
    for _ in range(2):
        with Mailer(
            good_server.host,
            good_server.port,
            security="starttls-opportunistic",
            ca_file=ca_file,
            timeouts=FAST,
        ) as mailer:
            assert mailer.send(envelope())[0].state is MessageState.SENT
    plain, encrypted = good_server.received
    assert b"STARTTLS" not in plain.upper() and b"MAIL FROM" in plain.upper()
    transcript = encrypted.upper()  # as the server read it, decrypted after the handshake
    assert transcript.index(b"STARTTLS") < transcript.index(b"MAIL FROM")
    assert len(good_server.messages) == 2


def test_skipping_verification_is_loud_and_works(
    ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    for server in server_with(trustme.CA().issue_cert("mail.other.test")):
        server.play(GREETING, EHLO_TLS, STARTTLS_OK, StartTLS(), Serve())
        with caplog.at_level(logging.WARNING, logger="smtp_backend.mailer"):
            mailer = Mailer(
                server.host, server.port, dangerously_skip_tls_verify=True, timeouts=FAST
            )
        assert "verification is DISABLED" in caplog.text
        with mailer:
            assert mailer.send(envelope())[0].state is MessageState.SENT


def test_verification_options_do_not_mix(ca_file: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        Mailer("localhost", ssl_context=ssl.create_default_context(), ca_file=ca_file)
    with pytest.raises(ValueError, match="not both"):
        Mailer(
            "localhost",
            ssl_context=ssl.create_default_context(),
            dangerously_skip_tls_verify=True,
        )
