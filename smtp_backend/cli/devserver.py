"""``smtp-backend devserver``: the development mail catcher, and where to look for its mail."""

from __future__ import annotations

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


_DIRECTORY = click.Path(file_okay=False, path_type=Path)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option("--port", type=click.IntRange(0, 65535), default=1025, show_default=True)
@click.option("--web-port", type=click.IntRange(0, 65535), default=8025, show_default=True)
@click.option("--no-web", is_flag=True, help="No web inbox.")
@click.option("--maildir", type=_DIRECTORY, help="Keep the messages in this Maildir.")
@click.option("--eml-dir", type=_DIRECTORY, help="Keep each message here as <id>.eml + .json.")
@click.option("--tls", is_flag=True, help="Offer STARTTLS, with a certificate from a local CA.")
@click.option("--tls-dir", type=_DIRECTORY, help="Keep the CA here (clients trust DIR/ca.pem).")
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
    eml_dir: Path | None,
    tls: bool,
    tls_dir: Path | None,
    auth: tuple[str, str] | None,
    no_chunking: bool,
    size_limit: int | None,
    quiet: bool,
) -> None:
    """Catch every message sent to a local SMTP port; show it on the web. Ctrl-C stops."""
    try:
        from ..devserver import DevServer
        from ..devserver.console import banner, wait_for_interrupt
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
            eml_dir=eml_dir,
            tls=tls or tls_dir is not None,
            tls_dir=tls_dir,
            auth=auth,
            chunking=not no_chunking,
            size_limit=size_limit,
            quiet=quiet,
        ).start()
    except (OSError, ValueError, RuntimeError) as exc:
        click.echo(f"devserver: {exc}", err=True)
        ctx.exit(EXIT_FAILED)
    click.echo("\n".join(banner(server)))
    try:
        wait_for_interrupt()
    finally:
        server.stop()
