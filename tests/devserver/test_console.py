"""``python -m smtp_backend.devserver``: a real process, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from smtp_backend import SMTP, Mailer
from smtp_backend.devserver import main
from tests.devserver.samples import simple_message

ROOT = Path(__file__).resolve().parents[2]


def start(*options: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``python -m smtp_backend.devserver`` on free ports; its banner lines by their label."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smtp_backend.devserver", "--port", "0", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner: dict[str, str] = {}
    while not (line := process.stdout.readline()).endswith("Ctrl-C to stop\n"):
        assert line, f"the dev server ended: {banner}"
        label, _, value = line.partition(" ")
        banner[label] = value.strip()
    return process, banner


def test_runs_until_ctrl_c_and_keeps_the_maildir(tmp_path: Path) -> None:
    process, banner = start(
        "--web-port", "0", "--maildir", str(tmp_path), "--auth", "dev:pass:word"
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert re.fullmatch(r"127\.0\.0\.1:\d+", banner["SMTP"]), banner
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", banner["Inbox"]), banner
        assert banner["Maildir"] == str(tmp_path)
        with SMTP("127.0.0.1", int(banner["SMTP"].rpartition(":")[2])) as client:
            client.login("dev", "pass:word")  # the password is everything after the first colon
            client.send_message(simple_message("From the CLI"))
        assert "'From the CLI'" in process.stdout.readline()
        with urllib.request.urlopen(banner["Inbox"] + "api/messages", timeout=10) as response:
            assert "From the CLI" in response.read().decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
    assert len(list((tmp_path / "new").iterdir())) == 1


def test_tls_dir_keeps_the_ca_clients_trust(tmp_path: Path) -> None:
    process, banner = start("--no-web", "--tls-dir", str(tmp_path / "tls"))
    try:
        ca_file = tmp_path / "tls" / "ca.pem"
        assert banner["CA"].startswith(f"{ca_file} ")
        assert banner["URL"].endswith(f"?ca_file={ca_file}")
        with Mailer.from_url(banner["URL"]) as mailer:  # STARTTLS, verified with the CA
            (result,) = mailer.send(simple_message("Verified"))
        assert result.ok
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sigterm_stops_it_at_once(tmp_path: Path) -> None:
    process, banner = start("--web-port", "0")
    # an open event stream must not hold the shutdown up
    web_port = int(banner["Inbox"].rsplit(":", 1)[1].strip("/"))
    stream = socket.create_connection(("127.0.0.1", web_port))
    stream.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{web_port}\r\n\r\n".encode())
    assert b"text/event-stream" in stream.recv(4096)
    try:
        process.send_signal(signal.SIGTERM)
        # a generous bound: the behaviour is "stops", not a speed
        assert process.wait(timeout=10) == 0
    finally:
        stream.close()
        process.kill()
        process.wait()


def test_a_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            [sys.executable, "-m", "smtp_backend.devserver", "--port", str(port), "--no-web"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert process.returncode == 1
    assert f"port {port} on 127.0.0.1 (SMTP) is taken" in process.stdout
    assert "--port" in process.stdout


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0", "--no-web"]) == 1
    assert "loopback only" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--auth", "no-colon"])
    assert exit_info.value.code == 2
    assert "USER:PASSWORD" in capsys.readouterr().err
