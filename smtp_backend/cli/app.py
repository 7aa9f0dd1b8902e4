"""The ``smtp-backend`` command group and its entry point."""

from __future__ import annotations

import logging

import click

from .. import __version__
from .check import check
from .devserver import devserver
from .send import send

# The commands report every message themselves (numbered as the user's files are): the
# library's warnings, printed by logging's last resort, would say it again, numbered from 0.
logging.getLogger("smtp_backend").addHandler(logging.NullHandler())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtp-backend")
def cli() -> None:
    """Send mail, check a mail server, run a development server."""


cli.add_command(send)
cli.add_command(check)
cli.add_command(devserver)


def run(argv: list[str]) -> int:
    """Run the group; click's exit status (2 for a usage error) becomes the return value."""
    try:
        cli.main(args=argv, prog_name="smtp-backend", standalone_mode=True)
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            return exit.code or 0
        return 1
    return 0
