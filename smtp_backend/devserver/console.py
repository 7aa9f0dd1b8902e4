"""The dev server's command line: ``python -m smtp_backend.devserver [options]``.

``smtp-backend devserver`` (the ``cli`` extra) takes the same options and prints the
same lines (``banner``); this one needs nothing beyond the ``dev`` extra.
"""

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
    parser.add_argument("--maildir", help="keep the messages in DIR, a Maildir (new/ cur/ tmp/)")
    parser.add_argument("--eml-dir", help="keep each message in DIR as <id>.eml + <id>.json")
    parser.add_argument("--tls", action="store_true", help="offer STARTTLS")
    parser.add_argument("--tls-dir", help="keep the CA in DIR (clients trust DIR/ca.pem)")
    parser.add_argument("--auth", type=_credentials, metavar="USER:PASSWORD", help="require AUTH")
    parser.add_argument("--no-chunking", action="store_true", help="do not offer BDAT")
    parser.add_argument("--size-limit", type=int, help="refuse messages over this many bytes")
    parser.add_argument("--quiet", action="store_true", help="no line per message")
    return parser


def banner(server: DevServer) -> list[str]:
    """Where to send and where to look, one line each, as both command lines print them."""
    tls = server.ca_file is not None
    userinfo = f"{server.auth[0]}:PASSWORD@" if server.auth else ""
    scheme = "smtp+starttls" if tls else "smtp"
    lines = [
        f"SMTP    {server.host}:{server.port}" + (" (STARTTLS offered)" if tls else ""),
        f"URL     {scheme}://{userinfo}{server.host}:{server.port}"
        + (f"?ca_file={server.ca_file}" if tls else ""),
    ]
    if server.ca_file is not None:
        lines.append(f"CA      {server.ca_file}  (trust it: ca_file= / --ca-file / MAIL_CA_FILE)")
    if server.web_url:
        lines.append(f"Inbox   {server.web_url}")
    folder = server.maildir or server.eml_dir
    if folder is not None:
        kind = "Maildir" if server.maildir is not None else "EML dir"
        lines.append(f"{kind} {folder}")
    lines.append(f"{len(server.messages)} message(s) kept; Ctrl-C to stop")
    return lines


def wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    """Runs the dev server until interrupted (Ctrl-C or SIGTERM); returns the exit status."""
    arguments = build_parser().parse_args(argv)
    try:
        server = DevServer(
            host=arguments.host,
            port=arguments.port,
            web_port=None if arguments.no_web else arguments.web_port,
            maildir=arguments.maildir,
            eml_dir=arguments.eml_dir,
            tls=arguments.tls or arguments.tls_dir is not None,
            tls_dir=arguments.tls_dir,
            auth=arguments.auth,
            chunking=not arguments.no_chunking,
            size_limit=arguments.size_limit,
            quiet=arguments.quiet,
        ).start()
    except (OSError, ValueError, RuntimeError) as error:
        print(f"devserver: {error}")
        return 1
    print("\n".join(banner(server)), flush=True)
    try:
        wait_for_interrupt()
    finally:
        server.stop()
    return 0
