"""pytest plugin (entry point ``pytest11``): a real SMTP server per test, and an outbox.

Fixtures:

``smtp_server``
    A :class:`SMTPTestServer` (the dev server, no web inbox) on a free loopback port.
    Options with ``@pytest.mark.smtp_server(tls=True, auth=("user", "pass"),
    chunking=False, smtputf8=False, size_limit=1000)``. ``server.messages`` holds every
    message received (envelope, raw ``data``, parsed helpers); with ``tls=True``
    ``server.ca_file`` is its CA certificate; ``server.url`` (carrying ``ca_file``) and
    ``server.mailer()`` connect to it, verifying it.
``smtp_server_factory``
    ``smtp_server_factory(**options)`` starts another server; all stop after the test.
``smtp_outbox``
    Every ``Mailer`` and ``AsyncMailer`` of the process captures instead of sending or
    opening a connection during the test; the list holds each
    :class:`~smtp_backend.CapturedMessage`. Django's backend puts the same messages in
    ``django.core.mail.outbox``.

A project's own ``conftest.py`` fixtures of the same names take precedence, as
conftest fixtures always do over a plugin's. The server fixtures need the ``dev``
extra (aiosmtpd, trustme), imported only when one is used.
"""

from __future__ import annotations

import functools
import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .mailer import Mailer
from .mailer.capture import CapturedMessage

if TYPE_CHECKING:
    from .devserver import DevServer

__all__ = ["Outbox", "smtp_outbox", "smtp_server", "smtp_server_factory"]

MARKER = "smtp_server"
SERVER_IDENTITIES = ("localhost", "127.0.0.1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the smtp_server fixture "
        "(tls, auth, chunking, smtputf8, size_limit, maildir, on_message)",
    )


DEV_EXTRA = (
    "the smtp_server fixtures need the 'dev' extra (aiosmtpd and trustme): "
    "pip install 'smtp-backend[dev]'"
)


@functools.cache
def _server_class() -> type[DevServer]:
    """SMTPTestServer, defined on first use: the dev server imports aiosmtpd."""
    try:
        from .devserver import DevServer
    except ImportError:
        raise pytest.UsageError(DEV_EXTRA) from None

    class SMTPTestServer(DevServer):
        """The dev server for a test: free loopback port, no web inbox, quiet.

        With ``tls=True`` STARTTLS presents a certificate from a CA of its own, whose
        certificate is ``ca_file`` (``url`` carries it); with ``auth=(user, password)``
        AUTH is required.
        """

        def __init__(self, **options: Any) -> None:
            options.setdefault("port", 0)
            options.setdefault("quiet", True)
            try:
                super().__init__(web_port=None, **options)
            except RuntimeError as exc:  # tls=True without trustme
                raise pytest.UsageError(f"{exc}") from None

        def client_context(self) -> ssl.SSLContext:
            """A verifying client context that trusts this server's certificate."""
            if self.ca_file is None:
                raise RuntimeError("this server has no TLS: mark the test smtp_server(tls=True)")
            return ssl.create_default_context(cafile=str(self.ca_file))

        @property
        def url(self) -> str:
            """A Mailer URL for this server: STARTTLS trusting ``ca_file`` when it offers TLS,
            its credentials when it requires AUTH."""
            scheme = "smtp+starttls" if self.ca_file is not None else "smtp"
            userinfo = ""
            if self.auth is not None:
                user, password = (urllib.parse.quote(part, safe="") for part in self.auth)
                userinfo = f"{user}:{password}@"
            query = ""
            if self.ca_file is not None:
                query = "?" + urllib.parse.urlencode({"ca_file": str(self.ca_file)})
            return f"{scheme}://{userinfo}{self.host}:{self.port}{query}"

        def mailer(self, **options: Any) -> Mailer:
            """A Mailer for this server (close it, or use it in a ``with`` block)."""
            return Mailer.from_url(self.url, **options)

    return SMTPTestServer


def __getattr__(name: str) -> object:
    if name == "SMTPTestServer":
        return _server_class()
    raise AttributeError(f"module 'smtp_backend.testing' has no attribute {name!r}")


ServerFactory = Callable[..., "DevServer"]


@pytest.fixture
def _smtp_backend_servers() -> Iterator[ServerFactory]:
    """Starts servers; stops each after the test (internal: the public names may be overridden)."""
    servers: list[DevServer] = []

    def start(**options: Any) -> DevServer:
        server = _server_class()(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server_factory(_smtp_backend_servers: ServerFactory) -> ServerFactory:
    """``smtp_server_factory(tls=..., auth=..., ...)``: another running SMTPTestServer."""
    return _smtp_backend_servers


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest, _smtp_backend_servers: ServerFactory) -> DevServer:
    """A running SMTPTestServer; options from ``@pytest.mark.smtp_server(...)``."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.smtp_server takes keyword options only")
    return _smtp_backend_servers(**(marker.kwargs if marker is not None else {}))


class Outbox(list[CapturedMessage]):
    """The messages every Mailer captured during the test, in the order they were sent."""


@pytest.fixture
def smtp_outbox() -> Iterator[Outbox]:
    """Every Mailer and AsyncMailer of the process captures instead of sending during the
    test: ``send``, and ``open`` (which then connects nowhere), so nothing reaches the
    network. Django's backend sees the capture too and fills ``django.core.mail.outbox``
    with the same messages (one capture, two views)."""
    with Mailer.capture_every_mailer(Outbox()) as outbox:
        assert isinstance(outbox, Outbox)
        yield outbox
