"""``--security``: every mode the option offers is accepted, shown and used."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_backend.mailer.connect import SECURITY_MODES
from smtp_backend.mailer.urls import parse_mailer_url
from tests.servers import RecordingSMTPServer

from .conftest import Invoke

MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
SHOWN_SCHEME = {
    "starttls": "smtp+starttls",
    "tls": "smtps",
    "none": "smtp",
    "starttls-opportunistic": "smtp+starttls-opportunistic",
}


def message_file(tmp_path: Path) -> str:
    path = tmp_path / "one.eml"
    path.write_bytes(MESSAGE)
    return str(path)


@pytest.mark.parametrize("mode", SECURITY_MODES)
def test_check_shows_the_server_with_the_scheme_of_each_mode(
    invoke: Invoke, unused_port: int, mode: str
) -> None:
    result = invoke(
        "check", "--host", "127.0.0.1", "--port", str(unused_port), "--security", mode
    )  # fmt: skip
    assert f"{SHOWN_SCHEME[mode]}://127.0.0.1:{unused_port}" in result.stdout
    assert "cannot connect" in result.stdout
    assert result.exit_code != 0


def test_opportunistic_sends_in_clear_text_to_a_server_without_starttls(
    invoke: Invoke, smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    result = invoke(
        "send", "--host", smtp_server.host, "--port", str(smtp_server.port),
        "--security", "starttls-opportunistic", message_file(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    assert received.content == MESSAGE
    assert not received.tls


def test_opportunistic_upgrades_when_the_server_offers_starttls(
    invoke: Invoke, starttls_server: RecordingSMTPServer, ca_file: str, tmp_path: Path
) -> None:
    result = invoke(
        "send", "--host", "localhost", "--port", str(starttls_server.port),
        "--security", "starttls-opportunistic", "--ca-file", ca_file, message_file(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [received] = starttls_server.messages
    assert received.tls


@pytest.mark.parametrize("mode", SECURITY_MODES)
def test_the_shown_scheme_means_the_same_mode_when_pasted_back(mode: str) -> None:
    assert parse_mailer_url(f"{SHOWN_SCHEME[mode]}://127.0.0.1:2525")["security"] == mode


def test_check_in_opportunistic_mode_notes_missing_starttls_without_failing(
    invoke: Invoke, smtp_server: RecordingSMTPServer
) -> None:
    url = f"smtp+starttls-opportunistic://127.0.0.1:{smtp_server.port}"
    result = invoke("check", url)
    assert result.exit_code == 0, result.output
    assert "opportunistic mode sends in clear text" in result.stdout
    strict = invoke("check", f"smtp+starttls://127.0.0.1:{smtp_server.port}")
    assert strict.exit_code == 1
    assert "does not offer STARTTLS" in strict.stdout
