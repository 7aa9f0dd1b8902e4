"""Where and how to connect, from ``--url``/``SMTP_BACKEND_URL`` and the server flags.

Flags override what the URL says. The password comes from the URL, ``--password``
or ``SMTP_BACKEND_PASSWORD`` (or a prompt on a terminal); it is never printed.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from ..mailer.connect import OPPORTUNISTIC, SECURITY_MODES
from ..mailer.urls import parse_mailer_url
from ..protocol.session import is_loopback
from ..timeouts import DEFAULT_TIMEOUTS

F = TypeVar("F", bound=Callable[..., Any])

URL_ENV = "SMTP_BACKEND_URL"
PASSWORD_ENV = "SMTP_BACKEND_PASSWORD"
# The URL scheme that shows each security mode: every one of SECURITY_MODES has its own.
_SCHEMES = {
    "none": "smtp",
    "starttls": "smtp+starttls",
    "tls": "smtps",
    OPPORTUNISTIC: f"smtp+{OPPORTUNISTIC}",
}


@dataclass(frozen=True)
class ServerTarget:
    """The resolved server settings: Mailer keyword arguments, and the URL as it may be shown."""

    mailer_arguments: dict[str, Any]
    shown: str  # the server for messages: its URL with the password replaced by ***
    ca_file: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)  # to redact from any output

    @property
    def host(self) -> str:
        return str(self.mailer_arguments["host"])

    @property
    def security(self) -> str:
        return str(self.mailer_arguments.get("security", "starttls"))


def server_options(command: F) -> F:
    """The flags every command that talks to a server takes."""
    flags = [
        click.option(
            "--url",
            envvar=URL_ENV,
            help=f"Server URL, e.g. smtp+starttls://user@host:587 (or ${URL_ENV}).",
        ),
        click.option("--host", help="Server host name (default: localhost)."),
        click.option("--port", type=click.IntRange(1, 65535), help="Server port."),
        click.option(
            "--security",
            type=click.Choice(SECURITY_MODES),
            help=(
                "starttls (default), tls (implicit, port 465), none, or "
                f"{OPPORTUNISTIC} (STARTTLS when offered, clear text otherwise). "
                f"For a loopback host without --user (a local dev server) the default is "
                f"{OPPORTUNISTIC}: clear text that never leaves the machine and carries no "
                "password is harmless, and TLS is still used (and verified) when offered."
            ),
        ),
        click.option("--user", help="User name to log in with."),
        click.option(
            "--password",
            envvar=PASSWORD_ENV,
            help=f"Password (prefer ${PASSWORD_ENV}: flags are visible to other users).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False),
            help="Trust the certificate authorities in this PEM file (instead of the system's).",
        ),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def resolve_target(
    url: str | None,
    host: str | None,
    port: int | None,
    security: str | None,
    user: str | None,
    password: str | None,
    ca_file: str | None,
    timeout: float | None,
    *,
    prompt: bool = True,
) -> ServerTarget:
    """The server settings the flags describe; ``click.UsageError`` when they are wrong."""
    try:
        arguments = parse_mailer_url(url) if url else {}
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    overrides = {
        "host": host,
        "port": port,
        "security": security,
        "username": user,
        "password": password,
        "timeout": timeout,
    }
    arguments.update({key: value for key, value in overrides.items() if value is not None})
    arguments.setdefault("host", "localhost")
    arguments.setdefault("timeout", DEFAULT_TIMEOUTS.command)  # check's client: one limit
    if "security" not in arguments and not arguments.get("username"):
        if is_loopback(arguments["host"], None, unix_socket=arguments["host"].startswith("/")):
            arguments["security"] = OPPORTUNISTIC
    if arguments.get("username") and arguments.get("password") is None:
        if not prompt:
            raise click.UsageError(f"--user needs a password: --password or ${PASSWORD_ENV}")
        arguments["password"] = click.prompt("Password", hide_input=True, err=True)
    if ca_file is not None:
        arguments["ssl_context"] = ssl.create_default_context(cafile=ca_file)
    secret = arguments.get("password")
    return ServerTarget(
        arguments,
        shown=_shown(arguments),
        ca_file=ca_file,
        secrets=(secret,) if secret else (),
    )


def _shown(arguments: dict[str, Any]) -> str:
    """The settings as a URL a user can read and paste, with no password in it."""
    security = arguments.get("security", "starttls")
    name = _SCHEMES[security] if arguments.get("protocol", "smtp") == "smtp" else "lmtp"
    host = arguments["host"]
    if host.startswith("/"):
        return f"{'lmtp' if name == 'lmtp' else 'smtp+unix'}://{host}"
    user = arguments.get("username")
    userinfo = f"{urllib.parse.quote(user, safe='')}:***@" if user else ""
    port = f":{arguments['port']}" if "port" in arguments else ""
    return f"{name}://{userinfo}{host}{port}"
