"""A throwaway self-signed certificate for the dev server's STARTTLS.

Made with ``trustme`` when installed, else with ``cryptography``; the standard library
cannot make one.
"""

from __future__ import annotations

import ssl
import tempfile
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address
from pathlib import Path

IDENTITIES = ("localhost", "127.0.0.1", "::1")

MISSING_GENERATOR = (
    "tls=True needs a package to generate the certificate: pip install trustme (or cryptography)"
)


def server_context() -> ssl.SSLContext:
    """A server context presenting a fresh certificate for localhost, 127.0.0.1 and ::1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        import trustme
    except ImportError:
        _load_cryptography_certificate(context)
    else:
        trustme.CA().issue_cert(*IDENTITIES).configure_cert(context)
    return context


def _load_cryptography_certificate(context: ssl.SSLContext) -> None:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise RuntimeError(MISSING_GENERATOR) from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-backend devserver")])
    now = datetime.now(timezone.utc)
    alternative_names: list[x509.GeneralName] = [x509.DNSName(IDENTITIES[0])]
    alternative_names += [x509.IPAddress(ip_address(address)) for address in IDENTITIES[1:]]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # ssl loads a certificate chain only from a file; the file lives as long as this call
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "devserver.pem"
        path.write_bytes(pem)
        context.load_cert_chain(path)
