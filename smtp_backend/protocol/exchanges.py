"""Command/reply dialogues as generators, shared by the blocking and asyncio drivers.

Each function here is an exchange (see :mod:`.steps`) run on a :class:`ClientSession`.
A driver is a short loop that performs the steps; every decision (what to send, what
a reply means, which exception to raise) is made here, once.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import (
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPInvalidInputError,
    SMTPNotSupportedError,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
)
from ..results import Envelope, SendResult
from . import sasl
from .batch import DEFAULT_WINDOW, BatchEngine, UnpreparedMessage
from .commands import command_line, option_list, path_argument, quoteaddr, validate_hostname
from .data import encode_data
from .features import ServerFeatures, parse_ehlo_features
from .items import prepare_item, sendmail_outcome
from .message import sendmail_data
from .session import MAX_CHALLENGES, AuthObject, ClientSession
from .steps import (
    CLOSE,
    READ,
    READ_FINAL,
    EndOutput,
    Exchange,
    Read,
    Write,
    command,
    read_reply,
)
from .transaction import PreparedTransaction, prepare_transaction

MAX_LINE_OCTETS = 998  # RFC 5322 §2.1.1 (and RFC 5321 §4.5.3.1.6): octets before each CRLF
_SCAN_WINDOW = (MAX_LINE_OCTETS + 2) // 2  # a longer line fills at least one aligned window


# -- session commands ------------------------------------------------------------


def simple(session: ClientSession, verb: str, args: str = "") -> Exchange[tuple[int, bytes]]:
    """One command line and its reply as ``(code, message)``."""
    reply = yield from command(command_line(verb, args))
    return reply.as_tuple()


def _greeting_line(verb: str, name: str) -> str:
    line = command_line(verb, name)  # smtplib's newline check (and message) first
    validate_hostname(name)
    return line


def ehlo(session: ClientSession, name: str = "") -> Exchange[tuple[int, bytes]]:
    session.esmtp_features = {}
    reply = yield from command(_greeting_line(session.ehlo_msg, name or session.local_hostname))
    code, msg = reply.as_tuple()
    if code == -1 and len(msg) == 0:
        raise SMTPServerDisconnected("Server not connected")
    session.ehlo_resp = msg
    if code == 250:
        session.does_esmtp = True
        session.esmtp_features = parse_ehlo_features(msg)
    return code, msg


def helo(session: ClientSession, name: str = "") -> Exchange[tuple[int, bytes]]:
    reply = yield from command(_greeting_line("helo", name or session.local_hostname))
    code, msg = reply.as_tuple()
    session.helo_resp = msg
    return code, msg


def rset(session: ClientSession) -> Exchange[tuple[int, bytes]]:
    session.command_encoding = "ascii"
    return (yield from simple(session, "rset"))


def quit(session: ClientSession) -> Exchange[tuple[int, bytes]]:
    """QUIT, and forget the session (the driver then closes the connection)."""
    result = yield from simple(session, "quit")
    session.forget_session()
    return result


# Exim holds its 221 up to 200 ms, waiting for the client to close first; a FIN sent with
# the QUIT would cut short a server still handling it (aiosmtpd cancels a running QUIT
# hook). So: a FIN only when no reply came within this grace.
GOODBYE_GRACE = 0.01


def leave(session: ClientSession) -> Exchange[tuple[int, bytes]]:
    """QUIT on a connection the client is done with (``goodbye()``, the end of a ``with``
    block): unless the reply comes within ``GOODBYE_GRACE``, our side of a plain stream is
    ended, so a server waiting for the client to close first answers at once. ``quit()``
    stays smtplib's: no FIN."""
    yield Write(command_line("quit"))
    yield EndOutput(GOODBYE_GRACE)
    reply = yield from read_reply()
    session.forget_session()
    return reply.as_tuple()


def address_only(addrstring: str) -> str:
    displayname, addr = email.utils.parseaddr(addrstring)
    return addrstring if (displayname, addr) == ("", "") else addr


def _path_command(
    verb: str, keyword: str, address: str, options: Sequence[str], what: str
) -> Exchange[tuple[int, bytes]]:
    # smtplib's newline check (and message) on the whole line first, then our stricter one.
    command_line(verb, f"{keyword}{quoteaddr(address)} {' '.join(options)}")
    path = path_argument(address, what, reverse_path=verb == "mail")
    line = command_line(verb, f"{keyword}{path}{option_list(options)}")
    reply = yield from command(line)
    return reply.as_tuple()


def mail(
    session: ClientSession, sender: str, options: Sequence[str] = ()
) -> Exchange[tuple[int, bytes]]:
    """MAIL FROM; options are sent only to an ESMTP server, as smtplib does."""
    options = options if session.does_esmtp else ()
    if any(x.lower() == "smtputf8" for x in options):
        if session.has_extn("smtputf8"):
            session.command_encoding = "utf-8"
        else:
            raise SMTPNotSupportedError("SMTPUTF8 not supported by server")
    return (yield from _path_command("mail", "from:", sender, options, "sender"))


def rcpt(
    session: ClientSession, recip: str, options: Sequence[str] = ()
) -> Exchange[tuple[int, bytes]]:
    options = options if session.does_esmtp else ()
    return (yield from _path_command("rcpt", "to:", recip, options, "recipient"))


def data(session: ClientSession, msg: str | bytes) -> Exchange[tuple[int, bytes]]:
    """DATA: ``msg`` with CRLF line endings and dots stuffed; the final reply."""
    code, repl = yield from simple(session, "data")
    if session.debuglevel > 0:
        session.print_debug("data:", (code, repl))
    if code != 354:
        raise SMTPDataError(code, repl)
    yield Write(encode_data(sendmail_data(msg)), phase="data_block")
    code, final = (yield from read_reply(READ_FINAL)).as_tuple()
    if session.debuglevel > 0:
        session.print_debug("data:", (code, final))
    return code, final


def starttls(session: ClientSession) -> Exchange[tuple[int, bytes]]:
    """The STARTTLS command; on its 220 the driver does the handshake, then forgets."""
    code, reply = yield from simple(session, "STARTTLS")
    if code != 220:
        raise SMTPResponseException(code, reply)
    return code, reply


def require_extension(session: ClientSession, name: str, what: str) -> None:
    if not session.has_extn(name):
        raise SMTPNotSupportedError(f"{what} extension not supported by server.")


# -- authentication ----------------------------------------------------------------


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def auth(
    session: ClientSession,
    mechanism: str,
    authobject: AuthObject,
    *,
    initial_response_ok: bool = True,
) -> Exchange[tuple[int, bytes]]:
    """One SASL exchange; ``authobject(challenge=None)`` gives each response."""
    mechanism = mechanism.upper()
    initial_response = authobject() if initial_response_ok else None
    if initial_response is not None:
        encoded = sasl.encode_sasl(_as_bytes(initial_response), initial=True)
        reply = yield from command(command_line(f"AUTH {mechanism} {encoded}"), secret=True)
        session.start_challenges(initial_response=True)
    else:
        reply = yield from command(command_line("AUTH", mechanism))
        session.start_challenges(initial_response=False)
    while reply.code == 334:
        challenges = session.count_challenge()
        answer = authobject(sasl.decode_challenge(reply.message))
        encoded = sasl.encode_sasl(_as_bytes(answer or b""), initial=False)
        reply = yield from command(command_line(encoded), secret=True)
        if challenges > MAX_CHALLENGES:
            raise SMTPException(
                "Server AUTH mechanism infinite loop. Last response: " + repr(reply.as_tuple())
            )
    if reply.code in (235, 503):
        return reply.as_tuple()
    raise SMTPAuthenticationError(reply.code, reply.message)


# -- transactions ------------------------------------------------------------------


def longest_line_over_limit(payload: bytes, *, stuffed: bool) -> int | None:
    """The length of a line of ``payload`` over MAX_LINE_OCTETS, or None (the usual case).

    Cheap on the hot path: one ``find`` per window of 500 octets, in C; a line over the
    limit must fill a whole window, and only then are the lines measured.
    """
    size = len(payload)
    if size <= MAX_LINE_OCTETS:
        return None
    window = _SCAN_WINDOW
    if all(payload.find(b"\n", start, start + window) >= 0 for start in range(0, size, window)):
        return None
    for line in payload.split(b"\n"):
        length = len(line) - line.endswith(b"\r") - (stuffed and line.startswith(b"."))
        if length > MAX_LINE_OCTETS:
            return length
    return None


def check_line_lengths(session: ClientSession, txn: PreparedTransaction) -> None:
    """Refuse a message with a line the receiving server may cut or reject (unless allowed)."""
    if session.allow_long_lines:
        return
    length = longest_line_over_limit(txn.payload, stuffed=not txn.use_bdat)
    if length is not None:
        raise SMTPInvalidInputError(
            f"the message has a line of {length} octets; RFC 5322 allows {MAX_LINE_OCTETS} "
            "before each CRLF. Build it with EmailMessage.set_content() (which chooses "
            "quoted-printable or base64 for long lines), encode the body, or set "
            "allow_long_lines = True on the connection to send it as is"
        )


def _prepared(
    session: ClientSession, item: Any, features: ServerFeatures, use_bdat: bool
) -> PreparedTransaction | UnpreparedMessage:
    prepared = prepare_item(item, features, use_bdat)
    if isinstance(prepared, PreparedTransaction):
        try:
            check_line_lengths(session, prepared)
        except SMTPInvalidInputError as exc:
            return UnpreparedMessage(exc, prepared.sender, prepared.recipients, prepared.message_id)
    return prepared


def sendmail(
    session: ClientSession,
    from_addr: str,
    to_addrs: str | Sequence[str],
    msg: str | bytes,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
) -> Exchange[dict[str, tuple[int, bytes]]]:
    """One message, smtplib's return value and exceptions (after EHLO/HELO)."""
    recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
    envelope = Envelope(from_addr, recipients, sendmail_data(msg), mail_options, rcpt_options)
    features = session.server_features()
    if not features.smtputf8 and not any(o.lower() == "smtputf8" for o in mail_options):
        "".join([from_addr, *recipients]).encode("ascii")  # smtplib's UnicodeEncodeError
    txn = prepare_transaction(envelope, features, use_bdat=False)
    check_line_lengths(session, txn)
    if not recipients:
        try:
            yield from rset(session)
        except SMTPServerDisconnected:
            pass
        raise SMTPRecipientsRefused({})
    results = yield from batch(session, iter([txn]), features, window=1)
    return sendmail_outcome(results[0])


def send_many(
    session: ClientSession, messages: Iterable[Any], window: int | None = None
) -> Exchange[list[SendResult]]:
    """Every message over this connection, pipelined; one result each (after EHLO/HELO)."""
    features = session.server_features()
    use_bdat = session.chunking and session.pipelining and features.chunking and not features.lmtp
    items = (_prepared(session, item, features, use_bdat) for item in messages)
    return (yield from batch(session, items, features, window=window or DEFAULT_WINDOW))


def _next_read(engine: BatchEngine) -> Read:
    """The reply after a final dot may take a content scan: it gets the data_final limit."""
    return READ_FINAL if engine.awaiting_final else READ


def batch(
    session: ClientSession,
    items: Iterator[PreparedTransaction | UnpreparedMessage],
    features: ServerFeatures,
    *,
    window: int,
) -> Exchange[list[SendResult]]:
    """Drive a :class:`BatchEngine`; a lost connection ends the batch, not the caller."""
    engine = BatchEngine(
        items,
        pipelining=session.pipelining and features.pipelining,
        window=window,
        lmtp=features.lmtp,
    )
    results: list[SendResult] = []
    try:
        while not engine.finished:
            out = engine.data_to_send()
            if out:
                # Pipelined commands may carry message data: bounded as a data block.
                yield Write(out, phase="data_block")
                engine.take_ahead()  # serialise the next message while the server works
            elif engine.awaiting_replies:
                engine.receive_reply((yield from read_reply(_next_read(engine))))
            else:
                break
            results.extend(engine.pop_results())
            if engine.closing_reply is not None:
                break
    except (SMTPServerDisconnected, SMTPProtocolError, OSError) as exc:
        engine.connection_lost(exc)
    if engine.closing_reply is not None:
        engine.connection_lost(SMTPServerDisconnected("the server closed the connection"))
        yield CLOSE
    session.command_encoding = "ascii"
    results.extend(engine.pop_results())
    return results
