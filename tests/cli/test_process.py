"""The command line as a user runs it: ``python -m smtp_backend`` in a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from smtp_backend import Mailer
from tests.servers import RecordingSMTPServer

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = {
    **{k: v for k, v in os.environ.items() if not k.startswith("SMTP_BACKEND_")},
    "PYTHONPATH": str(REPO),
}


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        env=ENVIRONMENT,
        timeout=60,
        check=False,
    )


def test_python_m_smtp_backend_sends_a_message(smtp_server: RecordingSMTPServer) -> None:
    process = run(
        "-m", "smtp_backend", "send", "--url", f"smtp://127.0.0.1:{smtp_server.port}",
        "--from", "a@example.test", "--to", "b@example.test", "--subject", "From a process",
        "--body-file", "-", stdin=b"body from stdin\n",
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("b@example.test",)
    assert b"Subject: From a process\r\n" in received.content
    assert received.content.endswith(b"\r\n\r\nbody from stdin\r\n")


def test_results_are_reported_once_numbered_as_the_users_file(
    smtp_server: RecordingSMTPServer, tmp_path: Path
) -> None:
    box = tmp_path / "batch.mbox"
    box.write_bytes(
        b"From a@example.test\nFrom: a@example.test\nTo: ok@example.test\nSubject: 1\n\nx\n\n"
        b"From a@example.test\nFrom: a@example.test\nTo: no@refused.test\nSubject: 2\n\nx\n"
    )
    process = run("-m", "smtp_backend", "send", "--url", f"smtp://127.0.0.1:{smtp_server.port}",
                  str(box))  # fmt: skip
    assert process.returncode == 1
    assert "#2 " in process.stdout and "#1 " not in process.stdout  # the refused one, from 1
    assert "no@refused.test: 550" in process.stdout
    # no second report from the library's log, numbered from 0
    assert "message 1 refused" not in process.stderr and "550" not in process.stderr


def test_without_the_cli_extra_it_says_what_to_install() -> None:
    hide_rich = (
        "import sys, runpy; sys.modules['rich'] = None; "
        "runpy.run_module('smtp_backend', run_name='__main__')"
    )
    process = run("-c", hide_rich, "send")
    assert process.returncode == 2
    assert "rich is not installed" in process.stderr
    assert "pip install 'smtp-backend[cli]'" in process.stderr


def test_devserver_command_prints_where_to_look_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    process = subprocess.Popen(
        [sys.executable, "-m", "smtp_backend", "devserver", "--port", "0", "--no-web",
         "--maildir", str(maildir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENVIRONMENT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = next(line.split()[1] for line in lines if line.startswith("URL"))
        assert url.startswith("smtp://127.0.0.1:")
        assert any(line.startswith(f"Maildir {maildir}") for line in lines)
        assert lines[-1].startswith("0 message(s) kept")
        with Mailer.from_url(url) as mailer:
            [result] = mailer.send(_message())
        assert result.ok
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    assert len(list((maildir / "new").iterdir())) == 1


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.test", "b@example.test", "hi"
    message.set_content("caught")
    return message
