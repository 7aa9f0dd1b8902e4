"""Fixtures over the in-process test servers (see tests/servers/)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from tests.servers import LoopbackPKI, RecordingSMTPServer, ScriptedServer, SMTPServerOptions

SMTPServerFactory = Callable[..., RecordingSMTPServer]


@pytest.fixture(scope="session")
def loopback_pki() -> LoopbackPKI:
    """The session's CA and its server certificate for ``localhost`` and ``127.0.0.1``."""
    return LoopbackPKI()


@pytest.fixture(scope="session")
def tls_ca(loopback_pki: LoopbackPKI) -> trustme.CA:
    return loopback_pki.ca


@pytest.fixture
def client_ssl_context(loopback_pki: LoopbackPKI) -> ssl.SSLContext:
    """A verifying client context that trusts only the test CA."""
    return loopback_pki.client_context()


@pytest.fixture
def smtp_server_factory(loopback_pki: LoopbackPKI) -> Iterator[SMTPServerFactory]:
    """``smtp_server_factory(**SMTPServerOptions fields)`` starts a server; all stop at teardown."""
    servers: list[RecordingSMTPServer] = []

    def start(**options: Any) -> RecordingSMTPServer:
        server = RecordingSMTPServer(SMTPServerOptions(**options), loopback_pki)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: SMTPServerFactory) -> RecordingSMTPServer:
    """Plain SMTP with PIPELINING, SMTPUTF8 and 8BITMIME."""
    return smtp_server_factory()


@pytest.fixture
def starttls_server(smtp_server_factory: SMTPServerFactory) -> RecordingSMTPServer:
    return smtp_server_factory(tls="starttls")


@pytest.fixture
def smtps_server(smtp_server_factory: SMTPServerFactory) -> RecordingSMTPServer:
    """TLS from the first byte (port-465 style)."""
    return smtp_server_factory(tls="implicit")


@pytest.fixture
def auth_server(smtp_server_factory: SMTPServerFactory) -> RecordingSMTPServer:
    """AUTH over plain text, required before MAIL; credentials in tests.servers.AUTH_*."""
    return smtp_server_factory(auth=True)


@pytest.fixture
def chunking_server(smtp_server_factory: SMTPServerFactory) -> RecordingSMTPServer:
    return smtp_server_factory(chunking=True)


@pytest.fixture
def scripted_server(loopback_pki: LoopbackPKI) -> Iterator[ScriptedServer]:
    """A ScriptedServer; queue each connection's script with ``.play(...)``."""
    with ScriptedServer(ssl_context=loopback_pki.server_context()) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
