"""A server certificate in words: who it names, who issued it, when it expires, and why
it failed verification (expired, wrong host name, unknown authority)."""

from __future__ import annotations

import datetime
import hashlib
import ssl
from dataclasses import dataclass
from typing import Any

_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "E",
}
_UNKNOWN_CA = (
    "unknown certificate authority: {detail} (if the server uses a private CA, "
    "trust it with --ca-file)"
)
# OpenSSL X509_V_ERR_* codes -> what they mean to someone whose mail does not go out.
_REASONS = {
    9: "the certificate is not valid yet",
    10: "the certificate has expired",
    62: "wrong host name: the certificate is not valid for {host}",
    64: "wrong IP address: the certificate is not valid for {host}",
    18: _UNKNOWN_CA.format(detail="the certificate is self-signed", host="{host}"),
    19: _UNKNOWN_CA.format(detail="a self-signed certificate in the chain", host="{host}"),
    2: _UNKNOWN_CA.format(detail="its issuer is not trusted here", host="{host}"),
    20: _UNKNOWN_CA.format(detail="its issuer is not trusted here", host="{host}"),
    21: _UNKNOWN_CA.format(detail="its issuer is not trusted here", host="{host}"),
}


@dataclass(frozen=True)
class CertificateInfo:
    """What a user checks on a certificate; ``None`` fields could not be decoded."""

    sha256: str
    subject: str | None = None
    issuer: str | None = None
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    names: tuple[str, ...] = ()  # subjectAltName entries

    def days_left(self, now: datetime.datetime | None = None) -> int | None:
        if self.not_after is None:
            return None
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return (self.not_after - now).days


def verification_failure(error: ssl.SSLCertVerificationError, host: str) -> str:
    """Why the certificate did not verify for ``host``, with OpenSSL's own words after it."""
    reason = _REASONS.get(error.verify_code)
    detail = error.verify_message or str(error)
    if reason is None:
        return f"the certificate did not verify: {detail}"
    return f"{reason.format(host=host)} ({detail})"


def peer_certificate(sock: ssl.SSLSocket) -> CertificateInfo | None:
    """The certificate the server presented; decoded fully only after a verified handshake,
    or when the ``cryptography`` package is installed."""
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    decoded = sock.getpeercert()
    if decoded:
        return _from_peer_dict(decoded, der)
    return _from_der(der)


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _from_peer_dict(cert: dict[str, Any], der: bytes) -> CertificateInfo:
    return CertificateInfo(
        sha256=_fingerprint(der),
        subject=_name(cert.get("subject", ())),
        issuer=_name(cert.get("issuer", ())),
        not_before=_time(cert.get("notBefore")),
        not_after=_time(cert.get("notAfter")),
        names=tuple(value for _, value in cert.get("subjectAltName", ())),
    )


def _name(rdns: Any) -> str:
    parts = [f"{_SHORT_NAMES.get(key, key)}={value}" for rdn in rdns for key, value in rdn]
    return ", ".join(parts)


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), datetime.timezone.utc)


def _from_der(der: bytes) -> CertificateInfo:
    """Decode with ``cryptography`` when it is installed; else only the fingerprint."""
    try:
        from cryptography import x509
    except ImportError:
        return CertificateInfo(sha256=_fingerprint(der))
    cert = x509.load_der_x509_certificate(der)
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(str(name.value) for name in extension.value)
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(
        sha256=_fingerprint(der),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        names=names,
    )
