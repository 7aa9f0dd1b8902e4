"""The ``--debug`` transcript: the client's debug output, with every credential redacted.

The client already prints ``<credentials redacted>`` for the lines that carry a secret;
this is the second lock: any secret, or its base64 form, that reaches the stream anyway
is replaced before it is written.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TextIO

from ..protocol.sasl import plain_response

REDACTED = "***"


def secret_forms(user: str | None, secrets: Iterable[str]) -> list[str]:
    """Each secret as it could appear in a transcript: as is, base64, inside AUTH PLAIN."""
    forms: list[str] = []
    for secret in secrets:
        forms.append(secret)
        forms.append(base64.b64encode(secret.encode()).decode())
        if user and "\x00" not in user + secret:  # PLAIN refuses NUL before sending anything
            forms.append(base64.b64encode(plain_response(user, secret)).decode())
    return sorted({form for form in forms if form}, key=len, reverse=True)


class RedactingStream:
    """A text stream that writes to ``target`` with every form of each secret replaced."""

    def __init__(self, target: TextIO, forms: Iterable[str]) -> None:
        self._target = target
        self._forms = list(forms)

    def write(self, text: str) -> int:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()
