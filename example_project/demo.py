"""The main job: start the dev server, run each example's newsletter command against it,
and say where to look.

    python -m example_project [--port 1025] [--web-port 8025] [--maildir DIR] [--no-wait]

Each command runs in its own process exactly as a user would type it, pointed at the dev
server through the environment. Afterwards the dev server keeps running for its web inbox
until Ctrl-C, unless --no-wait is given, CI is set, or stdin is not a terminal.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtp_backend.devserver import DevServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT, DEFAULT_WEB_PORT = 1025, 8025
COMMAND_TIMEOUT = 120


@dataclass(frozen=True)
class Example:
    """One example app's batch send: its command line and the variables that aim it."""

    title: str
    arguments: tuple[str, ...]
    environment: Mapping[str, str]  # values are formatted with the server's host and port

    def variables(self, server: DevServer) -> dict[str, str]:
        return {
            name: value.format(host=server.host, port=server.port)
            for name, value in self.environment.items()
        }


EXAMPLES = (
    Example(
        "Django site",
        ("-m", "django", "send_newsletter", "--settings=example_project.django_site.settings"),
        {"EMAIL_HOST": "{host}", "EMAIL_PORT": "{port}"},
    ),
    Example(
        "Flask app",
        ("-m", "flask", "--app", "example_project.flask_app", "newsletter"),
        {"FLASK_MAIL_SERVER": "{host}", "FLASK_MAIL_PORT": "{port}"},
    ),
)


@dataclass(frozen=True)
class Outcome:
    example: Example
    exit_status: int
    summary: str  # the command's last line: its results summary, or why it failed
    caught: int  # messages the dev server received while it ran


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m example_project", description=__doc__)
    parser.add_argument("--port", type=int, help=f"SMTP port ({DEFAULT_PORT}, else any free)")
    parser.add_argument(
        "--web-port", type=int, help=f"web inbox port ({DEFAULT_WEB_PORT}, else any free)"
    )
    parser.add_argument("--maildir", help="keep the caught messages in DIR, a Maildir")
    parser.add_argument("--no-wait", action="store_true", help="stop the dev server at the end")
    return parser


def start_dev_server(arguments: argparse.Namespace) -> DevServer:
    """On the ports asked for; without a request, on 1025/8025, or free ones if those are taken."""
    chosen = arguments.port is not None or arguments.web_port is not None
    port = DEFAULT_PORT if arguments.port is None else arguments.port
    web_port = DEFAULT_WEB_PORT if arguments.web_port is None else arguments.web_port
    try:
        return DevServer(
            port=port, web_port=web_port, maildir=arguments.maildir, quiet=True
        ).start()
    except OSError as error:
        if chosen:
            raise
        print(f"ports {port}/{web_port} are taken ({error.strerror}): using free ones")
        return DevServer(port=0, web_port=0, maildir=arguments.maildir, quiet=True).start()


def child_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """This environment plus ``variables``; the checkout first on the path, where the
    examples live (and the integrations, in case the project is not installed)."""
    path = [str(ROOT), str(ROOT / "integrations"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, **variables, "PYTHONPATH": os.pathsep.join(filter(None, path))}


def run_example(example: Example, server: DevServer) -> Outcome:
    variables = example.variables(server)
    shown = " ".join(f"{name}={value}" for name, value in variables.items())
    print(f"\n{example.title}:\n$ {shown} python {shlex.join(example.arguments)}", flush=True)
    before = len(server.messages)
    completed = subprocess.run(
        [sys.executable, *example.arguments],
        cwd=ROOT,
        env=child_environment(variables),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    output = completed.stdout.splitlines()
    errors = completed.stderr.splitlines() if completed.returncode else []
    for line in output + errors:
        print(f"  {line}")
    summary = (output or [""])[-1] if completed.returncode == 0 else (errors or ["failed"])[-1]
    return Outcome(example, completed.returncode, summary, len(server.messages) - before)


def print_summary(server: DevServer, outcomes: list[Outcome], maildir: str | None) -> None:
    width = max(len(outcome.example.title) for outcome in outcomes) + 1
    print("\nSummary")
    print(f"  {'Web inbox:':<{width + 1}} {server.web_url}  ({len(server.messages)} messages)")
    for outcome in outcomes:
        status = "" if outcome.exit_status == 0 else f" [exit status {outcome.exit_status}]"
        label = f"{outcome.example.title}:"
        print(
            f"  {label:<{width + 1}} {outcome.summary}; the dev server caught {outcome.caught}{status}"
        )
    if maildir:
        print(f"  {'Maildir:':<{width + 1}} {maildir}")


def should_wait(arguments: argparse.Namespace) -> bool:
    """Keep serving the inbox only for a person at a terminal."""
    return not arguments.no_wait and not os.environ.get("CI") and sys.stdin.isatty()


def wait_for_ctrl_c() -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    server = start_dev_server(arguments)
    try:
        print(f"Dev server: SMTP on {server.host}:{server.port}, web inbox at {server.web_url}")
        outcomes = [run_example(example, server) for example in EXAMPLES]
        print_summary(server, outcomes, arguments.maildir)
        if should_wait(arguments):
            print(f"\nOpen {server.web_url} to read the mail. Press Ctrl-C to stop.", flush=True)
            wait_for_ctrl_c()
        else:
            print(
                "\nNot waiting (--no-wait, CI or no terminal): the dev server stops now, and"
                " its web inbox with it. Run this at a terminal to browse the inbox."
            )
    finally:
        server.stop()
    print("Dev server stopped.")
    return 0 if all(outcome.exit_status == 0 for outcome in outcomes) else 1
