"""Fixtures for the dev server tests: servers on 127.0.0.1, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smtp_backend.devserver import DevServer

DevServerFactory = Callable[..., DevServer]


@pytest.fixture
def devserver_factory() -> Iterator[DevServerFactory]:
    """``devserver_factory(**DevServer options)`` starts a quiet server; all stop at teardown."""
    servers: list[DevServer] = []

    def start(**options: Any) -> DevServer:
        server = DevServer(**{"quiet": True, **options})
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def devserver(devserver_factory: DevServerFactory) -> DevServer:
    """Defaults: SMTP and web inbox on free loopback ports, memory only."""
    return devserver_factory()
