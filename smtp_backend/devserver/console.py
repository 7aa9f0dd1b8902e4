"""The dev server's command line: ``python -m smtp_backend.devserver [options]``."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import DevServer


def _credentials(text: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m smtp_backend.devserver",
        description="Catch every message sent to a local SMTP port and show it in a web inbox.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=1025, help="SMTP port (1025; 0: any free)")
    parser.add_argument("--web-port", type=int, default=8025, help="web inbox port (8025)")
    parser.add_argument("--no-web", action="store_true", help="no web inbox")
    parser.add_argument("--maildir", help="keep each message in DIR as <id>.eml")
    parser.add_argument("--tls", action="store_true", help="offer STARTTLS (self-signed)")
    parser.add_argument("--auth", type=_credentials, metavar="USER:PASSWORD", help="require AUTH")
    parser.add_argument("--no-chunking", action="store_true", help="do not offer BDAT")
    parser.add_argument("--size-limit", type=int, help="refuse messages over this many bytes")
    parser.add_argument("--quiet", action="store_true", help="no line per message")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the dev server until interrupted (Ctrl-C or SIGTERM); returns the exit status."""
    arguments = build_parser().parse_args(argv)
    try:
        server = DevServer(
            host=arguments.host,
            port=arguments.port,
            web_port=None if arguments.no_web else arguments.web_port,
            maildir=arguments.maildir,
            tls=arguments.tls,
            auth=arguments.auth,
            chunking=not arguments.no_chunking,
            size_limit=arguments.size_limit,
            quiet=arguments.quiet,
        ).start()
    except (OSError, ValueError, RuntimeError) as error:
        print(f"devserver: {error}")
        return 1
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print(f"SMTP on {server.host}:{server.port}" + (" (STARTTLS offered)" if arguments.tls else ""))
    if server.web_url:
        print(f"Inbox at {server.web_url}")
    print(f"{len(server.messages)} messages kept; Ctrl-C to stop", flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
