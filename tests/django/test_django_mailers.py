"""Django 6.1's MAILERS: OPTIONS only, Django's errors, port by security mode, --using."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.core.management import call_command

from tests.servers import RecordingSMTPServer

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1"),
]
BACKEND = "django_smtp_backend.EmailBackend"


def entry(**options: Any) -> dict[str, Any]:
    return {"BACKEND": BACKEND, "OPTIONS": options}


def test_default_mailer_sends_without_reading_any_email_setting(
    settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    settings.MAILERS = {"default": entry(host=smtp_server.host, port=smtp_server.port)}

    # With MAILERS defined, reading an EMAIL_* setting raises: none is read.
    sent = send_mail("via MAILERS", "body", "alice@example.test", ["bob@example.test"])

    assert sent == 1
    assert smtp_server.messages[0].rcpt_tos == ("bob@example.test",)
    assert mail.mailers.default.alias == "default"


def test_unknown_options_are_rejected_as_django_does(settings: Any) -> None:
    settings.MAILERS = {"default": entry(host="localhost", colour="blue")}

    with pytest.raises(
        mail.InvalidMailer, match="MAILERS\\['default'\\]: Unknown options 'colour'"
    ):
        mail.mailers.default  # noqa: B018


def test_host_is_required(settings: Any) -> None:
    settings.MAILERS = {"default": entry(port=25)}

    # Django's exact words: code and Django's own tests match on them.
    with pytest.raises(
        mail.InvalidMailer, match=r"^MAILERS\['default'\]: OPTIONS must define 'host'\."
    ):
        mail.mailers.default  # noqa: B018


def test_unset_credentials_are_none_as_djangos(settings: Any) -> None:
    settings.MAILERS = {"default": entry(host="localhost")}

    assert mail.mailers.default.username is None
    assert mail.mailers.default.password is None


def test_a_missing_ca_file_is_refused_by_option_name(settings: Any) -> None:
    settings.MAILERS = {"default": entry(host="localhost", ssl_cafile="/nonexistent/ca.pem")}

    with pytest.raises(
        mail.InvalidMailer, match=r"^MAILERS\['default'\]: 'ssl_cafile': .*'/nonexistent/ca.pem'"
    ):
        mail.mailers.default  # noqa: B018


def test_use_tls_and_use_ssl_are_incompatible(settings: Any) -> None:
    settings.MAILERS = {"default": entry(host="localhost", use_tls=True, use_ssl=True)}

    with pytest.raises(mail.InvalidMailer, match="'use_ssl' and 'use_tls' OPTIONS"):
        mail.mailers.default  # noqa: B018


@pytest.mark.parametrize(
    ("security", "port"), [({}, 25), ({"use_tls": True}, 587), ({"use_ssl": True}, 465)]
)
def test_port_defaults_by_security_mode(
    settings: Any, security: dict[str, bool], port: int
) -> None:
    settings.MAILERS = {"default": entry(host="mail.example.test", **security)}

    assert mail.mailers.default.port == port


def test_extra_options_and_tls_with_a_private_ca(
    settings: Any, starttls_server: RecordingSMTPServer, ca_file: str
) -> None:
    settings.MAILERS = {
        "default": entry(
            host="localhost",
            port=starttls_server.port,
            use_tls=True,
            ssl_cafile=ca_file,
            pool_size=2,
            max_messages_per_connection=50,
            idle_timeout=10,
            pipelining=True,
            retries=1,
            rate_limit=1000,
        )
    }
    messages = [EmailMessage(f"m{i}", "b", "a@example.test", ["b@example.test"]) for i in range(3)]

    assert mail.mailers.default.send_messages(messages) == 3
    assert all(received.tls for received in starttls_server.messages)


def test_sendtestemail_using_an_alias(
    settings: Any,
    smtp_server_factory: Any,
) -> None:
    default_server, alerts_server = smtp_server_factory(), smtp_server_factory()
    settings.MAILERS = {
        "default": entry(host=default_server.host, port=default_server.port),
        "alerts": entry(url=f"smtp://{alerts_server.host}:{alerts_server.port}"),
    }

    call_command("sendtestemail", "ops@example.test", using="alerts")

    assert default_server.messages == []
    [received] = alerts_server.messages
    assert received.rcpt_tos == ("ops@example.test",)


def test_each_access_is_a_new_backend_on_the_same_shared_mailer(
    settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    settings.MAILERS = {
        "default": entry(host=smtp_server.host, port=smtp_server.port),
        "bulk": entry(host=smtp_server.host, port=smtp_server.port, pool_size=8),
    }

    assert mail.mailers.default is not mail.mailers.default
    assert mail.mailers.default.mailer is mail.mailers.default.mailer
    assert mail.mailers.default.mailer is not mail.mailers["bulk"].mailer
    for subject in ("one", "two", "three"):
        send_mail(subject, "body", "alice@example.test", ["bob@example.test"], using="default")
    assert smtp_server.connections == 1
