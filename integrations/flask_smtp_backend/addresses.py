"""Flask-Mail's address forms (``"a@b"``, ``"Name <a@b>"``, ``("Name", "a@b")``) -> the envelope."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from .sanitize import AddressLike, split_address


@lru_cache(maxsize=4096)  # the same addresses recur in every message: parse each once
def _name_and_address(value: AddressLike) -> tuple[str, str]:
    name, address = split_address(value)
    return str(name), str(address)


def _ascii_domain(domain: str) -> str:
    """An internationalised domain in its IDNA (punycode) form, as Flask-Mail sends it."""
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def envelope_address(value: AddressLike) -> str:
    """The bare address for MAIL FROM / RCPT TO (a non-ASCII local part needs SMTPUTF8).

    Raises ``ValueError`` for text that holds no address, which would become ``<>``.
    """
    _, address = _name_and_address(value)
    if not address and as_text(value).strip():
        raise ValueError(f"{as_text(value)!r} is not an email address")
    username, at, domain = address.rpartition("@")
    return f"{username}@{_ascii_domain(domain)}" if at else address


def unique(values: Iterable[AddressLike]) -> list[AddressLike]:
    """``values`` without repeated addresses, first kept (Flask-Mail's set loses the order)."""
    seen: set[str] = set()
    kept: list[AddressLike] = []
    for value in values:
        marker = envelope_address(value).lower()
        if marker not in seen:
            seen.add(marker)
            kept.append(value)
    return kept


def as_text(value: AddressLike) -> str:
    """The form Flask-Mail checks for newlines: a tuple becomes ``"Name <address>"``."""
    return f"{value[0]} <{value[1]}>" if isinstance(value, tuple) else str(value)


def has_newline(text: str) -> bool:
    return "\n" in text or "\r" in text
