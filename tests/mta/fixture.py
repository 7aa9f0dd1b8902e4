"""pytest fixtures over a private Postfix (tests/mta/postfix.py), started once a session.

Without Postfix installed (or without root) the tests that use them are skipped, unless
``SMTP_BACKEND_REQUIRE_MTA=1`` (CI sets it), which turns the skip into a failure.
Import the fixtures into a conftest.py: ``from tests.mta.fixture import postfix, address``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mta.postfix import PostfixInstance, ServerCertificate, unavailable_reason
from tests.servers import LoopbackPKI

REQUIRE_MTA = "SMTP_BACKEND_REQUIRE_MTA"

AddressFactory = Callable[..., str]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE_MTA) == "1":
        pytest.fail(f"{REQUIRE_MTA}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postfix(loopback_pki: LoopbackPKI) -> Iterator[PostfixInstance]:
    """A running private Postfix on 127.0.0.1 presenting ``loopback_pki``'s certificate."""
    reason = unavailable_reason()
    if reason:
        _skip_or_fail(reason)
    # Not pytest's tmp_path: its 0700 parents would keep Postfix's users out.
    root = Path(tempfile.mkdtemp(prefix="smtp-backend-postfix-"))
    leaf = loopback_pki.server_cert
    certificate = ServerCertificate(
        chain_pem=b"".join(blob.bytes() for blob in leaf.cert_chain_pems),
        key_pem=leaf.private_key_pem.bytes(),
    )
    instance = PostfixInstance(root, certificate)
    try:
        instance.start()
    except (RuntimeError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        _skip_or_fail(f"the private Postfix did not start: {exc}")
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


_serial = itertools.count(1)


@pytest.fixture
def address(request: pytest.FixtureRequest) -> AddressFactory:
    """``address(role, domain="example.test")``: a recipient address no other test uses."""
    test_name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]

    def make(role: str, domain: str = "example.test") -> str:
        return f"{role}.{test_name}.{next(_serial)}@{domain}"

    return make
