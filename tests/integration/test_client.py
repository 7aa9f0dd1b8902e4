"""The smtplib-compatible client against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP as LMTPServer
from aiosmtpd.smtp import Envelope as ServerEnvelope
from aiosmtpd.smtp import Session

import smtp_backend
from smtp_backend import (
    SMTP,
    SMTPDataError,
    SMTPMessageTooLarge,
    SMTPNotSupportedError,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
)
from tests.conftest import SMTPServerFactory
from tests.servers import RecordingSMTPServer

SENDER = "alice@example.test"
BODY = b"Subject: hello\r\n\r\nline one\r\n.dot first\r\n"


def connect(server: RecordingSMTPServer) -> SMTP:
    return SMTP(server.host, server.port, local_hostname="client.test", timeout=10)


def make_message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = "bob@example.test"
    message["Subject"] = "hello"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("body text\n")
    return message


# -- session commands -------------------------------------------------------------


def test_session_commands_against_a_real_server(smtp_server: RecordingSMTPServer) -> None:
    client = SMTP(f"{smtp_server.host}:{smtp_server.port}", local_hostname="client.test")
    try:
        assert client.helo()[0] == 250
        assert client.helo_resp is not None
        code, text = client.ehlo()
        assert code == 250
        assert client.ehlo_resp == text
        assert b"PIPELINING" in text
        assert client.does_esmtp
        assert "pipelining" in client.esmtp_features
        assert client.has_extn("SMTPUTF8") and client.has_extn("8bitmime")
        assert not client.has_extn("chunking")
        assert client.noop() == (250, b"OK")
        assert client.rset()[0] == 250
        assert client.verify("bob@example.test")[0] == 252
        assert client.vrfy("Bob <bob@example.test>")[0] == 252
        assert client.expn("staff")[0] == 502
        assert b"Supported commands" in client.help()
        assert client.docmd("NOOP") == (250, b"OK")
        assert client.mail(SENDER) == (250, b"2.1.0 OK")
        assert client.rcpt("bob@example.test") == (250, b"2.1.5 OK")
        assert client.data(BODY)[0] == 250
        assert client.quit()[0] == 221
        assert client.sock is None
        assert client.ehlo_resp is None and client.esmtp_features == {}
    finally:
        client.close()
    [message] = smtp_server.messages
    assert message.content == BODY
    assert [c.argument for c in smtp_server.commands if c.verb == "HELO"] == ["client.test"]
    verbs = smtp_server.verbs()
    assert verbs[-4:] == ["MAIL", "RCPT", "DATA", "QUIT"]
    assert "VRFY" in verbs and "EXPN" in verbs and "HELP" in verbs


def test_connect_later_and_close_without_quit(smtp_server: RecordingSMTPServer) -> None:
    client = SMTP(local_hostname="client.test")
    assert client.sock is None
    code, greeting = client.connect(smtp_server.host, smtp_server.port)
    assert code == 220 and b"ESMTP" in greeting
    client.close()
    assert client.sock is None
    with pytest.raises(smtp_backend.SMTPServerDisconnected):
        client.noop()


def test_context_manager_quits_and_closes(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    assert client.sock is None
    assert smtp_server.verbs()[-1] == "QUIT"
    assert len(smtp_server.messages) == 1


def test_sendmail_pipelines_and_sends_exact_content(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        refused = client.sendmail(SENDER, ["bob@example.test", "carol@example.test"], BODY)
    assert refused == {}
    [message] = smtp_server.messages
    assert message.mail_from == SENDER
    assert message.rcpt_tos == ("bob@example.test", "carol@example.test")
    assert message.content == BODY
    assert smtp_server.verbs() == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]


# -- sendmail outcomes --------------------------------------------------------------


def test_sendmail_returns_refused_recipients(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        refused = client.sendmail(
            SENDER, ["bob@example.test", "x@refused.test", "y@tempfail.test"], BODY
        )
    assert set(refused) == {"x@refused.test", "y@tempfail.test"}
    assert refused["x@refused.test"][0] == 550
    assert refused["x@refused.test"][1].startswith(b"5.1.1")
    assert refused["y@tempfail.test"][0] == 451
    [message] = smtp_server.messages
    assert message.rcpt_tos == ("bob@example.test",)


def test_every_recipient_refused_raises_and_connection_stays_usable(
    smtp_server: RecordingSMTPServer,
) -> None:
    with connect(smtp_server) as client:
        with pytest.raises(SMTPRecipientsRefused) as info:
            client.sendmail(SENDER, ["x@refused.test", "y@tempfail.test"], BODY)
        assert {r: c for r, (c, _) in info.value.recipients.items()} == {
            "x@refused.test": 550,
            "y@tempfail.test": 451,
        }
        assert client.sendmail(SENDER, "bob@example.test", BODY) == {}
    assert [m.rcpt_tos for m in smtp_server.messages] == [("bob@example.test",)]


def test_refused_sender_raises_with_code_and_sender(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        with pytest.raises(SMTPSenderRefused) as info:
            client.sendmail("reject@sender.test", ["bob@example.test"], BODY)
        assert info.value.smtp_code == 553
        assert info.value.sender == "reject@sender.test"
        assert client.sendmail(SENDER, ["bob@example.test"], BODY) == {}
    assert len(smtp_server.messages) == 1


def test_refused_data_raises_data_error(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        with pytest.raises(SMTPDataError) as info:
            client.sendmail(SENDER, ["bob@example.test"], b"X-Fail-Data: 554\r\n\r\nbody\r\n")
        assert info.value.smtp_code == 554
        assert client.sendmail(SENDER, ["bob@example.test"], BODY) == {}
    assert [m.content for m in smtp_server.messages] == [BODY]


@pytest.mark.parametrize("pipelining", [True, False])
def test_lock_step_and_pipelined_sendmail_agree(
    smtp_server: RecordingSMTPServer, pipelining: bool
) -> None:
    with connect(smtp_server) as client:
        client.pipelining = pipelining
        refused = client.sendmail(SENDER, ["bob@example.test", "x@refused.test"], BODY)
    assert list(refused) == ["x@refused.test"]
    assert smtp_server.messages[0].rcpt_tos == ("bob@example.test",)


# -- send_message envelopes -------------------------------------------------------------


def test_send_message_never_transmits_bcc(smtp_server: RecordingSMTPServer) -> None:
    message = make_message(Cc="carol@example.test", Bcc="secret@example.test")
    with connect(smtp_server) as client:
        assert client.send_message(message) == {}
    [received] = smtp_server.messages
    # smtplib's order: To, Bcc, Cc
    assert received.rcpt_tos == ("bob@example.test", "secret@example.test", "carol@example.test")
    assert b"secret@example.test" not in received.content
    assert not re.search(rb"(?im)^bcc:", received.content)
    assert message["Bcc"] == "secret@example.test"  # the caller's message is left alone


def test_send_message_uses_the_last_resent_block(smtp_server: RecordingSMTPServer) -> None:
    message = make_message(Resent_Date="Mon, 1 Jan 2024 00:00:00 +0000")
    message["Resent-From"] = "desk@example.test"
    message["Resent-To"] = "dave@example.test"
    message["Resent-Bcc"] = "hidden@example.test"
    with connect(smtp_server) as client:
        client.send_message(message)
    [received] = smtp_server.messages
    assert received.mail_from == "desk@example.test"
    assert received.rcpt_tos == ("dave@example.test", "hidden@example.test")
    assert b"hidden@example.test" not in received.content


def test_send_message_explicit_envelope_wins(smtp_server: RecordingSMTPServer) -> None:
    with connect(smtp_server) as client:
        client.send_message(make_message(), "bounce@example.test", ["eve@example.test"])
    [received] = smtp_server.messages
    assert (received.mail_from, received.rcpt_tos) == ("bounce@example.test", ("eve@example.test",))


# -- SMTPUTF8 and SIZE ----------------------------------------------------------------------


def test_non_ascii_address_uses_smtputf8(smtp_server: RecordingSMTPServer) -> None:
    message = make_message()
    message.replace_header("To", "jöran@exämple.test")
    with connect(smtp_server) as client:
        client.send_message(message)
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("jöran@exämple.test",)
    assert "SMTPUTF8" in received.mail_options
    assert received.smtp_utf8


def test_non_ascii_address_refused_early_without_smtputf8(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory(smtputf8=False)
    message = make_message()
    message.replace_header("To", "jöran@exämple.test")
    with connect(server) as client:
        client.ehlo()
        assert not client.has_extn("smtputf8")
        with pytest.raises(SMTPNotSupportedError):
            client.send_message(message)
        with pytest.raises((SMTPNotSupportedError, UnicodeEncodeError)):
            client.sendmail("jöran@exämple.test", ["bob@example.test"], BODY)
    assert "MAIL" not in server.verbs()
    assert server.messages == []


def test_message_over_size_is_refused_before_any_byte(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory(size_limit=1000)
    with connect(server) as client:
        with pytest.raises(SMTPMessageTooLarge) as info:
            client.sendmail(SENDER, ["bob@example.test"], b"Subject: big\r\n\r\n" + b"x" * 2000)
        assert info.value.limit == 1000
        client.sendmail(SENDER, ["bob@example.test"], BODY)
    assert server.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    [mail] = [c for c in server.commands if c.verb == "MAIL"]
    assert mail.argument is not None and f"SIZE={len(BODY)}" in mail.argument.upper()


# -- debug output --------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2])
def test_debuglevel_prints_the_conversation_to_stderr(
    smtp_server: RecordingSMTPServer, level: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(smtp_server) as client:
        client.set_debuglevel(level)
        client.noop()
    err = capsys.readouterr().err
    assert "send:" in err and "noop" in err.lower()
    assert "reply:" in err and "250" in err
    stamped = re.search(r"^\d\d:\d\d:\d\d\.\d{6} send:", err, re.MULTILINE)
    assert (stamped is not None) == (level == 2)


def _logged_transcript(server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.DEBUG, logger="smtp_backend"), connect(server) as client:
        client.noop()
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "smtp_backend")


def test_debug_logging_records_commands_without_stderr(
    smtp_server: RecordingSMTPServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _logged_transcript(smtp_server, caplog)
    assert "send: 'noop\\r\\n'" in text
    assert capsys.readouterr().err == ""


def test_debug_logging_records_replies_without_debuglevel(
    smtp_server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert "reply: b'250 OK" in _logged_transcript(smtp_server, caplog)


# -- line-ending smuggling -------------------------------------------------------------------

SMUGGLING = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r"]


@pytest.mark.parametrize("sequence", SMUGGLING, ids=repr)
def test_smuggling_sequence_cannot_end_the_message_early(
    smtp_server: RecordingSMTPServer, sequence: bytes
) -> None:
    smuggled = b"mail from:<evil@evil.test>\r\nrcpt to:<victim@example.test>\r\ndata\r\nX: y\r\n"
    data = b"Subject: s\r\n\r\nbefore" + sequence + smuggled + b"after\r\n"
    with connect(smtp_server) as client:
        client.sendmail(SENDER, ["bob@example.test"], data)
    [received] = smtp_server.messages
    assert received.mail_from == SENDER
    assert received.content == b"Subject: s\r\n\r\nbefore\r\n.\r\n" + smuggled + b"after\r\n"
    assert smtp_server.verbs().count("MAIL") == 1


@pytest.mark.parametrize("data", [b"a\nb\rc\r\nd", b"a\r\rb\n\nc"])
def test_bare_line_endings_arrive_as_crlf(smtp_server: RecordingSMTPServer, data: bytes) -> None:
    with connect(smtp_server) as client:
        client.sendmail(SENDER, ["bob@example.test"], data)
    content = smtp_server.messages[0].content
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", content) is None
    assert content.replace(b"\r\n", b"|") == re.sub(rb"\r\n|\r|\n", b"|", data) + b"|"


# -- LMTP ------------------------------------------------------------------------------------


class LMTPHandler:
    """Delivers per recipient: ``...@full.test`` mailboxes are over quota after the data."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: ServerEnvelope) -> str:
        replies = []
        for recipient in envelope.rcpt_tos:
            if recipient.endswith("@full.test"):
                replies.append(f"452 4.2.2 <{recipient}> mailbox full")
            else:
                self.delivered.append((recipient, envelope.original_content or b""))
                replies.append(f"250 2.0.0 <{recipient}> delivered")
        return "\r\n".join(replies)


class LMTPController(Controller):
    def factory(self) -> LMTPServer:
        return LMTPServer(self.handler, **self.SMTP_kwargs)


class UnixLMTPController(UnixSocketController):
    def factory(self) -> LMTPServer:
        return LMTPServer(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["tcp", "unix"])
def lmtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int, LMTPHandler]]:
    handler = LMTPHandler()
    controller: Controller | UnixSocketController
    if request.param == "tcp":
        port = _free_port()
        controller = LMTPController(handler, hostname="127.0.0.1", port=port)
        address = ("127.0.0.1", port)
    else:
        directory = tempfile.mkdtemp(prefix="lmtp")
        path = str(Path(directory) / "lmtp.sock")
        controller = UnixLMTPController(handler, unix_socket=path, loop=asyncio.new_event_loop())
        address = (path, 0)
    controller.start()
    try:
        yield address[0], address[1], handler
    finally:
        controller.stop()


def test_lmtp_reports_each_recipient_refused_after_the_data(
    lmtp_server: tuple[str, int, LMTPHandler],
) -> None:
    host, port, handler = lmtp_server
    with smtp_backend.LMTP(host, port, local_hostname="client.test") as client:
        refused = client.sendmail(
            SENDER, ["bob@example.test", "x@full.test", "c@example.test"], BODY
        )
        assert list(refused) == ["x@full.test"]
        assert refused["x@full.test"][0] == 452
        # the connection is in step: the next transaction gets its own replies
        assert client.sendmail(SENDER, ["dave@example.test"], BODY) == {}
    assert [r for r, _ in handler.delivered] == [
        "bob@example.test",
        "c@example.test",
        "dave@example.test",
    ]
    assert all(content == BODY for _, content in handler.delivered)


def test_lmtp_last_recipient_refused_after_the_data(
    lmtp_server: tuple[str, int, LMTPHandler],
) -> None:
    host, port, handler = lmtp_server
    with smtp_backend.LMTP(host, port, local_hostname="client.test") as client:
        refused = client.sendmail(SENDER, ["bob@example.test", "x@full.test"], BODY)
    assert list(refused) == ["x@full.test"]
    assert [r for r, _ in handler.delivered] == ["bob@example.test"]


def test_lmtp_data_reads_every_per_recipient_reply(
    lmtp_server: tuple[str, int, LMTPHandler],
) -> None:
    host, port, _handler = lmtp_server
    with smtp_backend.LMTP(host, port, local_hostname="client.test") as client:
        assert client.ehlo()[0] == 250  # LHLO on the wire
        client.mail(SENDER)
        client.rcpt("bob@example.test")
        client.rcpt("x@full.test")
        code, _ = client.data(BODY)
        assert code == 452
        assert [c for c, _ in client.data_replies] == [250, 452]
        assert client.noop()[0] == 250


def test_lmtp_all_recipients_refused_after_data_raises(
    lmtp_server: tuple[str, int, LMTPHandler],
) -> None:
    host, port, handler = lmtp_server
    with smtp_backend.LMTP(host, port, local_hostname="client.test") as client:
        with pytest.raises(SMTPDataError) as info:
            client.sendmail(SENDER, ["x@full.test", "y@full.test"], BODY)
        assert info.value.smtp_code == 452
    assert handler.delivered == []
