"""DKIM signing (RFC 6376, RFC 8463) of the exact bytes that go on the wire, with dkimpy.

``DKIM(domain, selector, private_key)`` is given to a ``Mailer`` (and so to both
framework integrations); each message is serialised once, signed, and sent as
those bytes. dkimpy is the optional extra ``smtp-backend[dkim]``.
"""

from __future__ import annotations

import dataclasses
import email.message
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import normalize_line_endings
from ..protocol.message import message_to_envelope
from ..results import Envelope

ALGORITHMS = ("rsa-sha256", "ed25519-sha256")
# RFC 6376 §5.4.1's recommended set, those present in the message are signed.
DEFAULT_HEADERS = (
    "From", "Reply-To", "Subject", "Date", "To", "Cc", "Resent-Date", "Resent-From",
    "Resent-To", "Resent-Cc", "In-Reply-To", "References", "List-Id", "List-Help",
    "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
    "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
)  # fmt: skip


def _dkimpy() -> Any:
    try:
        return importlib.import_module("dkim")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("DKIM signing needs dkimpy: pip install 'smtp-backend[dkim]'") from exc


@dataclass(frozen=True)
class DKIM:
    """A signing key: ``private_key`` is PEM text/bytes (RSA) or the base64 seed (Ed25519),
    or a path to a file holding it."""

    domain: str
    selector: str
    private_key: bytes | str | Path
    headers: Sequence[str] = DEFAULT_HEADERS
    algorithm: str = "rsa-sha256"
    identity: str | None = None
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"DKIM algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}")
        key = self.private_key
        if isinstance(key, Path) or (
            isinstance(key, str) and "-----BEGIN" not in key and Path(key).is_file()
        ):
            key = Path(key).read_bytes()
        object.__setattr__(self, "_key", key.encode() if isinstance(key, str) else key)
        _dkimpy()  # fail now, not at the first send, when the extra is missing

    def signature(self, data: bytes) -> bytes:
        """The ``DKIM-Signature:`` header field (CRLF-terminated) for ``data``."""
        dkim = _dkimpy()
        present = _header_names(data)
        headers = [h.encode() for h in self.headers if h.lower() in present]
        return bytes(
            dkim.sign(
                data,
                self.selector.encode(),
                self.domain.encode(),
                self._key,
                identity=self.identity.encode() if self.identity else None,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=self.algorithm.encode(),
                include_headers=headers,
            )
        )

    def sign(self, data: bytes) -> bytes:
        """``data`` with CRLF line endings and its DKIM-Signature header prepended."""
        canonical = normalize_line_endings(data)
        return self.signature(canonical) + canonical

    def sign_item(self, item: Envelope | email.message.Message) -> Envelope:
        """A batch item as an Envelope whose data is signed; the envelope is unchanged."""
        if isinstance(item, Envelope):
            return dataclasses.replace(item, data=self.sign(item.data))
        envelope = message_to_envelope(item, server_smtputf8=True)
        return dataclasses.replace(
            envelope, data=self.sign(envelope.data), message_id=item.get("Message-ID")
        )


def _header_names(data: bytes) -> set[str]:
    head = data.split(b"\r\n\r\n", 1)[0]
    names = set()
    for line in head.split(b"\r\n"):
        if line and line[:1] not in (b" ", b"\t") and b":" in line:
            names.add(line.split(b":", 1)[0].strip().decode("ascii", "replace").lower())
    return names
