"""The example apps under test, each aimed at the in-process recording server.

Django starts from the same base settings as tests/django (whichever folder runs first
sets them up); ``example_site`` then applies the example site's own settings module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import django
import pytest

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
if importlib.util.find_spec("django_smtp_backend") is None:
    sys.path.insert(0, str(INTEGRATIONS))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")
django.setup()

from django.test import override_settings  # noqa: E402
from flask import Flask  # noqa: E402

from django_smtp_backend import close_shared_mailers  # noqa: E402
from example_project.django_site import settings as site_settings  # noqa: E402
from example_project.flask_app import create_app  # noqa: E402
from tests.servers import RecordingSMTPServer  # noqa: E402


@pytest.fixture
def subscribers_file(tmp_path: Path) -> Callable[[list[str]], Path]:
    """``subscribers_file(addresses)``: a subscribers JSON file, each named after its address."""

    def write(addresses: list[str]) -> Path:
        path = tmp_path / "subscribers.json"
        entries = [{"name": address.partition("@")[0], "email": address} for address in addresses]
        path.write_text(json.dumps(entries), encoding="utf-8")
        return path

    return write


@pytest.fixture
def example_site(smtp_server: RecordingSMTPServer) -> Iterator[None]:
    """The example site's settings, its mail block aimed at ``smtp_server``."""
    values = {
        name: getattr(site_settings, name)
        for name in dir(site_settings)
        if name.isupper() and name != "DATABASES"  # no database either way
    }
    values["ALLOWED_HOSTS"] = [*site_settings.ALLOWED_HOSTS, "testserver"]  # the test client's
    values.update(EMAIL_HOST=smtp_server.host, EMAIL_PORT=smtp_server.port)
    with override_settings(**values):
        yield
    close_shared_mailers()


@pytest.fixture
def example_app(smtp_server: RecordingSMTPServer) -> Iterator[Flask]:
    """The example Flask app, its mail block aimed at ``smtp_server``."""
    app = create_app({"MAIL_SERVER": smtp_server.host, "MAIL_PORT": smtp_server.port})
    yield app
    app.extensions["mail"].close()
