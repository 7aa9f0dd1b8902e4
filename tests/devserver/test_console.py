"""``python -m smtp_backend.devserver``: a real process, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import main
from tests.devserver.samples import simple_message

ROOT = Path(__file__).resolve().parents[2]


def test_runs_until_ctrl_c_and_keeps_the_maildir(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtp_backend.devserver",
            "--port",
            "0",
            "--web-port",
            "0",
            "--maildir",
            str(tmp_path),
            "--auth",
            "dev:pass:word",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        smtp_line, web_line, count_line = (process.stdout.readline() for _ in range(3))
        smtp = re.fullmatch(r"SMTP on 127\.0\.0\.1:(\d+)\n", smtp_line)
        web = re.fullmatch(r"Inbox at (http://127\.0\.0\.1:\d+/)\n", web_line)
        assert smtp and web, (smtp_line, web_line)
        assert count_line.startswith("0 messages kept")
        with SMTP("127.0.0.1", int(smtp[1])) as client:
            client.login("dev", "pass:word")  # the password is everything after the first colon
            client.send_message(simple_message("From the CLI"))
        assert "'From the CLI'" in process.stdout.readline()
        with urllib.request.urlopen(web[1], timeout=10) as response:
            assert "From the CLI" in response.read().decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0", "--no-web"]) == 1
    assert "loopback only" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--auth", "no-colon"])
    assert exit_info.value.code == 2
    assert "USER:PASSWORD" in capsys.readouterr().err
