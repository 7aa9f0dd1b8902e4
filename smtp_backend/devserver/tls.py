"""The dev server's certificate authority: a CA kept in a directory, and a server
certificate it issues for localhost, 127.0.0.1 and ::1 at each start.

Clients trust ``<dir>/ca.pem`` (``ca_file=``, ``ssl_cafile``, ``MAIL_CA_FILE``,
``--ca-file``) and so verify the dev server as they would a real one. Given no
directory, the CA lives in a temporary one for as long as the server runs.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

IDENTITIES = ("localhost", "127.0.0.1", "::1")
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"

MISSING_GENERATOR = "tls=True needs trustme to make certificates: pip install 'smtp-backend[dev]'"


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise RuntimeError(MISSING_GENERATOR) from None
    return trustme


def certificate_authority(directory: Path) -> Path:
    """The CA certificate in ``directory`` (made there on first use); returns its path."""
    trustme = _trustme()
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / CA_FILE, directory / CA_KEY_FILE
    if not (certificate.exists() and key.exists()):
        ca = trustme.CA(organization_name="smtp-backend devserver")
        key.touch(mode=0o600)  # private from the first byte
        key.write_bytes(ca.private_key_pem.bytes())
        certificate.write_bytes(ca.cert_pem.bytes())
    return certificate


def server_context(directory: Path) -> ssl.SSLContext:
    """A server context presenting a certificate, for the dev server's names, from the CA
    in ``directory``."""
    trustme = _trustme()
    certificate_authority(directory)
    ca = trustme.CA.from_pem(
        (directory / CA_FILE).read_bytes(), (directory / CA_KEY_FILE).read_bytes()
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*IDENTITIES).configure_cert(context)
    return context
