"""The EHLO reply -> the server's extensions (RFC 1869), parsed as smtplib does.

The server's text is untrusted: a parameter the engine cannot use is ignored (and
logged at debug level), never an exception that would stop a send.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

_OLDSTYLE_AUTH = re.compile(r"auth=(.*)", re.I)
_KEYWORD = re.compile(r"(?P<feature>[A-Za-z0-9][A-Za-z0-9\-]*) ?")
# ASCII digits only (str.isdigit() accepts "\xb2"), and few enough for int() to take.
_SIZE = re.compile(r"[0-9]{1,20}")

logger = logging.getLogger("smtp_backend")


def parse_ehlo_features(message: bytes) -> dict[str, str]:
    """smtplib's ``esmtp_features``: lower-case keyword -> its parameters as a string."""
    features: dict[str, str] = {}
    for line in message.decode("latin-1").split("\n")[1:]:
        auth_match = _OLDSTYLE_AUTH.match(line)
        if auth_match:
            features["auth"] = features.get("auth", "") + " " + auth_match.group(1)
            continue
        match = _KEYWORD.match(line)
        if match:
            feature = match["feature"].lower()
            params = line[match.end("feature") :].strip()
            if feature == "auth":
                features["auth"] = features.get("auth", "") + " " + params
            else:
                features[feature] = params
    return features


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What the engine needs to know of the server to plan a transaction."""

    esmtp: bool = False
    pipelining: bool = False
    chunking: bool = False
    smtputf8: bool = False
    eightbitmime: bool = False
    size_limit: int | None = None  # None: no SIZE; 0: SIZE without a fixed limit
    enhanced_status_codes: bool = False
    dsn: bool = False
    requiretls: bool = False
    lmtp: bool = False
    tls_verified: bool = False  # the driver's word: TLS with a verified certificate and name

    @classmethod
    def from_esmtp(
        cls,
        features: dict[str, str],
        *,
        esmtp: bool,
        lmtp: bool = False,
        tls_verified: bool = False,
    ) -> ServerFeatures:
        size = _size_limit(features["size"]) if "size" in features else None
        return cls(
            esmtp=esmtp,
            pipelining=esmtp and "pipelining" in features,
            chunking=esmtp and "chunking" in features,
            smtputf8=esmtp and "smtputf8" in features,
            eightbitmime=esmtp and "8bitmime" in features,
            size_limit=size if esmtp else None,
            enhanced_status_codes=esmtp and "enhancedstatuscodes" in features,
            dsn=esmtp and "dsn" in features,
            requiretls=esmtp and "requiretls" in features,
            lmtp=lmtp,
            tls_verified=tls_verified,
        )


def _size_limit(parameters: str) -> int:
    """RFC 1870's SIZE parameter; 0 (no fixed limit) when absent or unusable."""
    text = parameters.split(" ", 1)[0]
    if not text:
        return 0
    if _SIZE.fullmatch(text) is None:
        logger.debug("ignoring the server's unusable SIZE parameter %r", parameters[:80])
        return 0
    return int(text)
