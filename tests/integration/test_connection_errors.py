"""What a user reads when a connection cannot be made: the server (host:port), the phase,
and for a certificate error how to trust a private CA; a missing CA file by its path."""

from __future__ import annotations

import asyncio
import re
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from smtp_backend import AsyncMailer, Mailer, SMTPServerDisconnected
from tests.servers import RecordingSMTPServer
from tests.servers.scripted import Close, ScriptedServer, Send

TRUST_HINTS = ("ca_file=", "ssl_cafile", "MAIL_CA_FILE", "--ca-file", "smtp-backend check")


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "hi"
    m.set_content("x")
    return m


def test_a_refused_connection_names_the_server_and_the_phase(closed_port: int) -> None:
    mailer = Mailer("127.0.0.1", closed_port, security="none")
    with mailer, pytest.raises(ConnectionRefusedError) as raised:
        mailer.send(message())
    assert f"127.0.0.1:{closed_port}, connecting" in str(raised.value)
    assert raised.value.errno is not None  # still the socket's error, errno and all


def test_the_async_mailer_says_the_same(closed_port: int) -> None:
    async def send() -> None:
        async with AsyncMailer("127.0.0.1", closed_port, security="none") as mailer:
            await mailer.send(message())

    with pytest.raises(ConnectionRefusedError, match=f"127.0.0.1:{closed_port}, connecting"):
        asyncio.run(send())


def test_a_drop_after_the_greeting_names_the_set_up_phase(scripted_server: ScriptedServer) -> None:
    scripted_server.play(Send(b"220 fake ESMTP\r\n"), Close())
    mailer = Mailer("127.0.0.1", scripted_server.port, security="none")
    with mailer, pytest.raises(SMTPServerDisconnected) as raised:
        mailer.open()
    assert re.search(rf"127\.0\.0\.1:{scripted_server.port}, EHLO", str(raised.value))


def test_a_certificate_error_says_how_to_trust_a_private_ca(
    starttls_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer("localhost", starttls_server.port)  # the system's CAs only
    with mailer, pytest.raises(ssl.SSLCertVerificationError) as raised:
        mailer.send(message())
    text = str(raised.value)
    assert f"localhost:{starttls_server.port}, TLS handshake after STARTTLS" in text
    assert all(hint in text for hint in TRUST_HINTS), text
    assert raised.value.verify_code  # OpenSSL's reason is kept for code that reads it
    assert starttls_server.messages == []


def test_a_missing_ca_file_is_named_when_the_mailer_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        Mailer("mail.example.test", ca_file=str(missing))
    (tmp_path / "not-a-ca.pem").write_text("hello")
    with pytest.raises(ssl.SSLError, match=r"not-a-ca\.pem"):
        Mailer("mail.example.test", ca_file=str(tmp_path / "not-a-ca.pem"))
