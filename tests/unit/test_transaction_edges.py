"""prepare_transaction at its edges: the MAIL parameters it adds (SIZE, SMTPUTF8,
BODY=8BITMIME) and keeps, SIZE exactly at the limit, and what a HELO-only server gets."""

from __future__ import annotations

from typing import Any

import pytest

from smtp_backend.dsn import DSN
from smtp_backend.errors import SMTPMessageTooLarge, SMTPNotSupportedError
from smtp_backend.protocol import PreparedTransaction, ServerFeatures, prepare_transaction
from smtp_backend.results import Envelope

ESMTP = ServerFeatures(esmtp=True)
INTERNATIONAL = ServerFeatures(esmtp=True, smtputf8=True, eightbitmime=True)
HELO_ONLY = ServerFeatures(esmtp=False)


def prepared(
    features: ServerFeatures,
    *,
    sender: str = "s@example.test",
    recipients: tuple[str, ...] = ("r@example.test",),
    data: bytes = b"Subject: hi\r\n\r\nbody\r\n",
    bdat: bool = False,
    **envelope: Any,
) -> PreparedTransaction:
    env = Envelope(sender, recipients, data, **envelope)
    return prepare_transaction(env, features, use_bdat=bdat)


# -- SIZE (RFC 1870) ----------------------------------------------------------------


def test_a_message_of_exactly_the_advertised_size_is_sent_and_one_octet_more_is_not() -> None:
    data = b"Subject: x\n\nbody"  # SIZE counts it with CRLF line endings: 2 octets more
    limit = len(data) + 2
    txn = prepared(ServerFeatures(esmtp=True, size_limit=limit), data=data)
    assert txn.mail == b"mail from:<s@example.test> size=%d\r\n" % limit
    with pytest.raises(SMTPMessageTooLarge) as info:
        prepared(ServerFeatures(esmtp=True, size_limit=limit - 1), data=data)
    assert (info.value.size, info.value.limit) == (limit, limit - 1)


def test_size_without_a_fixed_limit_announces_the_size_and_refuses_nothing() -> None:
    data = b"x" * 10_000
    txn = prepared(ServerFeatures(esmtp=True, size_limit=0), data=data)
    assert txn.mail == b"mail from:<s@example.test> size=10000\r\n"


def test_size_comes_first_then_the_callers_options_as_smtplib_orders_them() -> None:
    features = ServerFeatures(esmtp=True, size_limit=1000)
    txn = prepared(features, data=b"abc", mail_options=["X-A=1", "X-B"])
    assert txn.mail == b"mail from:<s@example.test> size=3 X-A=1 X-B\r\n"


def test_a_size_the_caller_gave_is_not_sent_twice() -> None:
    txn = prepared(ServerFeatures(esmtp=True, size_limit=1000), mail_options=["Size=999"])
    assert txn.mail == b"mail from:<s@example.test> Size=999\r\n"


# -- SMTPUTF8 and BODY=8BITMIME, added when the message needs them ---------------------


def test_a_non_ascii_address_adds_smtputf8_and_8bitmime_and_is_sent_as_utf8() -> None:
    txn = prepared(INTERNATIONAL, recipients=("jöran@exämple.test",))
    assert txn.mail == b"mail from:<s@example.test> SMTPUTF8 BODY=8BITMIME\r\n"
    assert txn.rcpts == ("rcpt to:<jöran@exämple.test>\r\n".encode(),)


def test_a_non_ascii_sender_needs_smtputf8_too() -> None:
    txn = prepared(ServerFeatures(esmtp=True, smtputf8=True), sender="jöran@exämple.test")
    assert txn.mail == "mail from:<jöran@exämple.test> SMTPUTF8\r\n".encode()


def test_smtputf8_the_caller_gave_is_not_sent_twice_and_body_is_still_added() -> None:
    txn = prepared(INTERNATIONAL, recipients=("é@example.test",), mail_options=["smtputf8"])
    assert txn.mail == b"mail from:<s@example.test> smtputf8 BODY=8BITMIME\r\n"


def test_an_8bit_body_to_ascii_addresses_adds_only_body_8bitmime() -> None:
    txn = prepared(INTERNATIONAL, data="Subject: x\r\n\r\nsmörgåsbord\r\n".encode())
    assert txn.mail == b"mail from:<s@example.test> BODY=8BITMIME\r\n"


def test_an_ascii_message_gets_no_international_parameters() -> None:
    assert prepared(INTERNATIONAL).mail == b"mail from:<s@example.test>\r\n"


def test_an_8bit_body_to_a_server_without_8bitmime_gets_no_body_parameter() -> None:
    txn = prepared(ESMTP, data=b"\xff\r\n")
    assert txn.mail == b"mail from:<s@example.test>\r\n"


def test_a_body_the_caller_gave_is_kept() -> None:
    txn = prepared(INTERNATIONAL, data=b"\xff\r\n", mail_options=["BODY=BINARYMIME"])
    assert txn.mail == b"mail from:<s@example.test> BODY=BINARYMIME\r\n"


def test_smtputf8_asked_of_a_server_without_it_is_refused_before_sending() -> None:
    with pytest.raises(SMTPNotSupportedError, match="SMTPUTF8 not supported by server"):
        prepared(ESMTP, mail_options=["SMTPUTF8"])
    with pytest.raises(SMTPNotSupportedError, match="internationalized"):
        prepared(ESMTP, recipients=("é@example.test",))


def test_a_non_ascii_parameter_without_smtputf8_is_refused_before_sending() -> None:
    with pytest.raises(SMTPNotSupportedError, match="internationalized"):
        prepared(ESMTP, rcpt_options=["X-NOTE=é"])


# -- a server that answered HELO only ----------------------------------------------------


def test_a_helo_only_server_gets_no_esmtp_parameters_at_all() -> None:
    # smtplib drops mail_options and rcpt_options silently when the server is not ESMTP
    txn = prepared(HELO_ONLY, mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=NEVER"])
    assert txn.mail == b"mail from:<s@example.test>\r\n"
    assert txn.rcpts == (b"rcpt to:<r@example.test>\r\n",)


def test_a_helo_only_server_refuses_a_non_ascii_address_before_sending() -> None:
    with pytest.raises(SMTPNotSupportedError, match="internationalized"):
        prepared(HELO_ONLY, sender="é@example.test")


# -- DSN together with the caller's own parameters ------------------------------------------


def test_dsn_parameters_follow_the_callers_mail_and_rcpt_options() -> None:
    dsn = DSN(notify="NEVER", ret="HDRS")
    features = ServerFeatures(esmtp=True, dsn=True)
    txn = prepared(features, mail_options=["X-A=1"], rcpt_options=["X-B=2"], dsn=dsn)
    assert txn.mail == b"mail from:<s@example.test> X-A=1 RET=HDRS\r\n"
    assert txn.rcpts == (b"rcpt to:<r@example.test> X-B=2 NOTIFY=NEVER\r\n",)


def test_an_optional_dsn_to_a_server_without_dsn_keeps_the_callers_options() -> None:
    dsn = DSN(notify="NEVER", ret="HDRS", required=False)
    txn = prepared(ESMTP, mail_options=["X-A=1"], rcpt_options=["X-B=2"], dsn=dsn)
    assert txn.mail == b"mail from:<s@example.test> X-A=1\r\n"
    assert txn.rcpts == (b"rcpt to:<r@example.test> X-B=2\r\n",)


# -- what the transaction carries ------------------------------------------------------------


def test_bdat_payload_is_one_last_chunk_of_the_canonical_message() -> None:
    txn = prepared(ESMTP, data=b".a\nb", bdat=True)
    assert txn.payload == b"BDAT 7 LAST\r\n.a\r\nb\r\n"
    assert (txn.use_bdat, txn.size) == (True, 5)
    assert txn.content == b".a\r\nb\r\n"  # what the server receives: canonical, unstuffed


def test_data_payload_is_stuffed_and_terminated() -> None:
    txn = prepared(ESMTP, data=b".a\nb")
    assert txn.payload == b"..a\r\nb\r\n.\r\n"
    assert (txn.use_bdat, txn.size) == (False, 5)
    assert txn.content == b".a\r\nb\r\n"


def test_the_message_id_given_to_prepare_wins_over_the_envelopes() -> None:
    env = Envelope("s@example.test", ["r@example.test"], b"x", message_id="<env@x>")
    assert prepare_transaction(env, ESMTP, use_bdat=False).message_id == "<env@x>"
    chosen = prepare_transaction(env, ESMTP, use_bdat=False, message_id="<given@x>")
    assert chosen.message_id == "<given@x>"
    assert (chosen.sender, chosen.recipients) == ("s@example.test", ("r@example.test",))
