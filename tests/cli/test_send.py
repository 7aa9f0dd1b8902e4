"""``smtp-backend send``: what the server receives, the summary, the exit status."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from smtp_backend.devserver import DevServer
from tests.devserver.conftest import DevServerFactory, devserver, devserver_factory
from tests.servers import AUTH_PASSWORD, AUTH_USER, RecordingSMTPServer

from .conftest import Invoke

__all__ = ["devserver", "devserver_factory"]  # the dev server tests' fixtures, used here


def url(server: RecordingSMTPServer) -> str:
    return f"smtp://{server.host}:{server.port}"


def sample(number: int, to: str = "rcpt@example.test") -> bytes:
    return (
        f"From: sender@example.test\r\nTo: {to}\r\nSubject: message {number}\r\n"
        f"Message-ID: <{number}@example.test>\r\n\r\nbody {number}\r\n"
    ).encode()


def parsed(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_composed_message_arrives_with_headers_bodies_and_attachments(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    html = tmp_path / "body.html"
    html.write_text("<p>Hello <b>HTML</b></p>", encoding="utf-8")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 \x00\x01\x02 binary")
    notes = tmp_path / "notes.txt"
    notes.write_text("plain notes\n", encoding="utf-8")
    result = invoke(
        "send", "--url", url(smtp_server),
        "--from", "Ann <ann@example.test>", "--to", "bob@example.test",
        "--to", "cy@example.test", "--cc", "dee@example.test", "--bcc", "hidden@example.test",
        "--subject", "Quarterly report é", "--body", "Hello text",
        "--html-file", str(html), "--attach", str(report), "--attach", str(notes),
        "--header", "X-Campaign: q3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert received.mail_from == "ann@example.test"
    assert received.rcpt_tos == (
        "bob@example.test",
        "cy@example.test",
        "hidden@example.test",
        "dee@example.test",
    )
    assert b"hidden@example.test" not in received.content  # Bcc only in the envelope
    message = parsed(received.content)
    assert message["From"] == "Ann <ann@example.test>"
    assert message["To"] == "bob@example.test, cy@example.test"
    assert message["Cc"] == "dee@example.test"
    assert message["Subject"] == "Quarterly report é"
    assert message["X-Campaign"] == "q3"
    assert message["Message-ID"].endswith("@example.test>")
    assert message["Date"]
    body = message.get_body(("plain",))
    assert body is not None and body.get_content() == "Hello text\n"
    html_part = message.get_body(("html",))
    assert html_part is not None and html_part.get_content() == "<p>Hello <b>HTML</b></p>\n"
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {"report.pdf", "notes.txt"}
    assert attachments["report.pdf"].get_content_type() == "application/pdf"
    assert attachments["report.pdf"].get_content() == report.read_bytes()
    assert attachments["notes.txt"].get_payload(decode=True) == b"plain notes\n"
    assert "sent" in result.stdout


def test_eml_file_is_sent_byte_for_byte_with_the_envelope_from_its_headers(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(sample(1, to="Bob <bob@example.test>").replace(b"\r\n", b"\n"))
    result = invoke("send", "--url", url(smtp_server), str(path))
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert (received.mail_from, received.rcpt_tos) == ("sender@example.test", ("bob@example.test",))
    assert received.content == sample(1, to="Bob <bob@example.test>")


def test_envelope_flags_override_the_headers_of_a_file(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(sample(1))
    result = invoke(
        "send", "--url", url(smtp_server), "--from", "bounce@example.test",
        "--to", "other@example.test", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert (received.mail_from, received.rcpt_tos) == (
        "bounce@example.test",
        ("other@example.test",),
    )
    assert received.content == sample(1)


def test_mbox_batch_is_sent_in_order_with_a_summary(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "batch.mbox")
    for number in range(1, 6):
        box.add(sample(number))
    box.close()
    result = invoke("send", "--url", url(smtp_server), str(tmp_path / "batch.mbox"))
    assert result.exit_code == 0, result.output
    subjects = [parsed(m.content)["Subject"] for m in smtp_server.messages]
    assert subjects == [f"message {n}" for n in range(1, 6)]
    assert "send summary" in result.stdout
    summary = _summary_row(result.stdout)
    assert summary[:5] == ["5", "5", "0", "0", "0"]  # messages sent refused failed rcpt-refused
    assert float(summary[6]) > 0  # messages/s


def test_directory_of_eml_files_is_sent_in_name_order(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    for number in (3, 1, 2):
        (tmp_path / f"{number:02}.eml").write_bytes(sample(number))
    (tmp_path / "ignored.txt").write_text("not a message")
    result = invoke("send", "--url", url(smtp_server), str(tmp_path))
    assert result.exit_code == 0, result.output
    assert [m.content for m in smtp_server.messages] == [sample(n) for n in (1, 2, 3)]
    assert _summary_row(result.stdout)[:2] == ["3", "3"]


@pytest.mark.parametrize("kind", ["eml", "mbox"])
def test_stdin_holds_one_message_or_an_mbox(
    invoke: Invoke, smtp_server: RecordingSMTPServer, kind: str
) -> None:
    if kind == "eml":
        data, expected = sample(7), [sample(7)]
    else:
        data = b"".join(b"From sender@example.test Thu Jan  1 00:00:00 2026\n" + sample(n).replace(b"\r\n", b"\n") + b"\n" for n in (1, 2))  # fmt: skip
        expected = [sample(1), sample(2)]
    result = invoke("send", "--url", url(smtp_server), "-", input=data)
    assert result.exit_code == 0, result.output
    assert [m.content for m in smtp_server.messages] == expected


def test_a_refused_recipient_fails_the_batch_with_status_1(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "batch.mbox")
    box.add(sample(1))
    box.add(sample(2, to="nobody@refused.test"))
    box.add(sample(3, to="rcpt@example.test, gone@refused.test"))
    box.close()
    result = invoke("send", "--url", url(smtp_server), str(tmp_path / "batch.mbox"))
    assert result.exit_code == 1, result.output
    assert [parsed(m.content)["Subject"] for m in smtp_server.messages] == [
        "message 1",
        "message 3",
    ]
    assert _summary_row(result.stdout)[:5] == ["3", "2", "1", "0", "2"]
    assert "nobody@refused.test: 550" in result.stdout
    assert "gone@refused.test: 550" in result.stdout


def test_a_single_refused_message_exits_1_and_says_why(
    invoke: Invoke, smtp_server: RecordingSMTPServer
) -> None:
    result = invoke(
        "send", "--url", url(smtp_server), "--from", "a@example.test",
        "--to", "nobody@refused.test", "--body", "x",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "refused" in result.stdout and "nobody@refused.test: 550" in result.stdout
    assert result.stdout.count("550") == 1  # the server's reply, said once
    assert smtp_server.messages == []


def test_piped_output_fits_80_columns_and_keeps_plain_lines_whole(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "batch.mbox")
    for number in range(3):
        box.add(sample(number, to=f"someone.with.a.long.address.{number}@refused.test"))
    box.close()
    batch = invoke("send", "--url", url(smtp_server), str(tmp_path / "batch.mbox"))
    assert batch.exit_code == 1
    assert max(map(len, batch.stdout.splitlines())) <= 80, batch.stdout
    assert batch.stdout.count("550") == 3  # one reply per refused message
    long_name = "someone.with.a.long.address.and.then.some.more.to.pass.eighty@refused.test"
    single = invoke(
        "send", "--url", url(smtp_server), "--from", "a@example.test", "--to", long_name,
        "--body", "x",
    )  # fmt: skip
    assert f"message: refused: {long_name}: 550" in single.stdout.splitlines()[0]


def test_a_local_dev_server_is_reached_with_just_its_port(
    invoke: Invoke, devserver: DevServer
) -> None:
    result = invoke(
        "send", "--port", str(devserver.port), "--from", "a@example.test",
        "--to", "b@example.test", "--subject", "to the dev server", "--body", "x",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [m.subject for m in devserver.messages] == ["to the dev server"]
    assert devserver.messages[0].tls is False


def test_on_loopback_tls_is_still_used_and_verified_when_offered(
    invoke: Invoke, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(tls=True, web_port=None)
    common = ("--from", "a@example.test", "--to", "b@example.test", "--body", "x")
    refused = invoke("send", "--port", str(server.port), *common)
    assert refused.exit_code == 2 and "certificate" in refused.stderr.lower()
    trusted = invoke("send", "--port", str(server.port), "--ca-file", str(server.ca_file), *common)
    assert trusted.exit_code == 0, trusted.output
    assert [m.tls for m in server.messages] == [True]


def test_a_login_on_loopback_keeps_the_starttls_default(
    invoke: Invoke, devserver: DevServer
) -> None:
    result = invoke(
        "send", "--port", str(devserver.port), "--user", "u", "--password", "p",
        "--from", "a@example.test", "--to", "b@example.test", "--body", "x",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "STARTTLS" in result.stderr
    assert devserver.messages == []


def test_a_server_that_cannot_be_reached_exits_2(invoke: Invoke, unused_port: int) -> None:
    result = invoke(
        "send", "--url", f"smtp://127.0.0.1:{unused_port}", "--from", "a@example.test",
        "--to", "b@example.test", "--body", "x", "--timeout", "5",
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"could not send through smtp://127.0.0.1:{unused_port}" in result.stderr


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--to", "b@example.test"], "--from"),
        (["--from", "a@example.test"], "no recipient"),
        (
            ["--from", "a@example.test", "--to", "b@example.test", "--header", "oops"],
            "not a header",
        ),
        (["--subject", "s", "message.eml"], "--subject"),
        (["--url", "imap://host", "--from", "a@x.test", "--to", "b@x.test"], "unknown scheme"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], complaint: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "message.eml").write_bytes(sample(1))
    result = invoke("send", *args)
    assert result.exit_code == 2
    assert complaint in result.stderr


def test_dry_run_connects_to_nothing_and_shows_the_message(
    invoke: Invoke, smtp_server: RecordingSMTPServer
) -> None:
    result = invoke(
        "send", "--url", url(smtp_server), "--dry-run", "--from", "a@example.test",
        "--to", "b@example.test", "--bcc", "c@example.test", "--subject", "Dry", "--body", "wet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert smtp_server.connections == 0
    assert "from <a@example.test> to b@example.test, c@example.test" in result.stdout
    assert "Subject: Dry" in result.stdout and "wet" in result.stdout
    assert "Bcc" not in result.stdout  # the bytes that would go on the wire


def test_server_url_and_password_from_the_environment_never_printed(
    invoke: Invoke, auth_server: RecordingSMTPServer
) -> None:
    environment = {
        "SMTP_BACKEND_URL": f"smtp://{AUTH_USER.replace('@', '%40')}@127.0.0.1:{auth_server.port}",
        "SMTP_BACKEND_PASSWORD": AUTH_PASSWORD,
    }
    result = invoke(
        "send", "--from", "a@example.test", "--to", "b@example.test", "--body", "x",
        env=environment,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [received] = auth_server.messages
    assert received.login == AUTH_USER.encode()
    assert AUTH_PASSWORD not in result.output


def test_wrong_password_is_a_connection_error_without_the_password(
    invoke: Invoke, auth_server: RecordingSMTPServer
) -> None:
    result = invoke(
        "send", "--url", f"smtp://127.0.0.1:{auth_server.port}", "--user", AUTH_USER,
        "--password", "wrong secret", "--from", "a@example.test", "--to", "b@example.test",
        "--body", "x",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "535" in result.stderr
    assert "wrong secret" not in result.output


def _summary_row(output: str) -> list[str]:
    """The data row of the summary table: the cells between the box-drawing bars."""
    lines = output[output.index("send summary") :].splitlines()
    row = next(line for line in lines if line.startswith("│"))
    return [cell.strip() for cell in row.strip("│").split("│")]


def test_an_international_override_is_sent_with_smtputf8_and_8bitmime(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(sample(1))
    result = invoke("send", "--url", url(smtp_server), "--to", "jörg@example.test", str(path))
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("jörg@example.test",)
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(received.mail_options)
