"""Delivery status notifications (RFC 3461) and REQUIRETLS (RFC 8689) as ESMTP parameters.

``DSN`` says, per message and optionally per recipient, which notifications the
sender wants; the engine turns it into MAIL (RET, ENVID) and RCPT (NOTIFY, ORCPT)
parameters, xtext-encoded, only when the server advertises DSN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import SMTPInvalidInputError

_NOTIFY_WORDS = frozenset({"SUCCESS", "FAILURE", "DELAY"})


def xtext(value: str) -> str:
    """RFC 3461 §4 xtext: '+', '=' and anything outside '!'..'~' as '+XX' (UTF-8 octets)."""
    out: list[str] = []
    for octet in value.encode("utf-8"):
        if 33 <= octet <= 126 and octet not in (43, 61):
            out.append(chr(octet))
        else:
            out.append(f"+{octet:02X}")
    return "".join(out)


def utf8_addr_xtext(value: str) -> str:
    """RFC 6533 §3 utf-8-addr-xtext: '\\x{HEX}' for non-ASCII, controls, '+', '=' and '\\'."""
    return "".join(
        char if "!" <= char <= "~" and char not in "+=\\" else f"\\x{{{ord(char):X}}}"
        for char in value
    )


def _notify_value(notify: str | Iterable[str]) -> str:
    words = [notify] if isinstance(notify, str) else list(notify)
    upper = [w.upper() for w in words]
    if upper == ["NEVER"]:
        return "NEVER"
    if not upper or not set(upper) <= _NOTIFY_WORDS or len(set(upper)) != len(upper):
        raise SMTPInvalidInputError(
            f"DSN notify must be 'NEVER' or some of SUCCESS, FAILURE, DELAY, not {words!r}"
        )
    return ",".join(upper)


@dataclass(frozen=True, slots=True)
class RecipientDSN:
    """One recipient's notification request: overrides the message's ``notify``/``orcpt``."""

    notify: str | tuple[str, ...] | None = None
    orcpt: str | None = None  # the original recipient address, reported back in the DSN


@dataclass(frozen=True, slots=True)
class DSN:
    """Which delivery status notifications to ask for (RFC 3461).

    ``notify``: "NEVER" or any of ("SUCCESS", "FAILURE", "DELAY"); ``ret``: "FULL" or
    "HDRS"; ``envid``: an identifier returned in the notifications; ``orcpt``: send
    each recipient's address as ORCPT; ``recipients``: per-recipient overrides.
    ``required``: when False and the server lacks DSN, send without it instead of failing.
    """

    notify: str | tuple[str, ...] | None = None
    ret: str | None = None
    envid: str | None = None
    orcpt: bool = False
    recipients: Mapping[str, RecipientDSN] = field(default_factory=dict)
    required: bool = True

    def mail_parameters(self) -> list[str]:
        params: list[str] = []
        if self.ret is not None:
            if self.ret.upper() not in ("FULL", "HDRS"):
                raise SMTPInvalidInputError(f"DSN ret must be 'FULL' or 'HDRS', not {self.ret!r}")
            params.append(f"RET={self.ret.upper()}")
        if self.envid is not None:
            params.append(f"ENVID={xtext(self.envid)}")
        return params

    def rcpt_parameters(self, recipient: str) -> list[str]:
        override = self.recipients.get(recipient)
        notify = override.notify if override and override.notify is not None else self.notify
        params = [] if notify is None else [f"NOTIFY={_notify_value(notify)}"]
        original = override.orcpt if override and override.orcpt is not None else None
        if original is None and self.orcpt:
            original = recipient
        if original is not None:
            if original.isascii():
                params.append(f"ORCPT=rfc822;{xtext(original)}")
            else:
                params.append(f"ORCPT=utf-8;{utf8_addr_xtext(original)}")
        return params
