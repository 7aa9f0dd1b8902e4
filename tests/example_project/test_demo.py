"""The demo (``python -m example_project``, what scripts/run-demo runs) in a real process."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parseaddr
from pathlib import Path

from example_project.newsletter import NEWSLETTER_SUBJECT, load_subscribers

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = sorted(subscriber.email for subscriber in load_subscribers())
SENDERS = ("hello@django-site.example", "hello@flask-app.example")
FREE_PORTS = ("--port", "0", "--web-port", "0")


def demo_environment() -> dict[str, str]:
    """This environment without CI, so only the flags and stdin decide whether it waits."""
    return {name: value for name, value in os.environ.items() if name != "CI"}


def run_demo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "example_project", *FREE_PORTS, *arguments],
        cwd=ROOT,
        env=demo_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=50,
    )


def assert_summary(output: str, total: int) -> str:
    """Checks the summary lines; returns the web inbox address."""
    inbox = re.search(rf"Web inbox: +(http://127\.0\.0\.1:\d+/) +\({total} messages\)", output)
    assert inbox is not None, output
    for title in ("Django site", "Flask app"):
        expected = (
            f"{title}: +5 messages in one batch: 5 sent, 0 refused; the dev server caught 5\n"
        )
        assert re.search(expected, output), output
    return inbox[1]


def test_demo_sends_both_newsletters_to_the_dev_server_and_exits_with_no_wait(
    tmp_path: Path,
) -> None:
    completed = run_demo("--no-wait", "--maildir", str(tmp_path))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert_summary(completed.stdout, total=10)
    assert completed.stdout.rstrip().endswith("Dev server stopped.")
    recipients_by_sender = defaultdict(list)
    for path in (tmp_path / "new").iterdir():  # a Maildir, as mail programs read it
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        assert message["Subject"] == NEWSLETTER_SUBJECT
        recipients_by_sender[parseaddr(message["From"])[1]].append(message["To"])
    assert {sender: sorted(to) for sender, to in recipients_by_sender.items()} == {
        sender: SUBSCRIBERS for sender in SENDERS
    }


def test_demo_without_a_terminal_exits_after_the_summary() -> None:
    completed = run_demo()

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert_summary(completed.stdout, total=10)
    assert "Not waiting" in completed.stdout
    assert "Press Ctrl-C" not in completed.stdout


def test_demo_at_a_terminal_serves_the_inbox_until_ctrl_c() -> None:
    terminal, terminal_side = pty.openpty()
    demo = subprocess.Popen(
        [sys.executable, "-m", "example_project", *FREE_PORTS],
        cwd=ROOT,
        env=demo_environment(),
        stdin=terminal_side,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal_side)
    try:
        assert demo.stdout is not None
        lines = []
        while not lines or "Press Ctrl-C to stop." not in lines[-1]:
            line = demo.stdout.readline()
            assert line, "".join(lines)  # the demo ended before waiting
            lines.append(line)
        inbox = assert_summary("".join(lines), total=10)
        with urllib.request.urlopen(f"{inbox}api/messages", timeout=10) as response:
            caught = json.load(response)["messages"]
        assert sorted(message["sender"] for message in caught) == sorted(SENDERS * 5)

        demo.send_signal(signal.SIGINT)
        rest, errors = demo.communicate(timeout=20)
    finally:
        demo.kill()
        demo.wait()
        os.close(terminal)
    assert demo.returncode == 0, errors
    assert rest.strip() == "Dev server stopped."
