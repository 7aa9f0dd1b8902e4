"""Server faults at every point of a session, as ScriptedServer scripts, with what a client promises.

Each ``Fault`` is the script of one faulty connection and, for a batch of two messages
sent with ``send_many`` over it, either the exception the client raises (the fault comes
before any transaction) or the state each message ends in. The server never advertises
PIPELINING unless the scenario is about it, so the script is the whole conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtp_backend import MessageState
from smtp_backend.errors import (
    SMTPConnectError,
    SMTPException,
    SMTPProtocolError,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from tests.servers.scripted import (
    GREETING,
    Close,
    Expect,
    Flood,
    ReadBytes,
    ReadData,
    Reset,
    Send,
    Serve,
    Stall,
    Step,
    ehlo_reply,
)

SENT, REFUSED = MessageState.SENT, MessageState.REFUSED
UNKNOWN, NOT_ATTEMPTED = MessageState.UNKNOWN, MessageState.NOT_ATTEMPTED

EHLO = Expect(rb"(?i)EHLO \S+", ehlo_reply("8BITMIME"))
MAIL = Expect(rb"(?i)MAIL FROM:<alice@example\.test>", b"250 ok\r\n")
RCPT = Expect(rb"(?i)RCPT TO:<bob@example\.test>", b"250 ok\r\n")
DATA = Expect(rb"(?i)DATA", b"354 go ahead\r\n")


def replying(expect: Expect, reply: bytes) -> Expect:
    return Expect(expect.pattern, reply)


def data_answered(reply: bytes, *keywords: str) -> tuple[Step, ...]:
    """A session whose DATA is answered with ``reply`` instead of 354."""
    ehlo = Expect(EHLO.pattern, ehlo_reply("8BITMIME", *keywords))
    return (GREETING, ehlo, MAIL, RCPT, replying(DATA, reply))


@dataclass(frozen=True)
class Fault:
    """One faulty session; ``raises`` when it ends before any transaction, else ``states``."""

    name: str
    script: tuple[Step, ...]
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None
    states: tuple[MessageState, MessageState] | None = None  # of the two messages
    error: type[BaseException] = SMTPException  # each unsent message's error
    closes: bool = True  # the client closes the connection (its state is unknown)


FAULTS = [
    # -- the connection drops ---------------------------------------------------------
    Fault("drop after greeting", (GREETING, Close()), raises=SMTPServerDisconnected),
    # A reset that lands while connect() is still checking the socket is that OSError, as smtplib.
    Fault(
        "reset after greeting",
        (GREETING, Reset()),
        raises=(SMTPServerDisconnected, ConnectionResetError),
    ),
    Fault(
        "drop after EHLO",
        (GREETING, EHLO, Close()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    Fault(
        "drop after MAIL",
        (GREETING, EHLO, MAIL, Close()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    Fault(
        "drop after RCPT",
        (GREETING, EHLO, MAIL, RCPT, Reset()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    Fault(
        "drop in the middle of the data",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadBytes(10), Reset()),
        states=(UNKNOWN, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    Fault(
        "drop after the final dot, before the reply",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadData(b""), Close()),
        states=(UNKNOWN, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    Fault(
        "drop after the first message is accepted",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadData(), Close()),
        states=(SENT, NOT_ATTEMPTED),
        error=SMTPServerDisconnected,
    ),
    # -- the server stalls (never replies) -----------------------------------------------
    Fault("stall before the greeting", (Stall(),), raises=SMTPTimeoutError),
    Fault(
        "stall after EHLO", (GREETING, Expect(rb"(?i)EHLO \S+"), Stall()), raises=SMTPTimeoutError
    ),
    Fault(
        "stall after RCPT",
        (GREETING, EHLO, MAIL, Expect(RCPT.pattern), Stall()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPTimeoutError,
    ),
    Fault(
        "stall after the final dot",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadData(b""), Stall()),
        states=(UNKNOWN, NOT_ATTEMPTED),
        error=SMTPTimeoutError,
    ),
    # -- the server replies with garbage or too much ---------------------------------------
    Fault("garbage greeting", (Send(b"hello, friend\r\n"), Close()), raises=SMTPConnectError),
    Fault(
        "garbage reply to MAIL",
        (GREETING, EHLO, replying(MAIL, b"hello, friend\r\n"), Stall()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPProtocolError,
    ),
    Fault(
        "reply line longer than the cap",
        (GREETING, EHLO, replying(MAIL, b"250 " + b"x" * 10_000 + b"\r\n"), Stall()),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPProtocolError,
    ),
    Fault(
        "endless multi-line reply",
        (GREETING, EHLO, Expect(MAIL.pattern), Flood(b"250-and more\r\n")),
        states=(NOT_ATTEMPTED, NOT_ATTEMPTED),
        error=SMTPProtocolError,
    ),
    Fault(
        "reply after the dot is garbage",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadData(b"\x00\xff\r\n"), Stall()),
        states=(UNKNOWN, NOT_ATTEMPTED),
        error=SMTPProtocolError,
    ),
    # -- 421: the server closes the session --------------------------------------------------
    Fault("421 greeting", (Send(b"421 4.3.2 busy\r\n"), Close()), raises=SMTPConnectError),
    Fault(
        "421 to MAIL",
        (GREETING, EHLO, replying(MAIL, b"421 4.3.2 shutting down\r\n"), Close()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    Fault(
        "421 to RCPT",
        (GREETING, EHLO, MAIL, replying(RCPT, b"421 4.3.2 shutting down\r\n"), Close()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    Fault(
        "421 to DATA",
        (GREETING, EHLO, MAIL, RCPT, replying(DATA, b"421 4.3.2 shutting down\r\n"), Close()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    Fault(
        "421 after the final dot",
        (GREETING, EHLO, MAIL, RCPT, DATA, ReadData(b"421 4.3.2 shutting down\r\n"), Close()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    # -- DATA answered with something other than 354: the content never went -------------
    Fault(
        "250 to DATA",
        (*data_answered(b"250 2.0.0 ok\r\n"), Stall()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    Fault(
        "250 to pipelined DATA",
        (*data_answered(b"250 2.0.0 ok\r\n", "PIPELINING"), Stall()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    Fault(
        "220 to DATA",
        (*data_answered(b"220 fake.test ready\r\n"), Stall()),
        states=(REFUSED, NOT_ATTEMPTED),
    ),
    # -- PIPELINING advertised, then pipelined commands refused --------------------------
    Fault(
        "pipelined commands rejected",
        (
            GREETING,
            Expect(EHLO.pattern, ehlo_reply("PIPELINING")),
            *[replying(step, b"503 5.5.1 no pipelining here\r\n") for step in (MAIL, RCPT, DATA)]
            * 2,
            Serve(),
        ),
        states=(REFUSED, REFUSED),
        closes=False,
    ),
]
