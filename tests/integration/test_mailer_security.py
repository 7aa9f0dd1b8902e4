"""Mailer TLS and login: STARTTLS required means required; certificates verified; secrets unlogged."""

from __future__ import annotations

import base64
import logging
import ssl

import pytest

from smtp_backend import Envelope, MessageState, SMTPNotSupportedError
from smtp_backend.mailer import Mailer
from smtp_backend.mailer.connect import ConnectionFactory
from tests.conftest import SMTPServerFactory
from tests.servers import AUTH_PASSWORD, AUTH_USER, OAUTH_TOKEN, RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)

MESSAGE = Envelope("alice@example.test", ["bob@example.test"], b"Subject: s\r\n\r\nhi\r\n")


def _login_name(server: RecordingSMTPServer) -> str:
    login = server.messages[0].login
    name = getattr(login, "login", login)
    assert isinstance(name, bytes)
    return name.decode()


def test_starttls_required_but_not_offered_fails_before_anything_is_sent(
    smtp_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer(
        smtp_server.host,
        smtp_server.port,
        security="starttls",
        username=AUTH_USER,
        password=AUTH_PASSWORD,
    )
    with mailer, pytest.raises(SMTPNotSupportedError, match="does not offer STARTTLS"):
        mailer.send(MESSAGE)
    assert smtp_server.messages == []
    assert set(smtp_server.verbs()) <= {"EHLO", "HELO"}


def test_starttls_and_password_login_with_a_verified_certificate(
    smtp_server_factory: SMTPServerFactory, client_ssl_context: ssl.SSLContext
) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True, auth=True)
    with Mailer(
        server.host,
        server.port,
        username=AUTH_USER,
        password=AUTH_PASSWORD,
        ssl_context=client_ssl_context,
    ) as mailer:
        results = mailer.send([MESSAGE, MESSAGE])
    assert [r.state for r in results] == [MessageState.SENT] * 2
    assert [m.tls for m in server.messages] == [True, True]
    assert _login_name(server) == AUTH_USER
    assert server.verbs()[:3] == ["EHLO", "STARTTLS", "EHLO"]


def test_the_certificate_is_verified_by_default(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True)
    mailer = Mailer(server.host, server.port, username=AUTH_USER, password=AUTH_PASSWORD)
    with mailer, pytest.raises(ssl.SSLCertVerificationError):
        mailer.send(MESSAGE)
    assert server.messages == []
    assert "AUTH" not in server.verbs()


def test_implicit_tls(
    smtps_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    with Mailer(
        smtps_server.host, smtps_server.port, security="tls", ssl_context=client_ssl_context
    ) as mailer:
        assert mailer.send(MESSAGE)[0].ok
    assert smtps_server.messages[0].tls


def test_oauth_token_callable_is_called_for_each_new_connection(
    smtp_server_factory: SMTPServerFactory, client_ssl_context: ssl.SSLContext
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True)
    calls = []

    def token() -> str:
        calls.append(1)
        return OAUTH_TOKEN

    with Mailer(
        server.host,
        server.port,
        username=AUTH_USER,
        oauth_token=token,
        ssl_context=client_ssl_context,
        max_messages_per_connection=1,
        pool_size=1,
    ) as mailer:
        results = mailer.send([MESSAGE, MESSAGE])
    assert all(r.ok for r in results)
    assert len(calls) == 2 == server.connections
    assert _login_name(server) == AUTH_USER


def test_no_password_or_token_reaches_the_logs(
    auth_server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="smtp_backend")
    with Mailer(
        auth_server.host,
        auth_server.port,
        security="none",
        username=AUTH_USER,
        password=AUTH_PASSWORD,
    ) as mailer:
        assert mailer.send(MESSAGE)[0].ok
        assert AUTH_PASSWORD not in repr(mailer)
    plain = base64.b64encode(f"\0{AUTH_USER}\0{AUTH_PASSWORD}".encode()).decode()
    text = caplog.text
    assert "message 0 sent" in text  # the per-transaction record is there
    assert AUTH_PASSWORD not in text and plain not in text
    assert base64.b64encode(AUTH_PASSWORD.encode()).decode() not in text


def test_a_tls_connection_is_reused_across_calls(
    smtp_server_factory: SMTPServerFactory, client_ssl_context: ssl.SSLContext
) -> None:
    server = smtp_server_factory(tls="starttls")
    with Mailer(server.host, server.port, ssl_context=client_ssl_context) as mailer:
        for _ in range(3):
            assert mailer.send(MESSAGE)[0].ok
    assert server.connections == 1
    assert [m.tls for m in server.messages] == [True] * 3


def test_open_raises_a_missing_starttls_before_any_send(smtp_server: RecordingSMTPServer) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="starttls")
    with mailer, pytest.raises(SMTPNotSupportedError, match="does not offer STARTTLS"):
        mailer.open()
    assert smtp_server.messages == []


@pytest.mark.parametrize("allowed", [False, True])
def test_allow_insecure_auth_is_set_on_every_connection(
    auth_server: RecordingSMTPServer, allowed: bool
) -> None:
    # Tests may bind only loopback, where the guard always lets a login through; so this
    # checks that the option reaches each connection the Mailer opens, and
    # test_client_tls_auth checks what the guard does with it on a remote-looking one.
    mailer = Mailer(
        auth_server.host,
        auth_server.port,
        security="none",
        username=AUTH_USER,
        password=AUTH_PASSWORD,
        allow_insecure_auth=allowed,
    )
    assert mailer.settings.allow_insecure_auth is allowed
    smtp = ConnectionFactory(mailer.settings)()  # how the Mailer's pool opens each one
    try:
        assert smtp.allow_insecure_auth is allowed
        assert smtp.user == AUTH_USER  # logged in over clear text: loopback is exempt
    finally:
        smtp.goodbye()


def test_debuglevel_prints_each_connections_conversation_without_secrets(
    auth_server: RecordingSMTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    def send(**options: object) -> None:
        with Mailer(
            auth_server.host,
            auth_server.port,
            security="none",
            username=AUTH_USER,
            password=AUTH_PASSWORD,
            **options,  # type: ignore[arg-type]
        ) as mailer:
            assert mailer.send(MESSAGE)[0].ok

    send(debuglevel=1)
    err = capsys.readouterr().err
    assert "MAIL FROM:<ALICE@EXAMPLE.TEST>" in err.upper() and "reply: retcode (250)" in err
    plain = base64.b64encode(f"\0{AUTH_USER}\0{AUTH_PASSWORD}".encode()).decode()
    assert AUTH_PASSWORD not in err and plain not in err
    send()
    assert capsys.readouterr().err == ""
