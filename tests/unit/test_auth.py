"""SASL responses: known answers from the RFCs, agreement with smtplib, unsafe input refused."""

from __future__ import annotations

import hmac
import smtplib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_backend.errors import SMTPInvalidInputError
from smtp_backend.protocol.sasl import (
    OAUTH_ERROR_ACK,
    PREFERRED_MECHANISMS,
    SASLChallengeError,
    choose_mechanism,
    cram_md5_response,
    decode_challenge,
    encode_sasl,
    oauth_error_ack,
    oauthbearer_response,
    plain_response,
    validate_credential,
    xoauth2_response,
)

RFC2195_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"
no_nul = st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\x00"))


def smtplib_authobject(user: str, password: str) -> smtplib.SMTP:
    client = smtplib.SMTP()
    client.user, client.password = user, password
    return client


# CRAM-MD5


def test_cram_md5_rfc2195_example() -> None:
    assert (
        cram_md5_response("tim", "tanstaaftanstaaf", RFC2195_CHALLENGE)
        == b"tim b913a602c7eda7a495b4e6e7334d3890"
    )


def test_cram_md5_rfc2195_example_on_the_wire() -> None:
    challenge = decode_challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
    response = cram_md5_response("tim", "tanstaaftanstaaf", challenge)
    assert encode_sasl(response) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"


@given(user=st.text(alphabet=st.characters(max_codepoint=127)), password=st.text(max_size=40))
def test_cram_md5_agrees_with_smtplib_on_ascii(user: str, password: str) -> None:
    password = password.encode("ascii", "ignore").decode()
    expected = smtplib_authobject(user, password).auth_cram_md5(RFC2195_CHALLENGE)
    assert cram_md5_response(user, password, RFC2195_CHALLENGE) == expected.encode()


def test_cram_md5_non_ascii_password_uses_utf8() -> None:
    with pytest.raises(UnicodeEncodeError):  # the smtplib failure this package fixes
        smtplib_authobject("jürgen", "pässwörd").auth_cram_md5(b"<1@x>")
    digest = hmac.new("pässwörd".encode(), b"<1@x>", "md5").hexdigest()
    assert cram_md5_response("jürgen", "pässwörd", b"<1@x>") == f"jürgen {digest}".encode()


# PLAIN


def test_plain_layout() -> None:
    assert plain_response("tim", "tanstaaf") == b"\x00tim\x00tanstaaf"
    assert plain_response("tim", "tanstaaf", authzid="admin") == b"admin\x00tim\x00tanstaaf"


def test_plain_non_ascii_is_utf8() -> None:
    assert plain_response("jürgen", "pässwörd") == "\x00jürgen\x00pässwörd".encode()


@given(user=no_nul, password=no_nul, authzid=no_nul)
def test_plain_splits_back_into_its_parts(user: str, password: str, authzid: str) -> None:
    raw = plain_response(user, password, authzid)
    assert raw.decode().split("\x00") == [authzid, user, password]


@given(user=st.text(alphabet=st.characters(max_codepoint=127)), password=st.text())
def test_plain_agrees_with_smtplib_on_ascii(user: str, password: str) -> None:
    password = password.encode("ascii", "ignore").decode()
    user, password = user.replace("\x00", ""), password.replace("\x00", "")
    expected = smtplib_authobject(user, password).auth_plain()
    assert plain_response(user, password) == expected.encode("ascii")


@pytest.mark.parametrize("field", ["user", "password", "authzid"])
def test_plain_refuses_nul_in_any_field(field: str) -> None:
    parts = {"user": "u", "password": "p", "authzid": ""}
    parts[field] = "a\x00b"
    with pytest.raises(SMTPInvalidInputError, match=field):
        plain_response(**parts)


# OAuth


def test_xoauth2_google_example() -> None:
    raw = xoauth2_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert encode_sasl(raw) == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQm"
        "hkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )


def test_oauthbearer_rfc7628_example() -> None:
    raw = oauthbearer_response(
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==", "server.example.com", 143
    )
    assert encode_sasl(raw) == (
        "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVy"
        "IHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2c9PQEB"
    )


def test_oauthbearer_without_host_and_port() -> None:
    assert oauthbearer_response("u@x", "T") == b"n,a=u@x,\x01auth=Bearer T\x01\x01"


def test_oauthbearer_escapes_comma_and_equals_in_user() -> None:
    assert oauthbearer_response("a,b=c", "T").startswith(b"n,a=a=2Cb=3Dc,\x01")


@given(user=st.text(min_size=1, alphabet=st.characters(codec="utf-8", blacklist_characters="\x01")))
def test_oauthbearer_user_round_trips_through_gs2_escaping(user: str) -> None:
    header = oauthbearer_response(user, "T").decode().split("\x01")[0]
    assert header.startswith("n,a=") and header.endswith(",")
    escaped = header[len("n,a=") : -1]
    assert "," not in escaped
    assert escaped.replace("=2C", ",").replace("=3D", "=") == user


def test_oauth_error_acks() -> None:
    assert oauth_error_ack("OAUTHBEARER") == OAUTH_ERROR_ACK == b"\x01"
    assert oauth_error_ack("xoauth2") == b""
    with pytest.raises(ValueError):
        oauth_error_ack("PLAIN")


# base64 framing


def test_encode_sasl_empty_initial_response_is_equals_sign() -> None:
    assert encode_sasl(b"") == "="
    assert encode_sasl(b"", initial=False) == ""


@given(st.binary())
def test_encode_then_decode_round_trips(raw: bytes) -> None:
    text = encode_sasl(raw, initial=False)
    assert "\n" not in text and text.isascii()
    assert decode_challenge(text.encode()) == raw


def test_decode_challenge_tolerates_space_and_missing_padding() -> None:
    assert decode_challenge(b"  UGFzc3dvcmQ6 \r\n") == b"Password:"
    assert decode_challenge(b"YQ") == b"a"
    assert decode_challenge(b"") == b""


@pytest.mark.parametrize("text", [b"Password:", b"not base64!", b"A"])
def test_decode_challenge_rejects_non_base64(text: bytes) -> None:
    with pytest.raises(SASLChallengeError) as caught:
        decode_challenge(text)
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, smtplib.SMTPException)


# credential validation


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nMAIL FROM:<x>", "a\x00b"])
def test_user_names_with_line_breaks_or_nul_are_refused(bad: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="user"):
        validate_credential(bad, "user")


@pytest.mark.parametrize("what", ["password", "token"])
def test_secrets_with_line_breaks_are_refused(what: str) -> None:
    for bad in ("a\rb", "a\nb"):
        with pytest.raises(SMTPInvalidInputError, match=what) as caught:
            validate_credential(bad, what)
        assert "CR" in str(caught.value) or "LF" in str(caught.value)


def test_credentials_that_cannot_be_utf8_are_refused() -> None:
    with pytest.raises(SMTPInvalidInputError, match="password"):
        validate_credential("pass\udcff", "password")  # e.g. a surrogateescape'd environ value


def test_valid_credentials_pass() -> None:
    validate_credential("jürgen@exämple.org", "user")
    validate_credential("pä ss\x00wörd", "password")  # NUL is not a separator here


def test_refusal_is_an_smtplib_exception_and_a_value_error() -> None:
    with pytest.raises(SMTPInvalidInputError) as caught:
        validate_credential("x\n", "user")
    assert isinstance(caught.value, smtplib.SMTPException)
    assert isinstance(caught.value, ValueError)


# mechanism choice


def test_choose_mechanism_orders_by_preference() -> None:
    assert choose_mechanism(["LOGIN", "PLAIN", "CRAM-MD5"]) == ["CRAM-MD5", "PLAIN", "LOGIN"]
    assert choose_mechanism(["login", "Plain", "GSSAPI"]) == ["PLAIN", "LOGIN"]
    assert choose_mechanism(["GSSAPI", "NTLM"]) == []
    assert choose_mechanism(["XOAUTH2", "PLAIN"], ["xoauth2", "PLAIN"]) == ["XOAUTH2", "PLAIN"]


@given(st.lists(st.sampled_from(["CRAM-MD5", "PLAIN", "LOGIN", "GSSAPI", "NTLM", "XOAUTH2"])))
def test_choose_mechanism_agrees_with_smtplib_login_order(advertised: list[str]) -> None:
    # smtplib.login: [auth for auth in preferred_auths if auth in authlist]
    expected = [name for name in PREFERRED_MECHANISMS if name in advertised]
    assert choose_mechanism(advertised) == expected
    assert choose_mechanism(name.lower() for name in advertised) == expected
