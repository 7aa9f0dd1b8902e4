"""Each message's result reaches the caller: on the exception of a partial failure (to
retry only what may be retried), through ``post_send`` for ``send_mail``/``mail_admins``."""

from __future__ import annotations

import email
import email.policy
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail import EmailMessage, mail_admins, send_mail

from django_smtp_backend import EmailBackend, post_send
from smtp_backend import MessageState, SendResult
from tests.servers import REFUSED_DOMAIN, TEMPFAIL_DOMAIN, RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)


def to(address: str, subject: str) -> EmailMessage:
    return EmailMessage(subject, "body", "alice@example.test", [address])


@pytest.fixture
def posted() -> Iterator[list[SendResult]]:
    """The results ``post_send`` carried while the test ran."""
    results: list[SendResult] = []

    def receiver(result: SendResult, **_: Any) -> None:
        results.append(result)

    post_send.connect(receiver)
    yield results
    post_send.disconnect(receiver)


def test_a_partial_failure_raises_djangos_exception_with_every_result(
    smtp_server: RecordingSMTPServer,
) -> None:
    messages = [
        to("bob@example.test", "delivered"),
        to(f"later@{TEMPFAIL_DOMAIN}", "temporary"),
        to(f"never@{REFUSED_DOMAIN}", "permanent"),
        to("carol@example.test", "delivered too"),
    ]
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        backend.send_messages(messages)

    error = raised.value
    assert list(error.recipients) == [f"later@{TEMPFAIL_DOMAIN}"]  # the first failure's
    assert error.messages == messages
    assert [result.state for result in error.results] == [
        MessageState.SENT,
        MessageState.REFUSED,
        MessageState.REFUSED,
        MessageState.SENT,
    ]
    assert [
        m.subject for m, r in zip(error.messages, error.results, strict=True) if r.retryable
    ] == ["temporary"]
    assert [m.rcpt_tos for m in smtp_server.messages] == [
        ("bob@example.test",),
        ("carol@example.test",),
    ]


def test_the_retry_recipe_resends_only_the_temporary_failures(
    smtp_server: RecordingSMTPServer,
) -> None:
    messages = [to("bob@example.test", "delivered"), to(f"later@{TEMPFAIL_DOMAIN}", "temporary")]
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)
    try:
        backend.send_messages(messages)
    except smtplib.SMTPException as error:
        retry = [m for m, r in zip(error.messages, error.results, strict=True) if r.retryable]
        retry[0].to = ["later@example.test"]  # the server would take it now
        assert backend.send_messages(retry) == 1

    assert [m.rcpt_tos for m in smtp_server.messages] == [
        ("bob@example.test",),
        ("later@example.test",),
    ]


def test_send_mail_callers_get_the_results_on_the_exception(
    classic_settings: Any, smtp_server: RecordingSMTPServer
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        send_mail("hi", "body", "alice@example.test", [f"x@{REFUSED_DOMAIN}"])

    [result] = raised.value.results
    assert result.state is MessageState.REFUSED
    assert result.refused[f"x@{REFUSED_DOMAIN}"].code == 550


def test_mail_admins_results_reach_post_send_receivers(
    classic_settings: Any, smtp_server: RecordingSMTPServer, posted: list[SendResult]
) -> None:
    classic_settings.ADMINS = [("Ops", f"ops@{REFUSED_DOMAIN}"), ("Dev", "dev@example.test")]

    mail_admins("disk full", "body", fail_silently=True)

    [result] = posted
    assert result.state is MessageState.SENT
    assert result.accepted == ("dev@example.test",)
    assert list(result.refused) == [f"ops@{REFUSED_DOMAIN}"]


def test_results_carry_the_message_id_the_server_received(
    smtp_server: RecordingSMTPServer, posted: list[SendResult]
) -> None:
    backend = EmailBackend(host=smtp_server.host, port=smtp_server.port)

    assert backend.send_messages([to("bob@example.test", "one"), to("bob@example.test", "two")])

    received_ids = [
        email.message_from_bytes(m.content, policy=email.policy.default)["Message-ID"]
        for m in smtp_server.messages
    ]
    assert [result.message_id for result in backend.last_results] == received_ids
    assert [result.message_id for result in posted] == received_ids
    assert len(set(received_ids)) == 2 and all(received_ids)
