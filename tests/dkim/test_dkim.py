"""DKIM: a message signed by the Mailer arrives at a real server and verifies with dkimpy."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from email.message import EmailMessage

import pytest

dkim = pytest.importorskip("dkim", reason="dkimpy is the optional extra smtp-backend[dkim]")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")

from smtp_backend import SMTP, Envelope, Mailer, MessageState, SendResult  # noqa: E402
from smtp_backend.mailer.aio import AsyncMailer  # noqa: E402
from smtp_backend.mailer.dkim import DKIM  # noqa: E402
from tests.servers import RecordingSMTPServer  # noqa: E402


def _rsa_key() -> tuple[bytes, bytes]:
    """A fresh RSA key: (private PEM, the p= value of its DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public)


def _dns(selector: str, domain: str, record: bytes) -> Callable[..., bytes | None]:
    """dkimpy's DNS hook, answering only the one selector's TXT record."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"{selector}._domainkey.{domain}.".encode() else None

    return lookup


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Shop <orders@shop.test>"
    msg["To"] = "customer@example.test"
    msg["Subject"] = "Your order"
    msg["Message-ID"] = "<order-1@shop.test>"
    msg.set_content("Thank you for your order.\n.\nA line with a leading dot.\n")
    return msg


def test_signed_message_verifies_at_the_receiving_end(smtp_server: RecordingSMTPServer) -> None:
    private, public = _rsa_key()
    signer = DKIM("shop.test", "s1", private)
    with Mailer(smtp_server.host, smtp_server.port, security="none", dkim=signer) as mailer:
        [result] = mailer.send(_message())
    assert result.ok
    [received] = smtp_server.messages
    assert received.content.startswith(b"DKIM-Signature:")
    record = b"v=DKIM1; k=rsa; p=" + public
    assert dkim.verify(received.content, dnsfunc=_dns("s1", "shop.test", record))


def test_async_mailer_signs_too(smtp_server: RecordingSMTPServer) -> None:
    private, public = _rsa_key()
    signer = DKIM("shop.test", "s1", private)

    async def send() -> list[SendResult]:
        async with AsyncMailer(
            smtp_server.host, smtp_server.port, security="none", dkim=signer
        ) as mailer:
            return await mailer.send([_message(), _message()])

    assert [r.ok for r in asyncio.run(send())] == [True, True]
    record = b"v=DKIM1; k=rsa; p=" + public
    for received in smtp_server.messages:
        assert dkim.verify(received.content, dnsfunc=_dns("s1", "shop.test", record))


def test_captured_bytes_are_the_signed_bytes(smtp_server: RecordingSMTPServer) -> None:
    private, public = _rsa_key()
    message = _message()
    with Mailer(
        smtp_server.host, smtp_server.port, security="none", dkim=DKIM("shop.test", "s1", private)
    ) as mailer:
        with mailer.capture() as outbox:
            [result] = mailer.send(message)
        assert result.ok and smtp_server.connections == 0
    [record] = outbox
    assert record.message is message  # the object given, not the signed copy
    assert record.data.startswith(b"DKIM-Signature:")
    record_txt = b"v=DKIM1; k=rsa; p=" + public
    assert dkim.verify(record.data, dnsfunc=_dns("s1", "shop.test", record_txt))


def test_a_message_that_cannot_be_signed_fails_alone() -> None:
    private, _ = _rsa_key()
    mailer = Mailer(capture=True, dkim=DKIM("shop.test", "s1", private))
    no_sender = EmailMessage()
    no_sender["To"] = "customer@example.test"
    no_sender.set_content("who sent this?")
    results = mailer.send([no_sender, _message()])
    assert [r.state for r in results] == [MessageState.NOT_ATTEMPTED, MessageState.SENT]
    assert "From" in str(results[0].error)
    assert mailer.outbox is not None and len(mailer.outbox) == 1


def test_a_wrong_key_fails_verification(smtp_server: RecordingSMTPServer) -> None:
    private, _ = _rsa_key()
    _, other_public = _rsa_key()
    with SMTP(smtp_server.host, smtp_server.port) as smtp:
        envelope = Envelope("orders@shop.test", ["c@example.test"], bytes(_message()))
        [result] = smtp.send_many([DKIM("shop.test", "s1", private).sign_item(envelope)])
    assert result.ok
    [received] = smtp_server.messages
    record = b"v=DKIM1; k=rsa; p=" + other_public
    assert not dkim.verify(received.content, dnsfunc=_dns("s1", "shop.test", record))


def test_ed25519_signature_verifies() -> None:
    pytest.importorskip("nacl", reason="dkimpy signs Ed25519 with PyNaCl")
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    signer = DKIM("shop.test", "ed", base64.b64encode(bytes(key)), algorithm="ed25519-sha256")
    signed = signer.sign(bytes(_message()))
    record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(key.verify_key))
    assert dkim.verify(signed, dnsfunc=_dns("ed", "shop.test", record))


def test_signing_covers_the_bytes_that_travel() -> None:
    private, public = _rsa_key()
    signer = DKIM("shop.test", "s1", private)
    signed = signer.sign(b"From: a@shop.test\nTo: b@x.test\nSubject: bare LF\n\nbody\n")
    assert b"\n" not in signed.replace(b"\r\n", b"")  # signed as it will be sent: CRLF only
    record = b"v=DKIM1; k=rsa; p=" + public
    assert dkim.verify(signed, dnsfunc=_dns("s1", "shop.test", record))
    tampered = signed.replace(b"body", b"BODY")
    assert not dkim.verify(tampered, dnsfunc=_dns("s1", "shop.test", record))


def test_bad_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        DKIM("shop.test", "s1", b"key", algorithm="rsa-sha1")
