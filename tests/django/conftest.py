"""Django for the tests in this folder: settings from tests/django/settings.py.

Set before django.setup() so pytest-django sees configured settings whether this folder
runs alone or with the whole suite. The backend package is found in integrations/ when
the project is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
import trustme

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
if importlib.util.find_spec("django_smtp_backend") is None:
    sys.path.insert(0, str(INTEGRATIONS))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")
django.setup()

from django_smtp_backend import close_shared_mailers  # noqa: E402
from tests.servers import RecordingSMTPServer  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_shared_mailers() -> Iterator[None]:
    """Each test starts without pooled connections, so connection counts are its own."""
    yield
    close_shared_mailers()


@pytest.fixture
def ca_file(tmp_path: Path, tls_ca: trustme.CA) -> str:
    """The test CA's certificate as a PEM file, for the ``ssl_cafile`` option."""
    path = tmp_path / "test-ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def classic_settings(settings: Any, smtp_server: RecordingSMTPServer) -> Any:
    """EMAIL_BACKEND and EMAIL_HOST/EMAIL_PORT pointing at ``smtp_server``, the classic way."""
    settings.EMAIL_BACKEND = "django_smtp_backend.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    return settings
