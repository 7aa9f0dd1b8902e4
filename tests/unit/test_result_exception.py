"""SendResult.exception(): the exception smtplib's sendmail raises for the same outcome.

Django's backend and Flask's Connection raise it for a failed message, so a caller
that catches smtplib's classes keeps working."""

from __future__ import annotations

import pytest

from smtp_backend.errors import (
    SMTPDataError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from smtp_backend.results import MessageState, Reply, SendResult


def result(state: MessageState, **fields: object) -> SendResult:
    return SendResult(0, "a@example.test", ("b@example.test", "c@example.test"), state, **fields)  # type: ignore[arg-type]


def test_a_sent_message_has_no_exception() -> None:
    assert result(MessageState.SENT, accepted=("b@example.test",)).exception() is None


def test_the_error_met_is_the_exception() -> None:
    error = ConnectionRefusedError("refused")
    assert result(MessageState.NOT_ATTEMPTED, error=error).exception() is error


def test_a_refused_sender_is_smtp_sender_refused() -> None:
    failure = result(MessageState.REFUSED, reply=Reply(550, b"no such sender")).exception()
    assert isinstance(failure, SMTPSenderRefused)
    assert (failure.smtp_code, failure.smtp_error, failure.sender) == (
        550,
        b"no such sender",
        "a@example.test",
    )


def test_every_recipient_refused_is_smtp_recipients_refused() -> None:
    refused = {"b@example.test": Reply(550, b"no"), "c@example.test": Reply(450, b"later")}
    failure = result(MessageState.REFUSED, refused=refused).exception()
    assert isinstance(failure, SMTPRecipientsRefused)
    assert failure.recipients == {"b@example.test": (550, b"no"), "c@example.test": (450, b"later")}


def test_refused_data_is_smtp_data_error() -> None:
    failure = result(
        MessageState.REFUSED, accepted=("b@example.test",), reply=Reply(554, b"spam")
    ).exception()
    assert isinstance(failure, SMTPDataError)
    assert (failure.smtp_code, failure.smtp_error) == (554, b"spam")


def test_an_unknown_fate_is_a_lost_connection_that_may_have_delivered() -> None:
    failure = result(MessageState.UNKNOWN, accepted=("b@example.test",)).exception()
    assert isinstance(failure, SMTPServerDisconnected)
    assert "may have been delivered" in str(failure)


@pytest.mark.parametrize("state", [MessageState.NOT_ATTEMPTED, MessageState.REFUSED])
def test_without_a_reply_or_error_it_is_still_an_smtp_exception(state: MessageState) -> None:
    assert type(result(state).exception()) is SMTPException
