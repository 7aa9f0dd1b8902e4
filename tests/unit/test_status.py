"""Classification of replies and results: what the retry logic and the integrations rely on."""

from __future__ import annotations

import pytest

from smtp_backend.errors import (
    SMTPConnectError,
    SMTPInvalidInputError,
    SMTPMessageTooLarge,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPServerDisconnected,
)
from smtp_backend.protocol import ReplyParser
from smtp_backend.results import MessageState, Reply, SendResult
from smtp_backend.status import Classification, classify, describe_enhanced


def _reply(raw: bytes) -> Reply:
    parser = ReplyParser()
    parser.feed(raw)
    reply = parser.next_reply()
    assert reply is not None
    return reply


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, None),
        (354, None),
        (421, Classification.TEMPORARY),
        (451, Classification.TEMPORARY),
        (550, Classification.PERMANENT),
        (554, Classification.PERMANENT),
        (-1, Classification.UNKNOWN),
        (199, Classification.UNKNOWN),
    ],
)
def test_reply_codes_are_classified(code: int, expected: Classification | None) -> None:
    assert classify(code) is expected


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"550 5.1.1 <x@y>: Recipient address rejected\r\n", "no such user"),
        (b"452 4.2.2 Mailbox full\r\n", "mailbox full"),
        (b"554 5.7.1 Rejected for policy reasons\r\n", "refused"),
        (b"421 4.7.0 Try again later, throttled\r\n", "throttled"),
    ],
)
def test_common_enhanced_codes_are_explained(raw: bytes, text: str) -> None:
    reply = _reply(raw)
    assert reply.description is not None and text in reply.description
    assert reply.classification is classify(reply.code)


def test_unknown_enhanced_code_has_no_description() -> None:
    assert describe_enhanced((5, 9, 99)) is None
    assert describe_enhanced(None) is None


def _result(state: MessageState, **kwargs: object) -> SendResult:
    return SendResult(0, "a@x.test", ("b@x.test",), state, **kwargs)  # type: ignore[arg-type]


def test_sent_has_no_classification() -> None:
    result = _result(MessageState.SENT, reply=_reply(b"250 ok\r\n"))
    assert result.classification is None and not result.retryable


def test_temporary_refusal_is_retryable_permanent_is_not() -> None:
    temporary = _result(MessageState.REFUSED, reply=_reply(b"451 4.3.0 later\r\n"))
    permanent = _result(MessageState.REFUSED, reply=_reply(b"550 5.1.1 no\r\n"))
    assert temporary.classification is Classification.TEMPORARY and temporary.retryable
    assert permanent.classification is Classification.PERMANENT and not permanent.retryable


def test_mixed_recipient_refusals_are_permanent() -> None:
    result = _result(
        MessageState.REFUSED,
        refused={"b@x.test": _reply(b"550 no\r\n"), "c@x.test": _reply(b"451 later\r\n")},
    )
    assert result.classification is Classification.PERMANENT


def test_unknown_fate_is_never_retryable() -> None:
    result = _result(MessageState.UNKNOWN, error=SMTPServerDisconnected("lost"))
    assert result.classification is Classification.UNKNOWN and not result.retryable


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SMTPServerDisconnected("lost"), Classification.TEMPORARY),
        (SMTPConnectError(421, b"4.3.2 shutting down"), Classification.TEMPORARY),
        (SMTPProtocolError(-1, b"unparsable reply: garbage"), Classification.TEMPORARY),
        (SMTPConnectError(554, b"5.7.1 go away"), Classification.PERMANENT),
        (ConnectionResetError(104, "reset"), Classification.TEMPORARY),
        (SMTPInvalidInputError("bad address"), Classification.PERMANENT),
        (SMTPMessageTooLarge(10, 5), Classification.PERMANENT),
        (SMTPRecipientsRefused({}), Classification.PERMANENT),
        (TypeError("not a message"), Classification.PERMANENT),
    ],
)
def test_not_attempted_is_retryable_only_after_a_lost_connection(
    error: BaseException, expected: Classification
) -> None:
    assert _result(MessageState.NOT_ATTEMPTED, error=error).classification is expected
