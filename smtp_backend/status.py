"""Reply codes users can act on: permanent, temporary or unknown (RFC 5321 §4.2.1, RFC 3463).

The retry logic and the framework integrations decide with these, so "retry a 4xx,
never a 5xx, never resend an unknown" is written once.
"""

from __future__ import annotations

import enum

EnhancedCode = tuple[int, int, int]


class Classification(str, enum.Enum):
    """What a failure means for sending the message again."""

    PERMANENT = "permanent"  # 5xx: sending it again as it is will fail again
    TEMPORARY = "temporary"  # 4xx, or a connection lost before the data: try again later
    UNKNOWN = "unknown"  # no usable reply, or lost after the data: it may have been delivered


def classify(code: int) -> Classification | None:
    """The classification of a reply code; None for a positive (2xx/3xx) reply."""
    if 200 <= code < 400:
        return None
    if 400 <= code < 500:
        return Classification.TEMPORARY
    if 500 <= code < 600:
        return Classification.PERMANENT
    return Classification.UNKNOWN


# The RFC 3463 codes users meet most, with what they usually mean in practice.
ENHANCED_STATUS_TEXT: dict[tuple[int, int], str] = {
    (0, 0): "other or undefined status",
    (1, 0): "other address status",
    (1, 1): "bad destination mailbox address (no such user)",
    (1, 2): "bad destination system address (no such domain)",
    (1, 3): "bad destination mailbox address syntax",
    (1, 6): "destination mailbox has moved",
    (1, 7): "bad sender's mailbox address syntax",
    (1, 8): "bad sender's system address",
    (1, 10): "recipient address has a null MX",
    (2, 0): "other or undefined mailbox status",
    (2, 1): "mailbox disabled, not accepting messages",
    (2, 2): "mailbox full",
    (2, 3): "message length exceeds administrative limit",
    (3, 0): "other or undefined mail system status",
    (3, 1): "mail system full",
    (3, 4): "message too big for system",
    (4, 0): "other or undefined network or routing status",
    (4, 1): "no answer from host",
    (4, 4): "unable to route",
    (4, 7): "delivery time expired",
    (5, 0): "other or undefined protocol status",
    (5, 1): "invalid command",
    (5, 2): "syntax error",
    (5, 3): "too many recipients",
    (5, 4): "invalid command arguments",
    (6, 0): "other or undefined media error",
    (6, 3): "conversion required but not supported",
    (6, 7): "non-ASCII addresses not permitted for that sender/recipient (SMTPUTF8 needed)",
    (7, 0): "other or undefined security status (often: throttled or policy)",
    (7, 1): "delivery not authorized, message refused (policy, reputation or spam)",
    (7, 8): "authentication credentials invalid",
    (7, 9): "authentication mechanism too weak",
    (7, 10): "encryption needed",
    (7, 11): "encryption required for requested authentication mechanism",
    (7, 14): "trust relationship required",
    (7, 23): "SPF validation failed",
    (7, 25): "reverse DNS validation failed",
    (7, 26): "multiple authentication checks failed (SPF/DKIM/DMARC)",
    (7, 30): "REQUIRETLS support required",
}


def describe_enhanced(enhanced: EnhancedCode | None) -> str | None:
    """A short explanation of an enhanced status code such as (5, 1, 1), if it is known."""
    if enhanced is None:
        return None
    return ENHANCED_STATUS_TEXT.get((enhanced[1], enhanced[2]))
