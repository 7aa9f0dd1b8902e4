"""Django's backend attributes and methods, as code written for Django's backend uses them:
``connection`` while open, ``open()``/``close()`` results, ``prep_address()``, its errors."""

from __future__ import annotations

import warnings
from typing import Any

import django
import pytest
from django.core import mail
from django.core.mail import EmailMessage

from django_smtp_backend import EmailBackend
from smtp_backend import SMTP, SMTPNotSupportedError
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def backend_for(server: RecordingSMTPServer, **options: Any) -> EmailBackend:
    return EmailBackend(host=server.host, port=server.port, **options)


def hello(subject: str = "hello") -> EmailMessage:
    return EmailMessage(subject, "body", "alice@example.test", ["bob@example.test"])


def test_connection_is_the_lent_smtp_connection_while_open(
    smtp_server: RecordingSMTPServer,
) -> None:
    backend = backend_for(smtp_server, timeout=7)
    assert backend.connection is None

    assert backend.open() is True
    connection = backend.connection
    assert isinstance(connection, SMTP)
    assert connection.timeout == 7
    assert connection.noop()[0] == 250  # a live session, usable as smtplib's
    assert backend.open() is False  # already open: the same connection
    assert backend.connection is connection

    backend.close()
    assert backend.connection is None
    backend.close()  # closing twice is harmless, as Django's


def test_close_gives_the_connection_back_to_the_pool(smtp_server: RecordingSMTPServer) -> None:
    for _ in range(3):
        with backend_for(smtp_server) as backend:
            assert backend.send_messages([hello()]) == 1

    assert smtp_server.connections == 1
    assert len(smtp_server.messages) == 3


def test_an_open_backend_stays_open_across_sends_even_with_a_pool_of_one(
    smtp_server: RecordingSMTPServer,
) -> None:
    with backend_for(smtp_server, pool_size=1) as backend:
        assert backend.send_messages([hello("one"), hello("two")]) == 2
        assert backend.connection is not None
        assert backend.send_messages([hello("three")]) == 1
        assert backend.connection.noop()[0] == 250

    assert len(smtp_server.messages) == 3
    assert smtp_server.connections == 1


def test_open_backends_never_wait_for_one_another_even_with_a_pool_of_one(
    smtp_server: RecordingSMTPServer,
) -> None:
    with (
        backend_for(smtp_server, pool_size=1) as outer,
        backend_for(smtp_server, pool_size=1) as inner,
    ):
        assert inner.send_messages([hello("inner")]) == 1
        assert backend_for(smtp_server, pool_size=1).send_messages([hello("not open")]) == 1
        assert outer.send_messages([hello("outer")]) == 1
        assert outer.connection is not inner.connection

    assert len(smtp_server.messages) == 3


def test_a_wrapped_sendmail_is_called_for_each_message(smtp_server: RecordingSMTPServer) -> None:
    calls = []
    with backend_for(smtp_server) as backend:
        real_sendmail = backend.connection.sendmail

        def recording_sendmail(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return real_sendmail(*args, **kwargs)

        backend.connection.sendmail = recording_sendmail
        assert backend.send_messages([hello("one"), hello("two")]) == 2

    assert [(sender, recipients) for sender, recipients, _ in calls] == [
        ("alice@example.test", ["bob@example.test"]),
        ("alice@example.test", ["bob@example.test"]),
    ]
    assert all(b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"") for *_, data in calls)
    assert len(smtp_server.messages) == 2


def test_a_failed_silent_open_sends_nothing(closed_port: int) -> None:
    backend = EmailBackend(host="127.0.0.1", port=closed_port, fail_silently=True)

    assert backend.open() is None
    assert backend.connection is None
    assert backend.send_messages([hello()]) == 0


def test_a_failed_open_raises_the_connection_error(closed_port: int) -> None:
    backend = EmailBackend(host="127.0.0.1", port=closed_port)

    with pytest.raises(ConnectionRefusedError):
        backend.open()
    assert backend.connection is None


def test_starttls_missing_raises_smtplibs_message(smtp_server: RecordingSMTPServer) -> None:
    backend = backend_for(smtp_server, use_tls=True)

    with pytest.raises(
        SMTPNotSupportedError, match=r"^STARTTLS extension not supported by server\."
    ):
        backend.open()
    assert backend.connection is None
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("address", "force_ascii", "expected"),
    [
        ("Bob <bob@example.test>", True, "bob@example.test"),
        ("bob@bücher.test", True, "bob@xn--bcher-kva.test"),
        ("bob@xn--fa-hia.example.com", True, "bob@xn--fa-hia.example.com"),  # never re-encoded
        ("åh@åh.example.dk", False, "åh@åh.example.dk"),
        ("oh@åh.example.dk", False, "oh@åh.example.dk"),
    ],
)
def test_prep_address_is_djangos(address: str, force_ascii: bool, expected: str) -> None:
    assert EmailBackend().prep_address(address, force_ascii=force_ascii) == expected


@pytest.mark.parametrize(
    "address", ["nø@example.dk", "to@other.com@example.com", "a@example.test, b@example.test"]
)
def test_prep_address_refuses_what_django_refuses(address: str) -> None:
    with pytest.raises(ValueError, match=r"^Invalid address"):
        EmailBackend().prep_address(address)


@pytest.mark.skipif(django.VERSION < (6, 1), reason="the deprecation is Django 6.1's")
def test_direct_construction_warns_as_djangos_backend(settings: Any) -> None:
    from django.utils.deprecation import RemovedInDjango2028Warning

    with pytest.warns(
        RemovedInDjango2028Warning,
        match=r"^Directly creating EmailBackend instances is deprecated\.",
    ):
        EmailBackend()

    settings.MAILERS = {
        "default": {"BACKEND": "django_smtp_backend.EmailBackend", "OPTIONS": {"host": "localhost"}}
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "Directly creating", RemovedInDjango2028Warning)
        assert mail.mailers.default.alias == "default"  # Django building it: no warning


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="Django 6.1 deprecates direct construction")
def test_direct_construction_does_not_warn_before_django_61() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmailBackend()


def test_a_backend_not_open_sends_through_the_pool_so_smtp_outbox_captures_it(
    smtp_outbox: Any, closed_port: int
) -> None:
    backend = EmailBackend(host="127.0.0.1", port=closed_port)  # nothing listens

    assert backend.send_messages([hello("one"), hello("two")]) == 2

    assert [record.recipients for record in smtp_outbox] == [("bob@example.test",)] * 2
    assert backend.connection is None
