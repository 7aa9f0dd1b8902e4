"""SASL mechanisms as pure functions: credentials and challenges in, raw responses out.

Every ``*_response`` function returns the RAW response bytes; the client base64-encodes
them with :func:`encode_sasl`. Credentials are encoded as UTF-8 (smtplib's ASCII-only
CRAM-MD5 fails on non-ASCII passwords; RFC 4616 and RFC 2195 implementations expect
UTF-8).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable

from smtp_backend.errors import SMTPInvalidInputError

__all__ = [
    "OAUTH_ERROR_ACK",
    "PREFERRED_MECHANISMS",
    "SASLChallengeError",
    "choose_mechanism",
    "cram_md5_response",
    "decode_challenge",
    "encode_sasl",
    "oauth_error_ack",
    "oauthbearer_response",
    "plain_response",
    "validate_credential",
    "xoauth2_response",
]

#: The order smtplib's ``login()`` tries mechanisms in.
PREFERRED_MECHANISMS: tuple[str, ...] = ("CRAM-MD5", "PLAIN", "LOGIN")

#: What an OAUTHBEARER client answers to the server's JSON error challenge (RFC 7628 3.2.3).
OAUTH_ERROR_ACK = b"\x01"

# Fields that are secrets may hold NUL (no mechanism here uses it as a separator after
# them); identities may not, since PLAIN separates authzid/user/password with NUL.
_SECRET_FIELDS = frozenset({"password", "token"})
_IDENTITY_FORBIDDEN = (("\x00", "NUL"), ("\r", "CR"), ("\n", "LF"))
_SECRET_FORBIDDEN = (("\r", "CR"), ("\n", "LF"))


class SASLChallengeError(ValueError):
    """A 334 reply's text is not valid base64, so there is no challenge to answer."""


def validate_credential(value: str, what: str) -> None:
    """Raise :class:`SMTPInvalidInputError` if ``value`` could corrupt the exchange.

    ``what`` names the field in the message. ``"password"`` and ``"token"`` may not
    hold CR or LF; any other field (user name, authzid) may not hold NUL, CR or LF.
    No field may hold a lone surrogate (it has no UTF-8 encoding).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    forbidden = _SECRET_FORBIDDEN if what in _SECRET_FIELDS else _IDENTITY_FORBIDDEN
    for char, name in forbidden:
        if char in value:
            raise SMTPInvalidInputError(
                f"{what} contains a {name} character, which would corrupt the "
                "authentication exchange; nothing was sent"
            )
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise SMTPInvalidInputError(
                f"{what} holds a lone surrogate and cannot be sent as UTF-8; nothing was sent"
            ) from None


def plain_response(user: str, password: str, authzid: str = "") -> bytes:
    """PLAIN (RFC 4616): ``authzid NUL user NUL password`` in UTF-8.

    Raises :class:`SMTPInvalidInputError` if any part holds NUL, the separator.
    """
    for value, what in ((authzid, "authzid"), (user, "user"), (password, "password")):
        if "\x00" in value:
            raise SMTPInvalidInputError(
                f"{what} contains a NUL character, the PLAIN field separator; nothing was sent"
            )
    return f"{authzid}\x00{user}\x00{password}".encode()


def cram_md5_response(user: str, password: str, challenge: bytes) -> bytes:
    """CRAM-MD5 (RFC 2195): ``user SP hex(HMAC-MD5(password, challenge))`` in UTF-8."""
    digest = hmac.new(password.encode(), challenge, "md5").hexdigest()
    return user.encode() + b" " + digest.encode("ascii")


def xoauth2_response(user: str, token: str) -> bytes:
    """XOAUTH2 (Google/Microsoft): ``user=U ^A auth=Bearer T ^A ^A``."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _gs2_escape(name: str) -> str:
    # RFC 5801 saslname: "=" first, or the "=2C" it produces would be escaped again.
    return name.replace("=", "=3D").replace(",", "=2C")


def oauthbearer_response(
    user: str, token: str, host: str | None = None, port: int | None = None
) -> bytes:
    """OAUTHBEARER (RFC 7628): GS2 header ``n,a=USER,`` then host, port and bearer token."""
    authzid = f"a={_gs2_escape(user)}" if user else ""
    parts = [f"n,{authzid},"]
    if host is not None:
        parts.append(f"host={host}")
    if port is not None:
        parts.append(f"port={port}")
    parts.append(f"auth=Bearer {token}")
    return ("\x01".join(parts) + "\x01\x01").encode()


def oauth_error_ack(mechanism: str) -> bytes:
    """The response that ends a failed OAuth exchange so the server sends its final error.

    OAUTHBEARER answers the JSON error challenge with ``\\x01``; XOAUTH2 with an empty
    response.
    """
    name = mechanism.upper()
    if name == "OAUTHBEARER":
        return OAUTH_ERROR_ACK
    if name == "XOAUTH2":
        return b""
    raise ValueError(f"{mechanism!r} is not an OAuth mechanism")


def encode_sasl(raw: bytes, *, initial: bool = True) -> str:
    """Base64 of ``raw`` as an ASCII str, without line breaks.

    An empty initial response is ``"="`` (RFC 4954 section 4); pass ``initial=False``
    for the answer to a challenge, where an empty response is an empty line.
    """
    if not raw:
        return "=" if initial else ""
    return base64.b64encode(raw).decode("ascii")


def decode_challenge(text: bytes) -> bytes:
    """The challenge carried by a 334 reply's text (base64; surrounding space ignored).

    Raises :class:`SASLChallengeError` when the text is not base64. Missing ``=``
    padding is tolerated, since some servers omit it.
    """
    data = text.strip()
    if not data:
        return b""
    if len(data) % 4:
        data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SASLChallengeError(f"server challenge is not base64: {text[:80]!r}") from exc


def choose_mechanism(
    advertised: Iterable[str], preferred: Iterable[str] = PREFERRED_MECHANISMS
) -> list[str]:
    """The advertised mechanisms we support, in ``preferred`` order, upper-cased.

    Matching is case-insensitive (smtplib's is not; RFC 4954 names are case-insensitive).
    """
    offered = {name.upper() for name in advertised}
    chosen: list[str] = []
    for name in preferred:
        upper = name.upper()
        if upper in offered and upper not in chosen:
            chosen.append(upper)
    return chosen
