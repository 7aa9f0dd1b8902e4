"""The test servers themselves, checked with the standard library's smtplib.

Every other test trusts these servers; if one of these fails, fix the server first.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from email.message import EmailMessage

import pytest

from tests.servers import (
    AUTH_PASSWORD,
    AUTH_USER,
    OAUTH_TOKEN,
    Close,
    Expect,
    ReadData,
    RecordingSMTPServer,
    ScriptedServer,
    Send,
    ehlo_reply,
)

BODY = b"Subject: hello\r\n\r\nline one\r\n.dot first\r\n"


def _message(subject: str = "hello", to: str = "bob@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "alice@example.test"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("body text\n")
    return message


class RawSMTPConnection:
    """A client socket that reads one SMTP reply at a time, keeping any read-ahead."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """The next complete (possibly multi-line) reply."""
        reply = b""
        while True:
            while b"\r\n" not in self._buffer:
                data = self.sock.recv(4096)
                if not data:
                    raise ConnectionError("the server closed the connection")
                self._buffer += data
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            reply += line + b"\r\n"
            if line[3:4] != b"-":
                return reply

    def __enter__(self) -> RawSMTPConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()


def test_plain_send_is_recorded_exactly_once(smtp_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.ehlo("client.test")
        assert client.has_extn("pipelining")
        assert client.has_extn("smtputf8")
        assert client.has_extn("8bitmime")
        assert not client.has_extn("auth")
        assert not client.has_extn("chunking")
        refused = client.sendmail("alice@example.test", ["bob@example.test"], BODY)
    assert refused == {}
    [message] = smtp_server.messages
    assert message.mail_from == "alice@example.test"
    assert message.rcpt_tos == ("bob@example.test",)
    assert message.content == BODY  # dot-unstuffed: ".dot first" arrives as sent
    assert message.transfer == "DATA"
    assert message.connection == 1
    assert not message.tls
    assert smtp_server.connections == 1
    assert smtp_server.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_connections_and_messages_are_counted_and_reset(
    smtp_server: RecordingSMTPServer,
) -> None:
    for subject in ("one", "two"):
        with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
            client.send_message(_message(subject))
    assert smtp_server.connections == 2
    assert [m.connection for m in smtp_server.messages] == [1, 2]
    smtp_server.reset()
    assert smtp_server.messages == []
    assert smtp_server.connections == 0
    assert smtp_server.commands == []


def test_null_reverse_path_is_accepted(smtp_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.sendmail("<>", ["bob@example.test"], BODY)
    assert smtp_server.messages[0].mail_from == ""


def test_starttls_with_the_test_ca(
    starttls_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    with smtplib.SMTP("localhost", starttls_server.port) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=client_ssl_context)
        client.ehlo()
        assert not client.has_extn("starttls")
        client.send_message(_message())
    assert starttls_server.messages[0].tls
    assert starttls_server.connections == 1


def test_starttls_certificate_fails_without_the_ca(starttls_server: RecordingSMTPServer) -> None:
    untrusting = ssl.create_default_context()
    with (
        smtplib.SMTP("localhost", starttls_server.port) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(context=untrusting)


def test_require_starttls_refuses_mail_before_tls(smtp_server_factory) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    with smtplib.SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.mail("alice@example.test")[0] == 530


def test_implicit_tls_for_ip_address(
    smtps_server: RecordingSMTPServer, client_ssl_context: ssl.SSLContext
) -> None:
    with smtplib.SMTP_SSL("127.0.0.1", smtps_server.port, context=client_ssl_context) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        client.send_message(_message())
    assert smtps_server.messages[0].tls


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_mechanisms(auth_server: RecordingSMTPServer, mechanism: str) -> None:
    with smtplib.SMTP(auth_server.host, auth_server.port) as client:
        client.ehlo()
        assert mechanism in client.esmtp_features["auth"].split()
        client.user, client.password = AUTH_USER, AUTH_PASSWORD
        authobject = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
        code, _text = client.auth(mechanism, authobject, initial_response_ok=False)
        assert code == 235
        client.send_message(_message())
    assert auth_server.messages[0].login == AUTH_USER.encode()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_wrong_password_is_535(auth_server: RecordingSMTPServer, mechanism: str) -> None:
    with smtplib.SMTP(auth_server.host, auth_server.port) as client:
        client.ehlo()
        client.user, client.password = AUTH_USER, "wrong"
        authobject = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.auth(mechanism, authobject, initial_response_ok=False)
        assert raised.value.smtp_code == 535


def test_auth_is_required_before_mail(auth_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(auth_server.host, auth_server.port) as client:
        client.ehlo()
        assert client.mail("alice@example.test")[0] == 530


@pytest.mark.parametrize(
    ("mechanism", "initial_response"),
    [
        ("XOAUTH2", f"user={AUTH_USER}\x01auth=Bearer {OAUTH_TOKEN}\x01\x01"),
        ("OAUTHBEARER", f"n,a={AUTH_USER},\x01auth=Bearer {OAUTH_TOKEN}\x01\x01"),
    ],
)
def test_oauth_mechanisms(
    auth_server: RecordingSMTPServer, mechanism: str, initial_response: str
) -> None:
    with smtplib.SMTP(auth_server.host, auth_server.port) as client:
        client.ehlo()
        code, _text = client.auth(mechanism, lambda challenge=None: initial_response)
        assert code == 235


def test_xoauth2_bad_token_gets_error_challenge_then_535(
    auth_server: RecordingSMTPServer,
) -> None:
    with smtplib.SMTP(auth_server.host, auth_server.port) as client:
        client.ehlo()
        bad = base64.b64encode(f"user={AUTH_USER}\x01auth=Bearer nope\x01\x01".encode())
        code, challenge = client.docmd("AUTH", "XOAUTH2 " + bad.decode())
        assert code == 334
        assert b'"status": "401"' in base64.b64decode(challenge)
        assert client.docmd("")[0] == 535


def test_smtputf8_address_and_content(smtp_server: RecordingSMTPServer) -> None:
    content = "Subject: café\r\n\r\nnaïve\r\n".encode()
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.ehlo()
        client.sendmail(
            "jöran@example.test", ["zoë@example.test"], content, mail_options=["SMTPUTF8"]
        )
    [message] = smtp_server.messages
    assert message.mail_from == "jöran@example.test"
    assert message.rcpt_tos == ("zoë@example.test",)
    assert message.smtp_utf8
    assert message.content == content


def test_refused_and_tempfail_recipients(smtp_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        refused = client.sendmail(
            "alice@example.test",
            ["bob@example.test", "nobody@refused.test", "later@tempfail.test"],
            BODY,
        )
    assert refused["nobody@refused.test"][0] == 550
    assert refused["nobody@refused.test"][1].startswith(b"5.1.1")
    assert refused["later@tempfail.test"][0] == 451
    assert refused["later@tempfail.test"][1].startswith(b"4.3.0")
    assert smtp_server.messages[0].rcpt_tos == ("bob@example.test",)


def test_all_recipients_refused(smtp_server: RecordingSMTPServer) -> None:
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.sendmail("alice@example.test", ["x@refused.test"], BODY)
    assert smtp_server.messages == []


def test_rejected_sender(smtp_server: RecordingSMTPServer) -> None:
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as raised,
    ):
        client.sendmail("reject@sender.test", ["bob@example.test"], BODY)
    assert raised.value.smtp_code == 553


def test_x_fail_data_rejects_after_data(smtp_server: RecordingSMTPServer) -> None:
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port) as client,
        pytest.raises(smtplib.SMTPDataError) as raised,
    ):
        client.sendmail("a@example.test", ["b@example.test"], b"X-Fail-Data: 554\r\n\r\nx\r\n")
    assert raised.value.smtp_code == 554
    assert smtp_server.messages == []


def test_size_is_advertised_and_enforced(smtp_server_factory) -> None:
    server = smtp_server_factory(size_limit=1000)
    with smtplib.SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "1000"
        with pytest.raises(smtplib.SMTPSenderRefused) as raised:
            client.sendmail("a@example.test", ["b@example.test"], b"x" * 2000)
    assert raised.value.smtp_code == 552


def test_no_size_advertised_by_default(smtp_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.ehlo()
        assert not client.has_extn("size")


def test_pipelined_commands_get_replies_in_order(smtp_server: RecordingSMTPServer) -> None:
    with RawSMTPConnection(smtp_server.address) as connection:
        connection.send(
            b"EHLO c.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
            b"RCPT TO:<c@refused.test>\r\nDATA\r\n"
        )
        codes = [connection.reply()[:3] for _ in range(6)]
        assert codes == [b"220", b"250", b"250", b"250", b"550", b"354"]
        connection.send(b"body\r\n.\r\nQUIT\r\n")
        assert connection.reply().startswith(b"250")
        assert connection.reply().startswith(b"221")
    assert smtp_server.messages[0].content == b"body\r\n"


def test_raw_bdat_exchange(chunking_server: RecordingSMTPServer) -> None:
    chunks = [b"Subject: chunked\r\n\r\n", b"line\r\n.\r\nnot the end\r\n"]
    with RawSMTPConnection(chunking_server.address) as connection:
        connection.reply()
        connection.send(b"EHLO c.test\r\n")
        assert b"250-CHUNKING\r\n" in connection.reply()
        connection.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n")
        assert connection.reply().startswith(b"250")
        assert connection.reply().startswith(b"250")
        connection.send(b"BDAT %d\r\n" % len(chunks[0]) + chunks[0])
        assert connection.reply() == b"250 2.0.0 %d octets received\r\n" % len(chunks[0])
        connection.send(b"BDAT %d LAST\r\n" % len(chunks[1]) + chunks[1])
        assert connection.reply().startswith(b"250 2.0.0 OK")
    [message] = chunking_server.messages
    assert message.transfer == "BDAT"
    assert message.chunks == tuple(chunks)
    assert message.content == b"".join(chunks)  # no dot-unstuffing, no terminator


def test_bdat_errors_still_consume_the_chunk(chunking_server: RecordingSMTPServer) -> None:
    with RawSMTPConnection(chunking_server.address) as connection:
        connection.reply()
        connection.send(b"EHLO c.test\r\n")
        connection.reply()
        # no MAIL yet: refused, but the 12 octets (which look like a command) are eaten
        connection.send(b"BDAT 12 LAST\r\nNOOP\r\nNOOP\r\n")
        assert connection.reply().startswith(b"503 5.5.1")
        connection.send(b"NOOP\r\n")
        assert connection.reply().startswith(b"250")
        connection.send(b"BDAT x\r\n")
        assert connection.reply().startswith(b"501")
    assert chunking_server.verbs().count("NOOP") == 1
    assert chunking_server.messages == []


def test_bdat_size_limit_fails_the_transaction(smtp_server_factory) -> None:
    server = smtp_server_factory(chunking=True, size_limit=10)
    with RawSMTPConnection(server.address) as connection:
        connection.reply()
        connection.send(
            b"EHLO c.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
        )
        for _ in range(3):
            connection.reply()
        connection.send(b"BDAT 8\r\n12345678")
        assert connection.reply().startswith(b"250")
        connection.send(b"BDAT 8\r\n12345678")
        assert connection.reply().startswith(b"552")
        connection.send(b"BDAT 1 LAST\r\nx")
        assert connection.reply().startswith(b"503")
        connection.send(b"RSET\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n")
        for _ in range(3):
            assert connection.reply().startswith(b"250")
        connection.send(b"BDAT 0 LAST\r\n")
        assert connection.reply().startswith(b"250 2.0.0 OK")
    assert [m.content for m in server.messages] == [b""]


def test_bdat_is_unknown_without_chunking(smtp_server: RecordingSMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.ehlo()
        assert client.docmd("BDAT", "0 LAST")[0] == 500


def test_scripted_server_replays_and_records(scripted_server: ScriptedServer) -> None:
    # (?i): smtplib's command case differs between Python versions
    scripted_server.play(
        Send(b"220 fake.test ESMTP\r\n"),
        Expect(rb"(?i)ehlo \S+", ehlo_reply("PIPELINING", "8BITMIME")),
        Expect(rb"(?i)mail FROM:<a@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)rcpt TO:<b@example\.test>", b"250 ok\r\n"),
        Expect(rb"(?i)data", b"354 go\r\n"),
        ReadData(b"250 queued\r\n"),
        Expect(rb"(?i)quit", b"221 bye\r\n"),
        Close(),
    )
    with smtplib.SMTP(scripted_server.host, scripted_server.port, local_hostname="c.test") as s:
        s.sendmail("a@example.test", ["b@example.test"], b"hi\r\n.x\r\n")
    scripted_server.join()
    assert scripted_server.errors == []
    assert scripted_server.messages == [b"hi\r\n..x\r\n.\r\n"]  # raw: still dot-stuffed
    assert scripted_server.received[0].lower() == (
        b"ehlo c.test\r\nmail from:<a@example.test>\r\nrcpt to:<b@example.test>\r\n"
        b"data\r\nhi\r\n..x\r\n.\r\nquit\r\n"
    )


def test_scripted_server_reports_a_mismatch_and_closes(scripted_server: ScriptedServer) -> None:
    scripted_server.play(Send(b"220 fake\r\n"), Expect(rb"helo .*", b"250 ok\r\n"))
    with (
        smtplib.SMTP(scripted_server.host, scripted_server.port) as client,
        pytest.raises(smtplib.SMTPServerDisconnected),
    ):
        client.ehlo()
    scripted_server.join()
    assert len(scripted_server.errors) == 1
    assert "expected" in scripted_server.errors[0]


def test_scripted_server_closes_unscripted_connections(scripted_server: ScriptedServer) -> None:
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP(scripted_server.host, scripted_server.port)
    scripted_server.join()
    assert scripted_server.connections == 1
    assert scripted_server.errors == ["connection 1: no script queued for this connection"]
