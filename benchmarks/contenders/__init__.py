"""The contenders: each module names its own ``CONTENDERS``; add one by adding a module.

A contender turns the shared list of ``EmailMessage`` objects into what its library
takes (untimed), then sends them over one connection and returns how many were sent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

# the order of the rows in the results; smtplib first, the baseline of every ratio
MODULES = (
    "stdlib_smtplib",
    "aiosmtplib_client",
    "django_smtp",
    "django_smtp_backend",
    "flask_mail_ext",
    "flask_smtp_backend",
    "smtp_backend_client",
)
BASELINE = "smtplib"
# our framework integration -> the framework's own mail path it replaces (ratio ours/peer)
PEERS = {
    "django_smtp_backend EmailBackend": "Django smtp.EmailBackend",
    "flask_smtp_backend Mail": "Flask-Mail",
}


@dataclass(frozen=True)
class Contender:
    """One row of the results.

    ``missing()`` says why the contender cannot run here (None when it can);
    ``prepare`` converts the messages before the clock starts; ``send(items, host, port)``
    sends ``items`` (an iterable, possibly cut short by the harness's time box) over
    one connection and returns how many messages the server accepted.
    """

    name: str
    send: Callable[[Iterable[Any], str, int], int]
    missing: Callable[[], str | None] = lambda: None
    prepare: Callable[[Sequence[EmailMessage]], Sequence[Any]] = lambda messages: messages


def module_missing(module: str, note: str) -> Callable[[], str | None]:
    """A ``missing`` check that imports ``module`` and reports ``note`` if that fails."""

    def missing() -> str | None:
        try:
            importlib.import_module(module)
        except Exception as error:  # any import failure means: cannot run here
            return f"{note} ({type(error).__name__}: {error})"
        return None

    return missing


def all_contenders() -> list[Contender]:
    found: list[Contender] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        found.extend(module.CONTENDERS)
    return found
