"""smtplib's envelope from a message's headers, for headers of plain addresses only.

``fast_envelope`` gives what ``envelope_addresses(msg)`` gives (``Sender`` or
``From``; ``To``, ``Bcc``, ``Cc``; the ``Resent-`` block when there is one), in one
pass over the headers and without the stdlib's address parser, when every header
it reads is a list of ``local@domain`` or ``Display Name <local@domain>`` in the
one spelling the parser reads unambiguously. Anything else returns ``None``, and
the caller asks the stdlib.
"""

from __future__ import annotations

import re
from email.message import Message

__all__ = ["fast_envelope"]

_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
# one mailbox: group 1 (bare) or group 2 (after a display name of plain words)
_MAILBOX = re.compile(rf"({_ADDRESS})|[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <({_ADDRESS})>")
_WANTED = frozenset(
    {
        "sender",
        "from",
        "to",
        "bcc",
        "cc",
        "resent-sender",
        "resent-from",
        "resent-to",
        "resent-bcc",
        "resent-cc",
    }
)


def fast_envelope(msg: Message) -> tuple[str, list[str]] | None:
    """(sender, recipients) as smtplib takes them from the headers, or ``None``."""
    first: dict[str, object] = {}
    resent_dates = 0
    for name, value in msg.raw_items():
        key = name.lower()
        if key == "resent-date":
            resent_dates += 1
        elif key in _WANTED and key not in first:
            first[key] = value  # msg[name] is the first such header
    if resent_dates > 1:
        return None  # the stdlib raises ValueError
    prefix = "resent-" if resent_dates else ""
    sender_header = first.get(prefix + "sender", first.get(prefix + "from"))
    senders = _addresses(sender_header)
    if not senders:
        return None
    recipients: list[str] = []
    for field in ("to", "bcc", "cc"):
        header = first.get(prefix + field)
        if header is not None:
            found = _addresses(header)
            if found is None:
                return None
            recipients += found
    return senders[0], recipients


def _addresses(value: object) -> list[str] | None:
    """The addr-specs of a header of plain mailboxes joined by ", ", or ``None``."""
    if not isinstance(value, str):
        return None
    found: list[str] = []
    for mailbox in str(value).split(", "):
        match = _MAILBOX.fullmatch(mailbox)
        if match is None:
            return None
        found.append(match.group(1) or match.group(2))
    return found
