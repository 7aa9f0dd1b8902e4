"""Running the command line in-process (click's CliRunner) and against the test servers."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner, Result

from smtp_backend.cli.app import cli
from tests.servers import LoopbackPKI, RecordingSMTPServer, SMTPServerOptions

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``invoke("send", "--to", ...)``: the command's Result (exit_code, stdout, stderr)."""
    for name in ("SMTP_BACKEND_URL", "SMTP_BACKEND_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def run(
        *args: str, input: bytes | str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def ca_file(loopback_pki: LoopbackPKI, tmp_path: Path) -> str:
    """The test CA as a PEM file, for --ca-file."""
    path = tmp_path / "ca.pem"
    loopback_pki.ca.cert_pem.write_to_path(str(path))
    return str(path)


class CertificatePKI(LoopbackPKI):
    """A CA whose server certificate has the given names and validity."""

    def __init__(self, *identities: str, **certificate: Any) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert(*identities, **certificate)


@pytest.fixture
def starttls_server_with(
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[RecordingSMTPServer, str]]]:
    """``starttls_server_with(*names, not_after=...)``: a STARTTLS server and its CA file."""
    servers: list[RecordingSMTPServer] = []

    def start(*identities: str, **certificate: Any) -> tuple[RecordingSMTPServer, str]:
        pki = CertificatePKI(*identities, **certificate)
        server = RecordingSMTPServer(SMTPServerOptions(tls="starttls", auth=True), pki)
        servers.append(server.start())
        path = tmp_path / f"ca{len(servers)}.pem"
        pki.ca.cert_pem.write_to_path(str(path))
        return server, str(path)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
