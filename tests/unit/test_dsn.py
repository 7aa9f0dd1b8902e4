"""DSN (RFC 3461) and REQUIRETLS (RFC 8689) parameters, as prepared before anything is sent."""

from __future__ import annotations

import pytest

from smtp_backend.dsn import DSN, RecipientDSN, utf8_addr_xtext, xtext
from smtp_backend.errors import SMTPInvalidInputError, SMTPNotSupportedError
from smtp_backend.protocol import ServerFeatures, prepare_transaction
from smtp_backend.results import Envelope

DSN_SERVER = ServerFeatures(esmtp=True, pipelining=True, dsn=True, smtputf8=True)


def _prepare(envelope: Envelope, features: ServerFeatures = DSN_SERVER) -> tuple[bytes, ...]:
    txn = prepare_transaction(envelope, features, use_bdat=False)
    return (txn.mail, *txn.rcpts)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("abc", "abc"),
        ("a+b=c", "a+2Bb+3Dc"),
        ("two words", "two+20words"),
        ("é", "+C3+A9"),
        ("tab\there", "tab+09here"),
    ],
)
def test_xtext_encodes_what_rfc_3461_requires(raw: str, encoded: str) -> None:
    assert xtext(raw) == encoded


def test_utf8_addr_xtext_escapes_non_ascii_and_specials() -> None:
    assert utf8_addr_xtext("jö+x@b") == "j\\x{F6}\\x{2B}x@b"


def test_message_and_recipient_parameters() -> None:
    dsn = DSN(
        notify=("SUCCESS", "FAILURE"),
        ret="hdrs",
        envid="batch 7",
        orcpt=True,
        recipients={"b@x.test": RecipientDSN(notify="NEVER", orcpt="list@x.test")},
    )
    mail, rcpt_a, rcpt_b = _prepare(Envelope("s@x.test", ["a@x.test", "b@x.test"], b"hi", dsn=dsn))
    assert mail == b"mail from:<s@x.test> RET=HDRS ENVID=batch+207\r\n"
    assert rcpt_a == b"rcpt to:<a@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@x.test\r\n"
    assert rcpt_b == b"rcpt to:<b@x.test> NOTIFY=NEVER ORCPT=rfc822;list@x.test\r\n"


@pytest.mark.parametrize(
    "dsn",
    [
        DSN(notify=("SUCCESS", "NEVER")),
        DSN(notify="SOMETIMES"),
        DSN(notify=()),
        DSN(ret="BODY"),
    ],
)
def test_bad_dsn_requests_fail_before_sending(dsn: DSN) -> None:
    with pytest.raises(SMTPInvalidInputError):
        _prepare(Envelope("s@x.test", ["a@x.test"], b"hi", dsn=dsn))


def test_dsn_without_server_support_is_a_clear_error_unless_optional() -> None:
    plain = ServerFeatures(esmtp=True)
    with pytest.raises(SMTPNotSupportedError, match="does not advertise DSN"):
        _prepare(Envelope("s@x.test", ["a@x.test"], b"hi", dsn=DSN(notify="NEVER")), plain)
    mail, rcpt = _prepare(
        Envelope("s@x.test", ["a@x.test"], b"hi", dsn=DSN(notify="NEVER", required=False)), plain
    )
    assert b"NOTIFY" not in rcpt and b"RET" not in mail


def test_require_tls_needs_verified_tls_and_server_support() -> None:
    envelope = Envelope("s@x.test", ["a@x.test"], b"hi", require_tls=True)
    with pytest.raises(SMTPNotSupportedError, match="verified"):
        _prepare(envelope, ServerFeatures(esmtp=True, requiretls=True))
    with pytest.raises(SMTPNotSupportedError, match="does not offer"):
        _prepare(envelope, ServerFeatures(esmtp=True, tls_verified=True))
    mail, _ = _prepare(envelope, ServerFeatures(esmtp=True, requiretls=True, tls_verified=True))
    assert mail.endswith(b" REQUIRETLS\r\n")
