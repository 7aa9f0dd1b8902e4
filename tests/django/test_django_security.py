"""TLS, implicit TLS, certificate checks and authentication through the Django backend."""

from __future__ import annotations

import smtplib
import ssl
from typing import Any

import pytest
from django.core.mail import EmailMessage, send_mail

from django_smtp_backend import EmailBackend
from tests.servers import AUTH_PASSWORD, AUTH_USER, OAUTH_TOKEN, RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def oauth_token_provider() -> str:
    """Named by dotted path in the ``oauth_token`` option."""
    return OAUTH_TOKEN


def hello() -> list[EmailMessage]:
    return [EmailMessage("hello", "body", "alice@example.test", ["bob@example.test"])]


def test_starttls_with_a_trusted_private_ca(
    starttls_server: RecordingSMTPServer, ca_file: str
) -> None:
    backend = EmailBackend(
        host="localhost", port=starttls_server.port, use_tls=True, ssl_cafile=ca_file
    )

    assert backend.send_messages(hello()) == 1
    assert starttls_server.messages[0].tls
    assert "STARTTLS" in starttls_server.verbs()


def test_implicit_tls_with_classic_settings(
    settings: Any, smtps_server: RecordingSMTPServer, ca_file: str
) -> None:
    settings.EMAIL_BACKEND = "django_smtp_backend.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtps_server.port
    settings.EMAIL_USE_SSL = True

    # ssl_cafile is this backend's own option: classic settings reach it through
    # get_connection(), as every other backend keyword.
    from django.core.mail import get_connection

    with get_connection(ssl_cafile=ca_file) as connection:
        sent = send_mail(
            "over TLS", "body", "alice@example.test", ["bob@example.test"], connection=connection
        )

    assert sent == 1
    assert smtps_server.messages[0].tls


def test_certificates_are_verified_by_default(starttls_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(host="localhost", port=starttls_server.port, use_tls=True)

    with pytest.raises(ssl.SSLCertVerificationError):
        backend.send_messages(hello())
    assert starttls_server.messages == []


def test_use_tls_refuses_a_server_without_starttls(smtp_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port, use_tls=True)

    with pytest.raises(smtplib.SMTPNotSupportedError):
        backend.send_messages(hello())
    assert smtp_server.messages == []


def test_tls_and_ssl_are_mutually_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        EmailBackend(host="localhost", use_tls=True, use_ssl=True)


def test_login_with_username_and_password(auth_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(
        host=auth_server.host,
        port=auth_server.port,
        username=AUTH_USER,
        password=AUTH_PASSWORD,
    )

    assert backend.send_messages(hello()) == 1
    assert auth_server.messages[0].login == AUTH_USER.encode()


def test_wrong_password_raises_unless_fail_silently(auth_server: RecordingSMTPServer) -> None:
    options = {"host": auth_server.host, "port": auth_server.port, "username": AUTH_USER}

    with pytest.raises(smtplib.SMTPAuthenticationError):
        EmailBackend(password="wrong", **options).send_messages(hello())
    quiet = EmailBackend(password="wrong", fail_silently=True, **options)
    assert quiet.send_messages(hello()) == 0
    assert auth_server.messages == []


def test_open_raises_a_refused_login(auth_server: RecordingSMTPServer) -> None:
    options = {"host": auth_server.host, "port": auth_server.port, "username": AUTH_USER}

    with pytest.raises(smtplib.SMTPAuthenticationError):
        EmailBackend(password="wrong", **options).open()
    assert EmailBackend(password="wrong", fail_silently=True, **options).open() is None


def test_allow_insecure_auth_reaches_the_mailer(smtp_server: RecordingSMTPServer) -> None:
    options = {"host": smtp_server.host, "port": smtp_server.port}

    assert EmailBackend(**options).mailer.settings.allow_insecure_auth is False
    allowed = EmailBackend(allow_insecure_auth=True, **options).mailer
    assert allowed.settings.allow_insecure_auth is True


@pytest.mark.parametrize(
    "token", [OAUTH_TOKEN, oauth_token_provider, f"{__name__}.oauth_token_provider"]
)
def test_oauth_token_as_string_callable_or_dotted_path(
    auth_server: RecordingSMTPServer, token: Any
) -> None:
    backend = EmailBackend(
        host=auth_server.host, port=auth_server.port, username=AUTH_USER, oauth_token=token
    )

    assert backend.send_messages(hello()) == 1
    assert auth_server.messages[0].login == AUTH_USER.encode()
    [auth] = [c for c in auth_server.commands if c.verb == "AUTH"]
    assert (auth.argument or "").split()[0] in ("OAUTHBEARER", "XOAUTH2")
