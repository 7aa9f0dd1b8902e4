"""The rich consoles the commands write to: results on stdout, progress and transcripts on stderr."""

from __future__ import annotations

from rich.console import Console


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); colours only on a terminal.

    Piped, tables fit rich's default width ($COLUMNS, else 80) and a plain line is never
    wrapped (soft wrap), so ``grep`` finds it whole.
    """
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, no_color=True, soft_wrap=True)
