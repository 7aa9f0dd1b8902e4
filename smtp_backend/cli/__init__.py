"""The ``smtp-backend`` command line (also ``python -m smtp_backend``): send, check, devserver.

It needs the ``cli`` extra (click and rich), imported only here and only when the
command runs, so the core keeps zero dependencies.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

MISSING_EXTRA = (
    "smtp-backend: the command line needs the 'cli' extra ({missing} is not installed).\n"
    "Install it with:  pip install 'smtp-backend[cli]'"
)
#: Exit status for a usage error or a connection that could not be made (as click's usage errors).
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError as exc:
        print(MISSING_EXTRA.format(missing=exc.name or "a dependency"), file=sys.stderr)
        return EXIT_USAGE
    from .app import run

    return run(list(sys.argv[1:] if argv is None else argv))


__all__ = ["main"]
