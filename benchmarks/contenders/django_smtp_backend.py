"""This project's Django backend: the same ``send_messages`` call as Django's own backend.

One connection (``pool_size=1``), as every contender; the shared Mailer is closed after
each call, so each timed call pays for its connection as Django's backend does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import Contender, module_missing
from .django_smtp import TIMEOUT, to_django

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
if str(INTEGRATIONS) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.append(str(INTEGRATIONS))


def send(messages: Iterable[Any], host: str, port: int) -> int:
    from django_smtp_backend import EmailBackend, close_shared_mailers

    backend = EmailBackend(
        host=host,
        port=port,
        username="",
        password="",
        use_tls=False,
        use_ssl=False,
        timeout=TIMEOUT,
        pool_size=1,
    )
    try:
        return int(backend.send_messages(messages))
    finally:
        close_shared_mailers()


CONTENDERS = [
    Contender(
        "django_smtp_backend EmailBackend",
        send,
        module_missing("django_smtp_backend", "django or django_smtp_backend not importable"),
        to_django,
    )
]
