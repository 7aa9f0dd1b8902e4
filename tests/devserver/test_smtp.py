"""The dev server's SMTP side, driven by smtp_backend's own client over real sockets."""

from __future__ import annotations

import re
import socket
import ssl
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from smtp_backend import SMTP, Envelope, MessageState, SMTPAuthenticationError
from smtp_backend.devserver import DevServer, StoredMessage
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import PDF_BYTES, rich_message, simple_message


def test_a_sent_message_is_kept_exactly_with_its_envelope(devserver: DevServer) -> None:
    before = datetime.now(timezone.utc)
    with SMTP(devserver.host, devserver.port) as client:
        client.sendmail("alice@example.test", ["bob@example.test", "carol@example.test"], b"x")
        client.send_message(simple_message("Greetings"))

    first, second = devserver.messages
    assert first.sender == "alice@example.test"
    assert first.recipients == ("bob@example.test", "carol@example.test")
    assert first.data == b"x\r\n"  # the client ends the data with CRLF, as smtplib does
    assert first.size == 3
    assert before <= first.received_at <= second.received_at <= datetime.now(timezone.utc)
    assert first.peer.startswith("127.0.0.1:")
    assert first.tls is False
    assert first.id != second.id
    assert second.subject == "Greetings"
    assert second.from_ == "Alice <alice@example.test>"
    assert second.to == "bob@example.test"
    assert second.text == "Plain body line one.\nLine two.\n"
    assert second.html is None
    assert second.attachments == []


def test_parsed_helpers_of_a_multipart_message(devserver: DevServer) -> None:
    with SMTP(devserver.host, devserver.port) as client:
        client.send_message(rich_message("Report"))

    (message,) = devserver.messages
    assert message.subject == "Report"
    assert message.text == "Plain body line one.\nLine two.\n"
    assert message.html is not None and "Hello from the HTML part" in message.html
    assert message.attachments == [("résumé.pdf", "application/pdf", PDF_BYTES)]
    assert ("Subject", "Report") in message.headers
    assert [name for name, _ in message.headers][:3] == ["From", "To", "Subject"]


def test_bdat_via_send_many(devserver: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    messages = [simple_message(f"Chunked {n}") for n in range(5)]
    with SMTP(devserver.host, devserver.port) as client:
        client.set_debuglevel(1)
        results = client.send_many(messages)

    assert [result.state for result in results] == [MessageState.SENT] * 5
    assert "BDAT" in capsys.readouterr().err  # the client chose BDAT: the server offers CHUNKING
    assert [m.subject for m in devserver.messages] == [f"Chunked {n}" for n in range(5)]
    assert [m.data for m in devserver.messages] == [
        bytes(m).replace(b"\n", b"\r\n") for m in messages
    ]


def test_bdat_chunks_are_joined_and_refused_chunks_fail_the_transaction(
    devserver: DevServer,
) -> None:
    replies = raw_conversation(
        devserver,
        [
            b"EHLO raw.test\r\n",
            b"BDAT 3\r\nabc",  # before MAIL: consumed, refused
            b"MAIL FROM:<a@example.test>\r\n",
            b"RCPT TO:<b@example.test>\r\n",
            b"BDAT 9\r\nSubject: ",
            b"BDAT 6 LAST\r\nhi\r\n\r\n",
            b"QUIT\r\n",
        ],
    )
    assert [reply[:3] for reply in replies] == [
        b"250",
        b"503",
        b"250",
        b"250",
        b"250",
        b"250",
        b"221",
    ]
    (message,) = devserver.messages
    assert message.data == b"Subject: hi\r\n\r\n"
    assert message.subject == "hi"


def test_chunking_false_does_not_offer_bdat(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(chunking=False)
    with SMTP(server.host, server.port) as client:
        client.ehlo()
        assert not client.has_extn("chunking")
        assert client.has_extn("pipelining")
        assert client.docmd("BDAT", "0 LAST")[0] == 500
        client.send_many([simple_message()])
    assert len(server.messages) == 1


def test_smtputf8_and_null_sender(devserver: DevServer) -> None:
    with SMTP(devserver.host, devserver.port) as client:
        client.ehlo()
        assert client.has_extn("smtputf8") and client.has_extn("8bitmime")
        client.send_message(simple_message("Grüße", to="jürgen@bücher.example"))
        client.sendmail("", ["bob@example.test"], b"Subject: bounce\r\n\r\nreturned\r\n")

    international, bounce = devserver.messages
    assert international.recipients == ("jürgen@bücher.example",)
    assert international.subject == "Grüße"
    assert bounce.sender == ""


def test_size_limit_is_offered_and_enforced(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(size_limit=1000)
    big = Envelope("a@example.test", ["b@example.test"], b"Subject: big\r\n\r\n" + b"x" * 2000)
    with SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "1000"
        (result,) = client.send_many([big])
    assert result.state is not MessageState.SENT
    assert server.messages == []


def test_starttls_verifies_with_the_servers_ca_file(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(tls=True)
    assert server.ca_file is not None and server.ca_file.name == "ca.pem"
    verifying = ssl.create_default_context(cafile=str(server.ca_file))
    with SMTP("localhost", server.port) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=verifying)  # host name and chain checked
        client.send_message(simple_message("Secret"))
    (message,) = server.messages
    assert message.tls is True
    assert message.subject == "Secret"


def test_the_ca_is_kept_in_tls_dir_across_restarts(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    first = devserver_factory(tls=True, tls_dir=tmp_path / "ca")
    assert first.ca_file == tmp_path / "ca" / "ca.pem"
    trusted = first.ca_file.read_bytes()
    first.stop()
    second = devserver_factory(tls=True, tls_dir=tmp_path / "ca")
    assert second.ca_file is not None and second.ca_file.read_bytes() == trusted
    # a client configured once with the file keeps verifying the restarted server
    with SMTP("127.0.0.1", second.port) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(second.ca_file)))
        client.send_message(simple_message())
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o077 == 0


def test_a_client_without_the_ca_refuses_the_certificate(
    devserver_factory: DevServerFactory,
) -> None:
    server = devserver_factory(tls=True)
    with SMTP("localhost", server.port) as client, pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context())
    assert server.messages == []


def test_tls_without_trustme_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # makes "import trustme" raise ImportError
    with pytest.raises(RuntimeError, match=re.escape("pip install 'smtp-backend[dev]'")):
        DevServer(tls=True)


def test_auth_is_required_when_credentials_are_given(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(auth=("dev", "s3cret"))
    with SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<a@example.test>")[0] == 530
        with pytest.raises(SMTPAuthenticationError):
            client.login("dev", "wrong")
    for mechanism in ("PLAIN", "LOGIN"):
        with SMTP(server.host, server.port) as client:
            client.ehlo()
            client.user, client.password = "dev", "s3cret"
            client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
            client.send_message(simple_message(mechanism))
    assert [m.subject for m in server.messages] == ["PLAIN", "LOGIN"]


def test_with_tls_auth_waits_for_starttls(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(tls=True, auth=("dev", "s3cret"))
    with SMTP(server.host, server.port) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        client.starttls(context=ssl.create_default_context(cafile=str(server.ca_file)))
        client.ehlo()
        assert client.has_extn("auth")
        client.login("dev", "s3cret")
        client.send_message(simple_message())
    assert len(server.messages) == 1


def test_summary_line_per_message_unless_quiet(
    devserver_factory: DevServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    loud = devserver_factory(quiet=False, web_port=None)
    quiet = devserver_factory(quiet=True, web_port=None)
    for server in (loud, quiet):
        with SMTP(server.host, server.port) as client:
            # As bytes: the client itself refuses a control character in a header it writes.
            raw = simple_message("Line\x1b[31m red").as_bytes()
            client.sendmail("alice@example.test", ["bob@example.test"], raw)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "alice@example.test" in lines[0] and "bob@example.test" in lines[0]
    assert "\x1b" not in lines[0]  # a hostile subject cannot drive the terminal
    assert loud.messages[0].id in lines[0]


def test_on_message_callback_and_a_failing_one(devserver_factory: DevServerFactory) -> None:
    seen: list[StoredMessage] = []
    server = devserver_factory(on_message=seen.append)
    broken = devserver_factory(on_message=lambda message: 1 / 0)
    for target in (server, broken):
        with SMTP(target.host, target.port) as client:
            client.send_message(simple_message())
    assert seen == server.messages and len(seen) == 1
    assert len(broken.messages) == 1  # a broken callback does not refuse the message


def test_clear_and_restart(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(web_port=None)
    with SMTP(server.host, server.port) as client:
        client.send_message(simple_message())
    server.clear()
    assert server.messages == []
    server.stop()
    assert server.web_url is None
    server.start()
    with SMTP(server.host, server.port) as client:
        client.send_message(simple_message("again"))
    assert [m.subject for m in server.messages] == ["again"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.test"])
def test_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        DevServer(host=host)
    DevServer(host=host, allow_remote=True)  # constructed, never started: tests stay on loopback


def test_localhost_binds_one_ipv4_port(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(host="localhost")
    assert server.host == "127.0.0.1"
    with SMTP("localhost", server.port) as client:
        assert client.noop()[0] == 250


def test_a_taken_port_is_reported_by_number(devserver: DevServer) -> None:
    with pytest.raises(OSError, match=rf"port {devserver.port} on 127.0.0.1 \(SMTP\) is taken"):
        DevServer(port=devserver.port, web_port=None, quiet=True).start()
    web_port = devserver.web_port
    with pytest.raises(OSError, match=rf"port {web_port} on 127.0.0.1 \(web inbox\) is taken"):
        DevServer(port=0, web_port=web_port, quiet=True).start()


def test_messages_are_ordered_oldest_first(devserver: DevServer) -> None:
    with SMTP(devserver.host, devserver.port) as client:
        client.send_many([simple_message(str(n)) for n in range(20)])
    received = [m.received_at for m in devserver.messages]
    assert received == sorted(received)
    assert [m.subject for m in devserver.messages] == [str(n) for n in range(20)]
    assert received[-1] - received[0] < timedelta(minutes=1)


def raw_conversation(server: DevServer, commands: list[bytes]) -> list[bytes]:
    """Sends each command and reads one reply to it; the greeting is read first."""
    replies = []
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        read_reply(reader)
        for command in commands:
            sock.sendall(command)
            replies.append(read_reply(reader))
    return replies


def read_reply(reader: object) -> bytes:
    lines = []
    while True:
        line = reader.readline()  # type: ignore[attr-defined]
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)
