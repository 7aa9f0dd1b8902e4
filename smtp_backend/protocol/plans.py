"""Plans: smtplib's public methods that are made of other public methods, for both drivers.

A plan yields :class:`~.steps.Call` steps; the driver makes each call through ``self``
(awaiting it, in asyncio) and sends back the result, or throws in the exception.
The EHLO-then-HELO fallback, the login loop over mechanisms, ``send_message``'s
envelope rules and the QUIT of a ``with`` block are decided here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import (
    SMTPAuthenticationError,
    SMTPHeloError,
    SMTPResponseException,
    SMTPServerDisconnected,
)
from .message import message_to_envelope
from .session import ClientSession
from .steps import Call, Plan

GREET = Call("ehlo_or_helo_if_needed")


def _ok(code: int) -> bool:
    return 200 <= code <= 299


def greet(session: ClientSession) -> Plan[None]:
    """``ehlo_or_helo_if_needed``: EHLO, HELO if EHLO is refused; nothing if one was done."""
    if session.needs_greeting():
        code, _ = yield Call("ehlo")
        if not _ok(code):
            code, resp = yield Call("helo")
            if not _ok(code):
                raise SMTPHeloError(code, resp)


def login(
    session: ClientSession,
    user: str,
    secret: str,
    preferred: Iterable[str],
    initial_response_ok: bool,
    what: str = "password",
) -> Plan[tuple[int, bytes]]:
    """smtplib's ``login``: each offered mechanism of ``preferred`` in turn, until one succeeds."""
    yield GREET
    last_exception: SMTPAuthenticationError | None = None
    for mechanism in session.login_mechanisms(user, secret, preferred, what):
        authobject = session.authobject(mechanism)
        try:
            code, resp = yield Call(
                "auth", (mechanism, authobject), {"initial_response_ok": initial_response_ok}
            )
        except SMTPAuthenticationError as exc:
            last_exception = exc
            continue
        if code in (235, 503):
            return code, resp
    assert last_exception is not None
    raise last_exception


def send_message_arguments(
    session: ClientSession,
    msg: Any,
    from_addr: str | None,
    to_addrs: str | Sequence[str] | None,
    mail_options: Sequence[str],
) -> tuple[str, list[str], bytes, tuple[str, ...]]:
    """smtplib's ``send_message`` rules: the ``sendmail`` arguments for ``msg``."""
    envelope = message_to_envelope(
        msg, from_addr, to_addrs, mail_options, server_smtputf8=session.has_extn("smtputf8")
    )
    return envelope.sender, list(envelope.recipients), envelope.data, tuple(envelope.mail_options)


def send_message(
    session: ClientSession,
    msg: Any,
    from_addr: str | None,
    to_addrs: str | Sequence[str] | None,
    mail_options: Sequence[str],
    rcpt_options: Sequence[str],
) -> Plan[dict[str, tuple[int, bytes]]]:
    """``send_message``: greet, then ``sendmail`` with the envelope taken from ``msg``."""
    yield GREET
    sender, recipients, flat, options = send_message_arguments(
        session, msg, from_addr, to_addrs, mail_options
    )
    refused: dict[str, tuple[int, bytes]] = yield Call(
        "sendmail", (sender, recipients, flat, options, rcpt_options)
    )
    return refused


def goodbye(quit: Call) -> Plan[None]:
    """QUIT at the end of a ``with`` block (``exchanges.leave``: our side ends if the 221 is
    slow): a refusal raises, as smtplib's; a server already gone does not."""
    try:
        code, message = yield quit
    except SMTPServerDisconnected:
        return
    if code != 221:
        raise SMTPResponseException(code, message)
