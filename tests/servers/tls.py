"""A throwaway certificate authority and the TLS contexts built from it."""

from __future__ import annotations

import ssl

import trustme

SERVER_IDENTITIES = ("localhost", "127.0.0.1")


class LoopbackPKI:
    """A trustme CA plus one server certificate valid for ``localhost`` and ``127.0.0.1``."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert(*SERVER_IDENTITIES)

    def server_context(self) -> ssl.SSLContext:
        """A fresh server-side context presenting the loopback certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A fresh verifying client context that trusts only this CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and host name
        self.ca.configure_trust(context)
        return context
