"""``smtp-backend check``: greeting, extensions, TLS and certificate, AUTH; nothing sent."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable

from tests.servers import AUTH_PASSWORD, AUTH_USER, RecordingSMTPServer

from .conftest import Invoke

ServerWith = Callable[..., tuple[RecordingSMTPServer, str]]
USER = AUTH_USER.replace("@", "%40")


def assert_no_secret(output: str) -> None:
    assert AUTH_PASSWORD not in output
    assert base64.b64encode(AUTH_PASSWORD.encode()).decode() not in output
    plain = base64.b64encode(f"\0{AUTH_USER}\0{AUTH_PASSWORD}".encode()).decode()
    assert plain not in output


def test_plain_server_greeting_and_every_extension(
    invoke: Invoke, smtp_server_factory: Callable[..., RecordingSMTPServer]
) -> None:
    smtp_server = smtp_server_factory(chunking=True, size_limit=10240)
    result = invoke("check", f"smtp://127.0.0.1:{smtp_server.port}")
    assert result.exit_code == 0, result.output
    assert "greeting: 220 localhost ESMTP" in result.stdout
    rows = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if line.startswith("│")
        and len(cells := [c.strip() for c in line.strip("│").split("│")]) == 2
    }
    assert rows == {
        "SIZE": "10240",
        "8BITMIME": "",
        "SMTPUTF8": "",
        "PIPELINING": "",
        "CHUNKING": "",
        "HELP": "",
    }
    assert "AUTH not offered" in result.stdout
    assert "no problem found" in result.stdout
    assert smtp_server.messages == []
    assert "MAIL" not in smtp_server.verbs()


def test_starttls_verified_with_the_ca_file_shows_tls_certificate_and_auth(
    invoke: Invoke, starttls_server_with: ServerWith
) -> None:
    server, ca_file = starttls_server_with("localhost", "127.0.0.1")
    result = invoke(
        "check", f"smtp+starttls://{USER}@127.0.0.1:{server.port}", "--ca-file", ca_file,
        env={"SMTP_BACKEND_PASSWORD": AUTH_PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "TLS (STARTTLS): certificate verifies for host name 127.0.0.1" in out
    assert "TLSv1.3, cipher TLS_" in out
    assert "localhost, 127.0.0.1" in out  # the certificate's names
    assert "issuer" in out and "trustme" in out
    assert "EHLO extensions after STARTTLS" in out
    assert "AUTH mechanisms offered: " in out and "PLAIN" in out
    assert f"credentials accepted: {AUTH_USER}: 235" in out
    assert_no_secret(result.output)
    assert server.messages == []


def test_unknown_ca_is_reported_and_credentials_are_not_sent(
    invoke: Invoke, starttls_server_with: ServerWith
) -> None:
    server, _ = starttls_server_with("localhost", "127.0.0.1")
    result = invoke(
        "check", f"smtp+starttls://{USER}:{AUTH_PASSWORD.replace(' ', '%20')}@127.0.0.1:{server.port}",
    )  # fmt: skip
    assert result.exit_code == 1
    out = result.stdout
    assert "certificate does NOT verify" in out
    assert "unknown certificate authority" in out and "--ca-file" in out
    assert "UNVERIFIED" in out and "localhost, 127.0.0.1" in out  # details, clearly labelled
    assert "credentials not tried" in out
    assert "AUTH" not in server.verbs()
    assert_no_secret(result.output)


def test_wrong_host_name_is_reported(invoke: Invoke, starttls_server_with: ServerWith) -> None:
    server, ca_file = starttls_server_with("mail.example.test")
    result = invoke("check", f"smtp+starttls://127.0.0.1:{server.port}", "--ca-file", ca_file)
    assert result.exit_code == 1
    assert "wrong IP address: the certificate is not valid for 127.0.0.1" in result.stdout
    assert "mail.example.test" in result.stdout


def test_expired_certificate_is_reported(invoke: Invoke, starttls_server_with: ServerWith) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    server, ca_file = starttls_server_with(
        "localhost",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=2),
    )
    result = invoke("check", f"smtp+starttls://localhost:{server.port}", "--ca-file", ca_file)
    assert result.exit_code == 1
    assert "the certificate has expired" in result.stdout
    assert "EXPIRED" in result.stdout


def test_implicit_tls(invoke: Invoke, smtps_server: RecordingSMTPServer, ca_file: str) -> None:
    result = invoke("check", f"smtps://localhost:{smtps_server.port}", "--ca-file", ca_file)
    assert result.exit_code == 0, result.output
    assert "TLS (implicit TLS): certificate verifies for host name localhost" in result.stdout


def test_starttls_url_for_a_server_without_starttls(
    invoke: Invoke, smtp_server: RecordingSMTPServer
) -> None:
    result = invoke("check", f"smtp+starttls://127.0.0.1:{smtp_server.port}")
    assert result.exit_code == 1
    assert "does not offer STARTTLS" in result.stdout


def test_rejected_credentials_and_a_redacted_debug_transcript(
    invoke: Invoke, auth_server: RecordingSMTPServer
) -> None:
    result = invoke(
        "check", f"smtp://{USER}@127.0.0.1:{auth_server.port}", "--debug",
        env={"SMTP_BACKEND_PASSWORD": "not the password"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "credentials rejected" in result.stdout and "535" in result.stdout
    transcript = result.stderr
    assert "send: 'ehlo " in transcript and "reply: b'250" in transcript
    assert "<credentials redacted>" in transcript
    assert "not the password" not in result.output
    assert base64.b64encode(b"not the password").decode() not in result.output


def test_accepted_credentials_debug_transcript_has_no_secret(
    invoke: Invoke, auth_server: RecordingSMTPServer
) -> None:
    result = invoke(
        "check", f"smtp://127.0.0.1:{auth_server.port}", "--user", AUTH_USER,
        "--password", AUTH_PASSWORD, "--debug",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "credentials accepted" in result.stdout
    assert "AUTH" in auth_server.verbs() and "MAIL" not in auth_server.verbs()
    assert_no_secret(result.output)


def test_unreachable_server_exits_2(invoke: Invoke, unused_port: int) -> None:
    result = invoke("check", f"smtp://127.0.0.1:{unused_port}", "--timeout", "5")
    assert result.exit_code == 2
    assert f"cannot connect to smtp://127.0.0.1:{unused_port}" in result.stdout


def test_url_from_the_option_and_from_the_environment(
    invoke: Invoke, smtp_server: RecordingSMTPServer, monkeypatch: object
) -> None:
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    by_option = invoke("check", "--url", url)
    assert by_option.exit_code == 0, by_option.output
    assert "greeting: 220" in by_option.stdout
    monkeypatch.setenv("SMTP_BACKEND_URL", url)  # type: ignore[attr-defined]
    by_environment = invoke("check")
    assert by_environment.exit_code == 0, by_environment.output
    assert "greeting: 220" in by_environment.stdout
