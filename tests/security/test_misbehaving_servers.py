"""A misbehaving server, scripted on real sockets, through every core entry point.

DATA answered with something other than 354: the content is never sent and the message
is never reported sent (smtplib raises SMTPDataError). A malformed EHLO parameter is
ignored and AUTH mechanisms match whatever their case. An empty recipient never
becomes ``RCPT TO:<>``.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from smtp_backend import AsyncMailer, Envelope, Mailer, MessageState
from smtp_backend.aio import AsyncSMTP
from smtp_backend.client import SMTP
from smtp_backend.errors import (
    SMTPDataError,
    SMTPInvalidInputError,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from smtp_backend.timeouts import Timeouts
from tests.faults.scenarios import DATA, GREETING, MAIL, RCPT, data_answered
from tests.servers.scripted import (
    Expect,
    ReadData,
    ScriptedServer,
    Send,
    Serve,
    Trickle,
    ehlo_reply,
)

pytestmark = pytest.mark.timeout(30)

FAST = Timeouts.every(2.0, total=10.0)
MESSAGE = b"Subject: hello\r\n\r\nthe content\r\n"
ENVELOPE = Envelope("alice@example.test", ["bob@example.test"], MESSAGE)


def assert_no_content_sent(server: ScriptedServer) -> None:
    server.join()
    sent = bytes(server.received[0])
    after_data = sent.upper().partition(b"DATA\r\n")[2]
    assert after_data in (b"", b"RSET\r\n"), sent  # a refusal leaves the session usable
    assert b"the content" not in sent
    assert server.messages == []


# -- DATA answered other than 354 -----------------------------------------------------


@pytest.mark.parametrize("pipelining", [False, True], ids=["lock-step", "pipelined"])
@pytest.mark.parametrize("reply", [b"250 2.0.0 ok\r\n", b"220 ready\r\n", b"554 5.5.1 no\r\n"])
def test_sendmail_raises_data_error_and_sends_no_content(
    scripted_server: ScriptedServer, reply: bytes, pipelining: bool
) -> None:
    scripted_server.play(*data_answered(reply, *(["PIPELINING"] if pipelining else [])))
    client = SMTP(scripted_server.host, scripted_server.port, timeouts=FAST)
    with pytest.raises(SMTPDataError) as raised:
        client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)
    assert raised.value.smtp_code == int(reply[:3])
    client.close()
    assert_no_content_sent(scripted_server)


@pytest.mark.parametrize("pipelining", [False, True], ids=["lock-step", "pipelined"])
def test_async_sendmail_raises_data_error_and_sends_no_content(
    scripted_server: ScriptedServer, pipelining: bool
) -> None:
    scripted_server.play(
        *data_answered(b"250 2.0.0 ok\r\n", *(["PIPELINING"] if pipelining else []))
    )

    async def send() -> None:
        client = AsyncSMTP(
            scripted_server.host, scripted_server.port, timeouts=FAST, start_tls=False
        )
        await client.connect()
        try:
            await client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)
        finally:
            client.close()

    with pytest.raises(SMTPDataError) as raised:
        asyncio.run(send())
    assert raised.value.smtp_code == 250
    assert_no_content_sent(scripted_server)


def test_mailers_report_the_message_refused_never_sent(scripted_server: ScriptedServer) -> None:
    for _ in range(2):
        scripted_server.play(*data_answered(b"250 2.0.0 ok\r\n", "PIPELINING"))
    settings = {"security": "none", "timeouts": FAST}
    with Mailer(scripted_server.host, scripted_server.port, **settings) as mailer:
        (blocking,) = mailer.send([ENVELOPE])

    async def send() -> MessageState:
        async with AsyncMailer(scripted_server.host, scripted_server.port, **settings) as mailer:
            (result,) = await mailer.send([ENVELOPE])
        assert isinstance(result.error, SMTPDataError) and not result.ok
        return result.state

    assert blocking.state is MessageState.REFUSED and not blocking.ok
    assert isinstance(blocking.error, SMTPDataError)
    assert asyncio.run(send()) is MessageState.REFUSED
    scripted_server.join()
    assert scripted_server.messages == []
    assert all(b"the content" not in bytes(sent) for sent in scripted_server.received)


# -- a malformed EHLO parameter; AUTH mechanisms in any case ---------------------------

ODD_EHLO = b"250-fake.test\r\n250-SIZE \xb2\r\n250-AUTH login Plain\r\n250 8BITMIME\r\n"
PLAIN = base64.b64encode(b"\x00user\x00secret").decode()


def odd_ehlo_session() -> tuple[Send | Expect | Serve, ...]:
    return (
        GREETING,
        Expect(rb"(?i)EHLO \S+", ODD_EHLO),
        Expect(f"AUTH PLAIN {PLAIN}".encode(), b"235 2.7.0 ok\r\n"),
        Serve(ehlo=ODD_EHLO),
    )


def test_clients_send_despite_a_malformed_ehlo_and_log_in_in_any_case(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(*odd_ehlo_session())
    scripted_server.play(*odd_ehlo_session())
    with SMTP(scripted_server.host, scripted_server.port, timeouts=FAST) as client:
        assert client.login("user", "secret")[0] == 235
        assert client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE) == {}

    async def send() -> dict[str, tuple[int, bytes]]:
        async with AsyncSMTP(
            scripted_server.host,
            scripted_server.port,
            timeouts=FAST,
            start_tls=False,
            username="user",
            password="secret",
        ) as client:
            return await client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)

    assert asyncio.run(send()) == {}
    scripted_server.join()
    assert scripted_server.errors == []
    assert len(scripted_server.messages) == 2


def test_mailers_send_despite_a_malformed_ehlo_and_log_in_in_any_case(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.play(*odd_ehlo_session())
    scripted_server.play(*odd_ehlo_session())
    settings = {"security": "none", "timeouts": FAST, "username": "user", "password": "secret"}
    with Mailer(scripted_server.host, scripted_server.port, **settings) as mailer:
        (blocking,) = mailer.send([ENVELOPE])

    async def send() -> MessageState:
        async with AsyncMailer(scripted_server.host, scripted_server.port, **settings) as mailer:
            (result,) = await mailer.send([ENVELOPE])
        return result.state

    assert blocking.state is MessageState.SENT
    assert asyncio.run(send()) is MessageState.SENT
    scripted_server.join()
    assert scripted_server.errors == []
    assert len(scripted_server.messages) == 2


# -- an empty recipient ------------------------------------------------------------------


@pytest.mark.parametrize("recipient", ["", "<>", "Bob <>"])
def test_an_empty_recipient_never_becomes_the_null_path(
    scripted_server: ScriptedServer, recipient: str
) -> None:
    well_behaved = (GREETING, Serve(ehlo=ehlo_reply("PIPELINING", "8BITMIME")))
    for _ in range(4):
        scripted_server.play(*well_behaved)
    bad = Envelope("alice@example.test", ["bob@example.test", recipient], MESSAGE)
    with SMTP(scripted_server.host, scripted_server.port, timeouts=FAST) as client:
        (direct,) = client.send_many([bad])
        with pytest.raises(SMTPInvalidInputError, match="null path"):
            client.sendmail("alice@example.test", [recipient], MESSAGE)
    with Mailer(scripted_server.host, scripted_server.port, security="none") as mailer:
        (pooled,) = mailer.send([bad])

    async def send() -> list[MessageState]:
        async with AsyncSMTP(
            scripted_server.host, scripted_server.port, timeouts=FAST, start_tls=False
        ) as client:
            (result,) = await client.send_many([bad])
            with pytest.raises(SMTPInvalidInputError, match="null path"):
                await client.rcpt(recipient)
        async with AsyncMailer(scripted_server.host, scripted_server.port, security="none") as m:
            (pooled,) = await m.send([bad])
        return [result.state, pooled.state]

    states = [direct.state, pooled.state, *asyncio.run(send())]
    assert states == [MessageState.NOT_ATTEMPTED] * 4
    assert isinstance(direct.error, SMTPInvalidInputError)
    scripted_server.join()
    assert scripted_server.messages == []
    assert all(b"RCPT TO:<>" not in bytes(sent).upper() for sent in scripted_server.received)


# -- a reply trickling in a byte at a time: each phase's limit bounds the whole reply ----------

TRICKLE = Trickle(b"250-still going\r\n", interval=0.05)
ONE_SECOND_COMMANDS = Timeouts(command=1, data_final=1, greeting=1, total=None)


def trickling(phase: str) -> tuple[Send | Expect | Trickle | ReadData, ...]:
    """A session whose reply in ``phase`` never completes, though bytes keep coming."""
    steps: list[Send | Expect | Trickle | ReadData] = []
    if phase == "greeting":
        return (TRICKLE,)
    steps += [GREETING, Expect(rb"(?i)EHLO \S+", ehlo_reply("8BITMIME"))]
    if phase == "command":
        return (*steps, Expect(rb"(?i)MAIL FROM:.*"), TRICKLE)
    steps += [MAIL, RCPT, DATA, ReadData(b"")]
    return (*steps, TRICKLE)


@pytest.mark.parametrize("phase", ["greeting", "command", "data final"])
def test_a_trickled_reply_times_out_naming_its_phase(
    scripted_server: ScriptedServer, phase: str
) -> None:
    scripted_server.play(*trickling(phase.replace(" ", "_")))
    client = SMTP(timeouts=ONE_SECOND_COMMANDS)
    # sendmail reports a message whose fate is unknown as smtplib does: disconnected.
    error = SMTPServerDisconnected if phase == "data final" else SMTPTimeoutError
    with pytest.raises(error, match=f"waiting for the {phase} reply"):
        client.connect(scripted_server.host, scripted_server.port)
        client.ehlo()
        if phase == "command":
            client.mail("alice@example.test")
        client.sendmail("alice@example.test", ["bob@example.test"], MESSAGE)
    assert client.sock is None  # the connection is closed, never reused


def test_smtplib_style_timeout_bounds_a_trickled_reply(scripted_server: ScriptedServer) -> None:
    scripted_server.play(*trickling("command"))
    with SMTP(scripted_server.host, scripted_server.port, timeout=1) as client:
        client.ehlo()
        with pytest.raises(SMTPTimeoutError, match="command reply"):
            client.mail("alice@example.test")


def test_mailers_time_out_a_trickled_reply(scripted_server: ScriptedServer) -> None:
    for _ in range(10):  # each mailer tries again on fresh connections
        scripted_server.play(*trickling("command"))
    settings = {"security": "none", "timeouts": Timeouts.every(0.3, total=None)}
    with Mailer(scripted_server.host, scripted_server.port, **settings) as mailer:
        (blocking,) = mailer.send([ENVELOPE])

    async def send() -> BaseException | None:
        async with AsyncMailer(scripted_server.host, scripted_server.port, **settings) as mailer:
            (result,) = await mailer.send([ENVELOPE])
        assert result.state is MessageState.NOT_ATTEMPTED
        return result.error

    assert blocking.state is MessageState.NOT_ATTEMPTED
    assert isinstance(blocking.error, SMTPTimeoutError)
    assert isinstance(asyncio.run(send()), SMTPTimeoutError)
