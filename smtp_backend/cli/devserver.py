"""``smtp-backend devserver``: the development mail catcher, and where to look for its mail."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

EXIT_FAILED = 1


def _credentials(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, str] | None:
    if value is None:
        return None
    user, colon, password = value.partition(":")
    if not colon or not user:
        raise click.BadParameter("expected USER:PASSWORD")
    return user, password


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option("--port", type=click.IntRange(0, 65535), default=1025, show_default=True)
@click.option("--web-port", type=click.IntRange(0, 65535), default=8025, show_default=True)
@click.option("--no-web", is_flag=True, help="No web inbox.")
@click.option(
    "--maildir", type=click.Path(file_okay=False, path_type=Path), help="Keep .eml files here."
)
@click.option("--tls", is_flag=True, help="Offer STARTTLS (a throwaway self-signed certificate).")
@click.option("--auth", callback=_credentials, metavar="USER:PASSWORD", help="Require AUTH.")
@click.option("--no-chunking", is_flag=True, help="Do not offer BDAT.")
@click.option("--size-limit", type=click.IntRange(min=1), help="Refuse larger messages (bytes).")
@click.option("--quiet", is_flag=True, help="No line per message.")
@click.pass_context
def devserver(
    ctx: click.Context,
    host: str,
    port: int,
    web_port: int,
    no_web: bool,
    maildir: Path | None,
    tls: bool,
    auth: tuple[str, str] | None,
    no_chunking: bool,
    size_limit: int | None,
    quiet: bool,
) -> None:
    """Catch every message sent to a local SMTP port; show it on the web. Ctrl-C stops."""
    try:
        from ..devserver import DevServer
    except ImportError as exc:  # aiosmtpd, from the dev extra
        raise click.ClickException(
            f"the dev server needs the 'dev' extra ({exc.name} is missing): "
            "pip install 'smtp-backend[dev]'"
        ) from None
    try:
        server = DevServer(
            host=host,
            port=port,
            web_port=None if no_web else web_port,
            maildir=maildir,
            tls=tls,
            auth=auth,
            chunking=not no_chunking,
            size_limit=size_limit,
            quiet=quiet,
        ).start()
    except (OSError, ValueError, RuntimeError) as exc:
        click.echo(f"devserver: {exc}", err=True)
        ctx.exit(EXIT_FAILED)
    scheme = "smtp+starttls" if tls else "smtp"
    userinfo = f"{auth[0]}:PASSWORD@" if auth else ""
    click.echo(f"SMTP    {server.host}:{server.port}" + (" (STARTTLS offered)" if tls else ""))
    click.echo(f"URL     {scheme}://{userinfo}{server.host}:{server.port}")
    if server.web_url:
        click.echo(f"Inbox   {server.web_url}")
    if maildir is not None:
        click.echo(f"Maildir {maildir}")
    click.echo(f"{len(server.messages)} message(s) kept; Ctrl-C to stop", nl=True)
    _wait_for_interrupt()
    server.stop()


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
