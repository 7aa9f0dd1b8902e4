"""Per-phase time limits of one SMTP session (RFC 5321 §4.5.3.2), and a whole-call deadline.

Each limit bounds one wait: the TCP connect, the greeting, the reply to each command,
each write of message data, and the reply after the final dot. ``total`` bounds one
whole call (``connect``, ``sendmail``, ``send_many``...; for a Mailer, one ``send``) so
a server that trickles bytes just inside each limit still cannot hold a caller forever.

The defaults, one table (``DEFAULT_TIMEOUTS``) for every mailer:

=====================  ==========================================================
``Mailer``,            ``DEFAULT_TIMEOUTS`` below; ``timeout=N`` sets every phase to
``AsyncMailer``,       N (``total`` stays 300 s); ``timeouts=`` sets each phase.
Django, Flask, CLI     (The integrations' ``EMAIL_TIMEOUT``/``MAIL_TIMEOUT`` are ``timeout``.)
``SMTP``               smtplib's: ``timeout`` (default: the socket module's) for every
                       wait, no ``total``, unless ``timeouts=`` is given.
``AsyncSMTP``          60 s for every wait (aiosmtplib's default), no ``total``,
                       unless ``timeout=`` or ``timeouts=`` is given.
=====================  ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

Phase = Literal["connect", "greeting", "command", "data_block", "data_final"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds for each phase (``None``: wait forever); ``total`` bounds a whole call.

    RFC 5321 suggests minutes (greeting 5, data block 3, final reply 10); those suit
    relays, not a web worker holding a request, so the defaults are far shorter.
    """

    connect: float | None = 10.0
    greeting: float | None = 30.0
    command: float | None = 30.0
    data_block: float | None = 60.0
    data_final: float | None = 120.0
    total: float | None = 300.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(
                    f"Timeouts.{field.name} must be a positive number of seconds or None, "
                    f"not {value!r}"
                )
            if value is not None and math.isinf(value):
                raise ValueError(f"Timeouts.{field.name}: use None, not infinity, for no limit")

    @classmethod
    def every(cls, seconds: float | None, *, total: float | None = None) -> Timeouts:
        """The same limit for every phase (smtplib's ``timeout``), and ``total`` for a call."""
        return cls(seconds, seconds, seconds, seconds, seconds, total)

    def phase(self, name: Phase) -> float | None:
        value: float | None = getattr(self, name)
        return value


#: What a Mailer and an AsyncMailer use unless told otherwise (see the table above).
DEFAULT_TIMEOUTS = Timeouts()

__all__ = ["DEFAULT_TIMEOUTS", "Phase", "Timeouts"]
