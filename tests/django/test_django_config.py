"""How the backend is configured: Django's keywords and classic settings, the extra options."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection, mail_admins, send_mail, send_mass_mail

from django_smtp_backend import EmailBackend
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def hello() -> list[EmailMessage]:
    return [EmailMessage("hello", "body", "alice@example.test", ["bob@example.test"])]


def test_unset_keywords_fall_back_to_the_classic_settings(settings: Any) -> None:
    settings.EMAIL_HOST = "mail.example.test"
    settings.EMAIL_PORT = 2525
    settings.EMAIL_HOST_USER = "user"
    settings.EMAIL_HOST_PASSWORD = "secret"
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_TIMEOUT = 7

    backend = EmailBackend()

    assert (backend.host, backend.port, backend.username, backend.password) == (
        "mail.example.test",
        2525,
        "user",
        "secret",
    )
    assert (backend.use_tls, backend.use_ssl, backend.timeout) == (True, False, 7)


def test_given_keywords_win_over_the_settings(settings: Any) -> None:
    settings.EMAIL_HOST = "mail.example.test"
    settings.EMAIL_USE_TLS = True

    backend = EmailBackend(host="other.example.test", port=587, username="", use_tls=False)

    assert (backend.host, backend.port, backend.username, backend.use_tls) == (
        "other.example.test",
        587,
        "",
        False,
    )


def test_classic_settings_tls_and_ssl_together_are_refused(settings: Any) -> None:
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_USE_SSL = True

    with pytest.raises(ValueError, match="EMAIL_USE_TLS/EMAIL_USE_SSL are mutually exclusive"):
        EmailBackend()


def test_get_connection_passes_extra_options(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    with get_connection(pool_size=1, max_messages_per_connection=2) as connection:
        sent = connection.send_messages(hello() * 5)

    assert sent == 5
    assert smtp_server.connections == 3  # at most 2 messages a connection, one at a time


def test_url_option_replaces_host_and_port(smtp_server: RecordingSMTPServer) -> None:
    backend = EmailBackend(url=f"smtp://{smtp_server.host}:{smtp_server.port}")

    assert backend.send_messages(hello()) == 1
    assert len(smtp_server.messages) == 1


def test_url_with_host_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="'url' replaces 'host'"):
        EmailBackend(url="smtp://127.0.0.1:25", host="127.0.0.1")


def test_one_mailer_per_configuration(smtp_server: RecordingSMTPServer) -> None:
    def backend(**options: Any) -> EmailBackend:
        return EmailBackend(host=smtp_server.host, port=smtp_server.port, **options)

    assert backend().mailer is backend().mailer
    assert (
        backend(username="a", password="1").mailer is not backend(username="a", password="2").mailer
    )
    assert backend(pool_size=1).mailer is not backend(pool_size=2).mailer


def test_classic_settings_reach_every_extra_option(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    classic_settings.SMTP_BACKEND_OPTIONS = {"pool_size": 1, "max_messages_per_connection": 2}

    sent = send_mass_mail([("hi", "body", "alice@example.test", ["bob@example.test"])] * 5)

    assert sent == 5
    assert smtp_server.connections == 3  # at most 2 messages a connection, one at a time
    assert EmailBackend(pool_size=4).config.pool_size == 4  # a keyword still wins


def test_email_ssl_cafile_lets_mail_admins_trust_a_private_ca(
    settings: Any, starttls_server: RecordingSMTPServer, ca_file: str
) -> None:
    settings.EMAIL_BACKEND = "django_smtp_backend.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "localhost", starttls_server.port
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_SSL_CAFILE = ca_file
    settings.ADMINS = [("Ops", "ops@example.test")]

    mail_admins("disk full", "body")

    [received] = starttls_server.messages
    assert received.tls
    assert received.rcpt_tos == ("ops@example.test",)


def test_an_unknown_classic_option_is_refused_by_name(settings: Any) -> None:
    settings.SMTP_BACKEND_OPTIONS = {"pool_size": 2, "colour": "blue"}

    with pytest.raises(
        ImproperlyConfigured, match=r"SMTP_BACKEND_OPTIONS: unknown option 'colour'"
    ):
        EmailBackend()


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("EMAIL_SSL_CAFILE", "/nonexistent/ca.pem", "EMAIL_SSL_CAFILE"),
        (
            "SMTP_BACKEND_OPTIONS",
            {"ssl_cafile": "/nonexistent/ca.pem"},
            r"SMTP_BACKEND_OPTIONS\['ssl_cafile'\]",
        ),
    ],
)
def test_a_missing_ca_file_is_refused_before_any_connection(
    classic_settings: Any, smtp_server: RecordingSMTPServer, setting: str, value: Any, named: str
) -> None:
    setattr(classic_settings, setting, value)

    with pytest.raises(ImproperlyConfigured, match=rf"^{named}: .*'/nonexistent/ca.pem'"):
        send_mail("hi", "body", "alice@example.test", ["bob@example.test"])
    assert smtp_server.connections == 0
