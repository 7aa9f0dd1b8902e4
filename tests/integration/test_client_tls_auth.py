"""STARTTLS, implicit TLS and AUTH against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import re
import socket
import ssl
from collections.abc import Iterator

import pytest

from smtp_backend import (
    SMTP,
    SMTP_SSL,
    SMTPAuthenticationError,
    SMTPInsecureAuthError,
    SMTPServerDisconnected,
)
from smtp_backend.client import _is_loopback
from tests.conftest import SMTPServerFactory
from tests.servers import (
    AUTH_PASSWORD,
    AUTH_USER,
    OAUTH_TOKEN,
    Close,
    Expect,
    LoopbackPKI,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    StartTLS,
    ehlo_reply,
)

SENDER = "alice@example.test"
BODY = b"Subject: tls\r\n\r\nbody\r\n"


# -- STARTTLS -----------------------------------------------------------------------


def test_starttls_with_the_test_ca_encrypts_the_transaction(
    starttls_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    with SMTP("localhost", starttls_server.port, local_hostname="client.test") as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.starttls(context=client_ssl_context)[0] == 220
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.ehlo_resp is None  # smtplib forgets the pre-TLS EHLO
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    [message] = starttls_server.messages
    assert message.tls
    assert starttls_server.verbs().count("EHLO") == 2


def test_starttls_default_context_refuses_an_untrusted_certificate(
    starttls_server: RecordingSMTPServer,
) -> None:
    client = SMTP("localhost", starttls_server.port, local_hostname="client.test")
    with pytest.raises(ssl.SSLCertVerificationError):
        client.starttls()
    assert client.sock is None  # never reused in an unknown state
    with pytest.raises(SMTPServerDisconnected):
        client.noop()
    assert starttls_server.messages == []


@pytest.fixture
def wrong_name_server(loopback_pki: LoopbackPKI) -> Iterator[ScriptedServer]:
    """Presents a certificate from the trusted CA, but for mail.example.test."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    loopback_pki.ca.issue_cert("mail.example.test").configure_cert(context)
    with ScriptedServer(ssl_context=context) as server:
        yield server


def test_starttls_refuses_a_certificate_for_another_host(
    wrong_name_server: ScriptedServer, client_ssl_context: ssl.SSLContext
) -> None:
    wrong_name_server.play(
        Send(b"220 fake ESMTP\r\n"),
        Expect(rb"(?i)ehlo \S+", ehlo_reply("STARTTLS", "AUTH PLAIN")),
        Expect(rb"(?i)starttls", b"220 go ahead\r\n"),
        StartTLS(),
        Close(),
    )
    client = SMTP("127.0.0.1", wrong_name_server.port, local_hostname="client.test")
    with pytest.raises(ssl.SSLCertVerificationError, match=r"(?i)hostname|IP address"):
        client.starttls(context=client_ssl_context)
    assert client.sock is None


def test_smtp_ssl_with_context(
    smtps_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    with SMTP_SSL(
        "localhost", smtps_server.port, local_hostname="client.test", context=client_ssl_context
    ) as client:
        assert isinstance(client.sock, ssl.SSLSocket)
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    [message] = smtps_server.messages
    assert message.tls and message.content == BODY


def test_smtp_ssl_default_context_refuses_the_untrusted_certificate(
    smtps_server: RecordingSMTPServer,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        SMTP_SSL("localhost", smtps_server.port, local_hostname="client.test")
    assert smtps_server.messages == []


# -- AUTH mechanisms ------------------------------------------------------------------


def test_login_picks_cram_md5_first_and_authenticates(auth_server: RecordingSMTPServer) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        assert client.login(AUTH_USER, AUTH_PASSWORD)[0] == 235
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    auths = [c.argument for c in auth_server.commands if c.verb == "AUTH"]
    assert auths == ["CRAM-MD5"]
    assert auth_server.messages[0].login == AUTH_USER.encode()


@pytest.mark.parametrize(
    ("mechanism", "method", "initial_response_ok"),
    [
        ("PLAIN", "auth_plain", True),
        ("PLAIN", "auth_plain", False),
        ("LOGIN", "auth_login", True),
        ("LOGIN", "auth_login", False),
        ("CRAM-MD5", "auth_cram_md5", True),
    ],
)
def test_each_mechanism_authenticates(
    auth_server: RecordingSMTPServer, mechanism: str, method: str, initial_response_ok: bool
) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        client.ehlo()
        assert mechanism in client.esmtp_features["auth"].split()
        client.user, client.password = AUTH_USER, AUTH_PASSWORD
        code, _ = client.auth(
            mechanism, getattr(client, method), initial_response_ok=initial_response_ok
        )
        assert code == 235
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    assert auth_server.messages[0].login == AUTH_USER.encode()


def test_bad_password_raises_authentication_error(auth_server: RecordingSMTPServer) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        with pytest.raises(SMTPAuthenticationError) as info:
            client.login(AUTH_USER, "wrong password")
        assert info.value.smtp_code == 535
    assert auth_server.messages == []


@pytest.mark.parametrize("prefer", ["OAUTHBEARER", "XOAUTH2"])
def test_login_oauth2_with_the_test_token(auth_server: RecordingSMTPServer, prefer: str) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        client.ehlo()
        client.esmtp_features["auth"] = f" {prefer}"  # what a server offering only it says
        assert client.login_oauth2(AUTH_USER, OAUTH_TOKEN)[0] == 235
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    assert [
        c.argument.split()[0] for c in auth_server.commands if c.verb == "AUTH" and c.argument
    ] == [prefer]
    assert auth_server.messages[0].login == AUTH_USER.encode()


def test_login_oauth2_prefers_oauthbearer(auth_server: RecordingSMTPServer) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        client.login_oauth2(AUTH_USER, OAUTH_TOKEN)
    [auth] = [c.argument for c in auth_server.commands if c.verb == "AUTH"]
    assert auth is not None and auth.split()[0] == "OAUTHBEARER"


def test_login_oauth2_bad_token_raises(auth_server: RecordingSMTPServer) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        with pytest.raises(SMTPAuthenticationError):
            client.login_oauth2(AUTH_USER, "expired-token")
        assert client.noop()[0] == 250  # the SASL exchange ended cleanly


def _b64(raw: bytes) -> bytes:
    return re.escape(base64.b64encode(raw))


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_non_ascii_password_is_sent_as_utf8(
    scripted_server: ScriptedServer, mechanism: str
) -> None:
    password = "pässwörd ✓"
    if mechanism == "PLAIN":
        steps = [Expect(rb"AUTH PLAIN " + _b64(b"\0u@x.test\0" + password.encode()), b"235 ok\r\n")]
    else:
        steps = [
            Expect(rb"AUTH LOGIN " + _b64(b"u@x.test"), b"334 UGFzc3dvcmQ6\r\n"),
            Expect(_b64(password.encode()), b"235 ok\r\n"),
        ]
    scripted_server.play(
        Send(b"220 fake ESMTP\r\n"),
        Expect(rb"(?i)ehlo \S+", ehlo_reply(f"AUTH {mechanism}")),
        *steps,
        Expect(rb"(?i)quit", b"221 bye\r\n"),
        Close(),
    )
    with SMTP(scripted_server.host, scripted_server.port, local_hostname="client.test") as client:
        assert client.login("u@x.test", password)[0] == 235
    scripted_server.join()
    assert scripted_server.errors == []


# -- AUTH over plain text ---------------------------------------------------------------


def test_auth_over_plaintext_loopback_is_allowed(auth_server: RecordingSMTPServer) -> None:
    with SMTP("127.0.0.1", auth_server.port, local_hostname="client.test") as client:
        assert not isinstance(client.sock, ssl.SSLSocket)
        assert client.login(AUTH_USER, AUTH_PASSWORD)[0] == 235


def test_is_loopback_decides_by_peer_address_name_or_unix_socket() -> None:
    # Tests may bind only 127.0.0.1, so a remote peer cannot be made real: an unconnected
    # TCP socket (no peer address) stands for one, and the host name decides.
    with socket.socket() as unconnected:
        assert not _is_loopback(unconnected, "mail.example.com")
        assert not _is_loopback(unconnected, "203.0.113.5")
        assert not _is_loopback(unconnected, "localhost.example.com")
        assert _is_loopback(unconnected, "localhost")
        assert _is_loopback(unconnected, "127.0.0.2")
        assert _is_loopback(unconnected, "::1")
    with socket.socket(socket.AF_UNIX) as unix:
        assert _is_loopback(unix, "/var/run/lmtp.sock")
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()) as peer,
    ):
        assert _is_loopback(peer, "mail.example.com")  # the peer really is loopback


def _remote_plaintext_client() -> SMTP:
    # As after connect() to mail.example.com:25 without TLS; no byte can leave this socket.
    client = SMTP(local_hostname="client.test")
    client.sock = socket.socket()
    client._host = "mail.example.com"
    return client


def test_auth_refused_over_plaintext_to_a_remote_host() -> None:
    client = _remote_plaintext_client()
    client.user, client.password = AUTH_USER, AUTH_PASSWORD
    try:
        with pytest.raises(SMTPInsecureAuthError, match=r"mail\.example\.com"):
            client.auth("PLAIN", client.auth_plain)
    finally:
        client.close()


def test_allow_insecure_auth_opts_in() -> None:
    client = _remote_plaintext_client()
    client.allow_insecure_auth = True
    client.user, client.password = AUTH_USER, AUTH_PASSWORD
    try:
        # past the check, the unconnected socket fails the send itself
        with pytest.raises(SMTPServerDisconnected):
            client.auth("PLAIN", client.auth_plain)
    finally:
        client.close()


# -- credentials never in the transcript --------------------------------------------------


def _secrets() -> list[str]:
    password = AUTH_PASSWORD.encode()
    return [
        AUTH_PASSWORD,
        base64.b64encode(password).decode(),
        base64.b64encode(b"\0" + AUTH_USER.encode() + b"\0" + password).decode(),
        OAUTH_TOKEN,
    ]


@pytest.mark.parametrize(
    ("mechanism", "method"),
    [("PLAIN", "auth_plain"), ("LOGIN", "auth_login"), ("CRAM-MD5", "auth_cram_md5")],
)
def test_credentials_never_appear_in_debug_output(
    auth_server: RecordingSMTPServer,
    mechanism: str,
    method: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="smtp_backend"),
        SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client,
    ):
        client.set_debuglevel(2)
        client.ehlo()
        client.user, client.password = AUTH_USER, AUTH_PASSWORD
        assert client.auth(mechanism, getattr(client, method))[0] == 235
    transcript = capsys.readouterr().err + "\n".join(r.getMessage() for r in caplog.records)
    assert "redacted" in transcript
    assert "235" in transcript  # replies are still shown
    for secret in _secrets():
        assert secret not in transcript


def test_oauth_token_never_appears_in_debug_output(
    auth_server: RecordingSMTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with SMTP(auth_server.host, auth_server.port, local_hostname="client.test") as client:
        client.set_debuglevel(1)
        client.login_oauth2(AUTH_USER, OAUTH_TOKEN)
    err = capsys.readouterr().err
    token_b64 = base64.b64encode(OAUTH_TOKEN.encode()).decode()
    assert OAUTH_TOKEN not in err and token_b64[:16] not in err
    assert "Bearer" not in err


def test_server_factory_auth_with_starttls(
    smtp_server_factory: SMTPServerFactory, client_ssl_context: ssl.SSLContext
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True)
    with SMTP("localhost", server.port, local_hostname="client.test") as client:
        client.starttls(context=client_ssl_context)
        client.login(AUTH_USER, AUTH_PASSWORD)
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    [message] = server.messages
    assert message.tls and message.login == AUTH_USER.encode()
