"""SMTP and send_many against Postfix: exactly the bytes sent arrive, per recipient."""

from __future__ import annotations

import email
import email.policy
import ssl

import pytest

from smtp_backend import (
    DSN,
    SMTP,
    Envelope,
    MessageState,
    SMTPAuthenticationError,
    SMTPMessageTooLarge,
)
from tests.interop.conftest import Arrived, as_stored, text_message
from tests.mta.fixture import AddressFactory
from tests.mta.postfix import (
    HOSTNAME,
    MESSAGE_SIZE_LIMIT,
    REFUSED_DOMAIN,
    SASL_PASSWORD,
    SASL_USER,
    TEMPFAIL_DOMAIN,
    PostfixInstance,
)

pytestmark = pytest.mark.timeout(60)

SENDER = "sender@sender.test"
# Lines a careless client mangles: a leading dot, a lone dot, 8-bit text, trailing space.
# Postfix's Received header names the SASL user, in the realm sasldb keeps it under.
AUTHENTICATED = f"(Authenticated sender: {SASL_USER}@{HOSTNAME})".encode()
TRICKY_BODY = "Hello\r\n.leading dot\r\n.\r\n..two dots\r\nGrüße, ünïcödé \r\n\r\nend\r\n".encode()


def connect(postfix: PostfixInstance) -> SMTP:
    return SMTP("127.0.0.1", postfix.port, local_hostname="client.test", timeout=10)


def test_postfix_advertises_what_the_interop_tests_rely_on(postfix: PostfixInstance) -> None:
    with connect(postfix) as smtp:
        smtp.ehlo()
        for extension in ("pipelining", "chunking", "smtputf8", "8bitmime", "dsn", "starttls"):
            assert smtp.has_extn(extension), extension
        assert smtp.esmtp_features["size"] == str(MESSAGE_SIZE_LIMIT)
        assert smtp.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]


def test_sendmail_delivers_the_exact_bytes(
    postfix: PostfixInstance, recipient: str, arrived: Arrived
) -> None:
    data = text_message(SENDER, recipient, "exact", TRICKY_BODY)
    with connect(postfix) as smtp:
        assert smtp.sendmail(SENDER, [recipient], data) == {}

    delivered = arrived(recipient)
    assert delivered.message == as_stored(data)
    assert delivered.return_path == SENDER


def test_starttls_verifies_postfix_with_the_test_ca(
    postfix: PostfixInstance,
    client_ssl_context: ssl.SSLContext,
    recipient: str,
    arrived: Arrived,
) -> None:
    data = text_message(SENDER, recipient, "over TLS", TRICKY_BODY)
    with connect(postfix) as smtp:
        assert smtp.starttls(context=client_ssl_context)[0] == 220
        smtp.sendmail(SENDER, [recipient], data)

    delivered = arrived(recipient)
    assert delivered.message == as_stored(data)
    assert b"using TLS" in delivered.added_headers[b"received"]


def test_starttls_refuses_postfix_certificate_without_the_ca(postfix: PostfixInstance) -> None:
    with connect(postfix) as smtp, pytest.raises(ssl.SSLCertVerificationError):
        smtp.starttls()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_mechanism_against_cyrus_sasldb(
    postfix: PostfixInstance,
    client_ssl_context: ssl.SSLContext,
    mechanism: str,
    recipient: str,
    arrived: Arrived,
) -> None:
    data = text_message(SENDER, recipient, f"auth {mechanism}", b"authenticated\r\n")
    with connect(postfix) as smtp:
        smtp.starttls(context=client_ssl_context)
        smtp.ehlo()
        smtp.user, smtp.password = SASL_USER, SASL_PASSWORD
        authobject = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
        assert smtp.auth(mechanism, authobject)[0] == 235
        smtp.sendmail(SENDER, [recipient], data)

    delivered = arrived(recipient)
    assert delivered.message == as_stored(data)
    assert AUTHENTICATED in delivered.added_headers[b"received"]


def test_login_with_a_wrong_password_is_refused(
    postfix: PostfixInstance, client_ssl_context: ssl.SSLContext
) -> None:
    with connect(postfix) as smtp:
        smtp.starttls(context=client_ssl_context)
        with pytest.raises(SMTPAuthenticationError) as refused:
            smtp.login(SASL_USER, "not the password")
    assert refused.value.smtp_code == 535


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_send_many_pipelined_delivers_every_message_exactly(
    postfix: PostfixInstance, address: AddressFactory, arrived: Arrived, verb: str
) -> None:
    envelopes = []
    for number in range(12):
        rcpt = address(f"batch{number}")
        body = TRICKY_BODY * number + f"message {number}".encode()  # the last without CRLF
        envelopes.append(Envelope(SENDER, [rcpt], text_message(SENDER, rcpt, "batch", body)))

    with connect(postfix) as smtp:
        smtp.chunking = verb == "BDAT"
        results = smtp.send_many(envelopes)
        client_port = smtp.sock.getsockname()[1]

    assert [r.state for r in results] == [MessageState.SENT] * len(envelopes)
    commands = postfix.session_commands(client_port)
    assert commands[verb.lower()] == str(len(envelopes))
    for item in envelopes:
        [rcpt] = item.recipients
        # Postfix ends an unterminated last line; nothing else may differ.
        expected = item.data if item.data.endswith(b"\r\n") else item.data + b"\r\n"
        assert arrived(rcpt).message == as_stored(expected)


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_refused_and_deferred_recipients_are_reported_per_recipient(
    postfix: PostfixInstance, address: AddressFactory, arrived: Arrived, verb: str
) -> None:
    good = address("good")
    refused = address("no", REFUSED_DOMAIN)
    deferred = address("later", TEMPFAIL_DOMAIN)
    data = text_message(SENDER, good, "some recipients", b"partly\r\n")
    only_refused = Envelope(SENDER, [refused], text_message(SENDER, refused, "none", b"x\r\n"))

    with connect(postfix) as smtp:
        smtp.chunking = verb == "BDAT"
        mixed, nobody = smtp.send_many(
            [Envelope(SENDER, [refused, good, deferred], data), only_refused]
        )

    assert mixed.state is MessageState.SENT
    assert mixed.accepted == (good,)
    assert {rcpt: reply.code for rcpt, reply in mixed.refused.items()} == {
        refused: 550,
        deferred: 451,
    }
    assert mixed.refused[refused].enhanced == (5, 1, 1)
    assert b"Recipient deferred by the test policy" in mixed.refused[deferred].message
    assert nobody.state is MessageState.REFUSED
    assert nobody.refused[refused].code == 550
    assert arrived(good).message == as_stored(data)


def test_a_message_over_the_size_limit_is_refused_before_sending(
    postfix: PostfixInstance, address: AddressFactory, arrived: Arrived
) -> None:
    small, large = address("small"), address("large")
    filler = (b"y" * 998 + b"\r\n") * (MESSAGE_SIZE_LIMIT // 1000 + 1)
    too_big = text_message(SENDER, large, "big", filler)
    fits = text_message(SENDER, small, "small", b"fits\r\n")

    with connect(postfix) as smtp:
        results = smtp.send_many(
            [Envelope(SENDER, [large], too_big), Envelope(SENDER, [small], fits)]
        )
        client_port = smtp.sock.getsockname()[1]

    assert results[0].state is MessageState.NOT_ATTEMPTED
    assert isinstance(results[0].error, SMTPMessageTooLarge)
    assert results[1].state is MessageState.SENT
    assert postfix.session_commands(client_port)["mail"] == "1"  # the big one never left
    assert arrived(small).message == as_stored(fits)
    assert postfix.inbox.for_recipient(large) == []


def test_smtputf8_recipient_and_headers_arrive_intact(
    postfix: PostfixInstance, address: AddressFactory, arrived: Arrived
) -> None:
    recipient = address("jürgen")
    data = text_message("Jörg <jörg@sender.test>", recipient, "Grüße", "Größe: ü\r\n".encode())

    with connect(postfix) as smtp:
        [result] = smtp.send_many([Envelope("jörg@sender.test", [recipient], data)])

    assert result.state is MessageState.SENT
    delivered = arrived(recipient)
    assert delivered.message == as_stored(data)
    assert delivered.return_path == "jörg@sender.test"


def test_dsn_success_notification_arrives_at_the_sender(
    postfix: PostfixInstance, address: AddressFactory, arrived: Arrived
) -> None:
    sender, recipient = address("dsn-sender", "sender.test"), address("dsn-rcpt")
    data = text_message(sender, recipient, "notify me", b"with a receipt\r\n")
    dsn = DSN(notify=("SUCCESS",), ret="HDRS", envid="batch 7+1", orcpt=True)

    with connect(postfix) as smtp:
        [result] = smtp.send_many([Envelope(sender, [recipient], data, dsn=dsn)])

    assert result.state is MessageState.SENT
    assert arrived(recipient).message == as_stored(data)
    report = email.message_from_bytes(arrived(sender).message, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report["Auto-Submitted"] == "auto-replied"
    status = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    blocks = b"".join(bytes(block) for block in status.get_payload()).decode()
    fields = blocks.replace("\n ", " ").splitlines()  # unfolded, one field a line
    assert "Original-Envelope-Id: batch 7+1" in fields
    assert f"Original-Recipient: rfc822;{recipient}" in fields
    assert f"Final-Recipient: rfc822; {recipient}" in fields
    assert "Action: delivered" in fields
    assert "Status: 2.0.0" in fields
    # RET=HDRS: the notification returns the headers only, never the body.
    returned = next(p for p in report.walk() if p.get_content_type() == "text/rfc822-headers")
    assert f"To: {recipient}" in returned.get_content()
    assert b"with a receipt" not in arrived(sender).message
