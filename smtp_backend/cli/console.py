"""The rich consoles the commands write to: results on stdout, progress and transcripts on stderr."""

from __future__ import annotations

from rich.console import Console

#: Columns used when the output is not a terminal (a pipe, a file, a test): wide, never wrapped.
PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); colours only on a terminal."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, width=PIPE_WIDTH, no_color=True)
